"""A lost database connection is a transient error, like a node that stopped answering.

PostgreSQL restarts, fails over, or an operator terminates a backend
(``pg_terminate_backend``): the statement in flight fails with ``OperationalError`` (or
``InterfaceError`` on the next use), the open transaction is rolled back by the server - a
block's rows and the cursor commit together, so nothing half-written stays - and the
connection is dead. Left as it was, that surfaced as an unnamed crash out of the sync loop and
a task failure with a traceback. Here it becomes :class:`DatabaseUnavailable`, a
:class:`TransientError`: the Celery tasks retry it with the usual backoff, ``manage.py`` prints
it as one line, and the dead connection is closed so the next use opens a new one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import InterfaceError, OperationalError, connection

from indexer.core.errors import TransientError

log = logging.getLogger(__name__)


class DatabaseUnavailable(TransientError):
    """The database connection was lost mid-run; nothing uncommitted was kept."""


def is_connection_loss(exc: BaseException) -> bool:
    """Is ``exc`` the connection going away, rather than a statement failing on a live one?

    Read from the error, not the connection: by the time it reaches us Django may already have
    dropped the dead connection and opened another (a rollback that failed, a later query).
    Lost: an ``InterfaceError`` (a closed connection used), a server-side shutdown or
    termination (SQLSTATE class 57P: admin/crash shutdown, cannot connect now), a connection
    exception (class 08), or an ``OperationalError`` with no SQLSTATE at all - the client saw
    the socket close before any server answer. Not lost: a lock or statement timeout, a
    deadlock, a constraint (the connection is fine; those keep their own meaning).
    """
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


@contextmanager
def connection_loss_is_transient() -> Iterator[None]:
    """Turn a lost connection raised inside into :class:`DatabaseUnavailable`; any other
    database error (a constraint, a bad statement on a live connection) passes unchanged."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        if not is_connection_loss(exc):
            raise
        log.warning("database connection lost", extra={"error": f"{type(exc).__name__}: {exc}"})
        if not connection.in_atomic_block:
            connection.close()  # if still the dead one: the next query reconnects
        raise DatabaseUnavailable(f"the database connection was lost: {exc}".strip()) from exc
