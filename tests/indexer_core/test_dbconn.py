"""Which database errors are a lost connection (retried as DatabaseUnavailable) and which keep
their own meaning. The real loss - pg_terminate_backend inside a block, batch and reorg
transaction - is exercised on PostgreSQL by tests/faults/."""

from __future__ import annotations

import psycopg.errors
import pytest
from django.db import IntegrityError, InterfaceError, OperationalError

from indexer.core.dbconn import DatabaseUnavailable, connection_loss_is_transient, is_connection_loss
from indexer.core.errors import TransientError


def django_error(kind, cause: Exception | None):
    """As Django raises them: its own class, the driver's error as the cause."""
    try:
        try:
            if cause is not None:
                raise cause
            raise kind("no server answer")
        except Exception as exc:
            raise kind(str(exc)) from (exc if cause is not None else None)
    except kind as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "cause",
    [
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CrashShutdown("crash"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.ConnectionFailure("connection failure"),
        None,  # the socket closed before any server answer: no SQLSTATE at all
    ],
    ids=lambda c: type(c).__name__ if c is not None else "no-sqlstate",
)
def test_a_lost_connection_becomes_a_transient_database_unavailable(cause) -> None:
    exc = django_error(OperationalError, cause)
    assert is_connection_loss(exc)
    with pytest.raises(DatabaseUnavailable, match="the database connection was lost") as caught:
        with connection_loss_is_transient():
            raise exc
    assert isinstance(caught.value, TransientError) and caught.value.__cause__ is exc


def test_using_a_closed_connection_is_a_loss_too() -> None:
    with pytest.raises(DatabaseUnavailable):
        with connection_loss_is_transient():
            raise InterfaceError("connection already closed")


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        (OperationalError, psycopg.errors.LockNotAvailable("lock timeout")),  # WriterBusy's business
        (OperationalError, psycopg.errors.QueryCanceled("statement timeout")),  # class 57, not 57P
        (OperationalError, psycopg.errors.DeadlockDetected("deadlock")),
        (IntegrityError, psycopg.errors.UniqueViolation("duplicate key")),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else type(v).__name__,
)
def test_other_database_errors_pass_unchanged(kind, cause) -> None:
    exc = django_error(kind, cause)
    assert not is_connection_loss(exc)
    with pytest.raises(kind) as caught:
        with connection_loss_is_transient():
            raise exc
    assert caught.value is exc
