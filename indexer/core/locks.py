"""PostgreSQL advisory locks for the indexers: the writer lock of a chain, the sync-loop lock.

* :class:`WriterLock` - transaction level (``pg_advisory_xact_lock``): every transaction that
  writes a chain's rows takes it first, so two processes (the beat-scheduled follower and a
  backfill, a duplicate task delivery, a vault registration) never interleave their checks
  and inserts. It is released by commit or rollback, so it cannot leak. The wait is bounded
  (``SET LOCAL lock_timeout``): a stuck writer turns into a named transient error instead of a
  pile-up of waiting workers.
* :func:`session_lock` - session level (``pg_try_advisory_lock``): held for a whole sync loop so
  overlapping scheduled runs skip at once. A killed worker's connection closes and takes the
  lock with it (unlike a cache key).

Keys are 64-bit numbers derived from names, so every lock in the project is named in code.

Session locks (and the prepared statements of ``indexer/hemi/bulk.py``) need a connection that
is one PostgreSQL session from start to end. Behind a transaction-mode pooler (PgBouncer) it is
not: a lock taken in one statement stays on a server connection the pooler then hands to other
clients (who "hold" it too: ``pg_try_advisory_lock`` is re-entrant per session), and the unlock
may run on another server connection and do nothing; prepared statement names collide or go
missing. :func:`require_direct_connection` refuses such a connection: a pooler answers the
client's start-up with its own backend key, so the process id the client was given differs from
the server's ``pg_backend_pid()`` - on a direct connection they are always the same.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import OperationalError, connection

from indexer.core.errors import TransientError

DEFAULT_LOCK_TIMEOUT_MS = 30_000
# PostgreSQL's SQLSTATE for "lock_timeout expired".
_LOCK_NOT_AVAILABLE = "55P03"


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(f"hemiscope:{name}".encode()).digest()[:8], "big", signed=True)


class LockOutsideTransaction(RuntimeError):
    """A transaction-level lock taken outside ``transaction.atomic()`` would be released at once."""


class PooledConnection(RuntimeError):
    """A writer's database connection goes through a connection pooler (see the module docstring).

    Not transient: retrying cannot help; the process must be given the server's own address."""


_DIRECT: weakref.WeakSet = weakref.WeakSet()  # psycopg connections found to be direct


def _refuse(client_pid: int, server_pid: int, purpose: str) -> None:
    if client_pid != server_pid:
        raise PooledConnection(
            f"{purpose} needs a direct connection to PostgreSQL, but this one goes through a connection "
            f"pooler (the server's process id {server_pid} is not the {client_pid} the connection was given): "
            "session advisory locks and prepared statements do not survive transaction pooling. Give the "
            "indexer writers and the Celery workers the server's own DATABASE_URL (README: Scaling past one "
            "machine)."
        )


def require_direct_connection(purpose: str) -> None:
    """Raise :class:`PooledConnection` unless Django's connection is one PostgreSQL session.

    One query per new connection (the answer is remembered for the connection's life)."""
    connection.ensure_connection()
    raw = connection.connection
    if raw in _DIRECT:
        return
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        server_pid = cur.fetchone()[0]
    _refuse(raw.info.backend_pid, server_pid, purpose)
    _DIRECT.add(raw)


class WriterBusy(TransientError):
    """Another writer held the chain's writer lock for longer than ``lock_timeout``."""


class WriterLock:
    """The advisory lock every writer of one chain's rows takes inside its transaction."""

    def __init__(self, name: str, timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS) -> None:
        self.name = name
        self.key = lock_key(name)
        self.timeout_ms = int(timeout_ms)

    def acquire(self) -> None:
        """Take the lock until the current transaction ends; raise WriterBusy after the timeout."""
        if not connection.in_atomic_block:
            raise LockOutsideTransaction(f"the {self.name} lock must be taken inside transaction.atomic()")
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT set_config('lock_timeout', %s, true)", [str(self.timeout_ms)])
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [self.key])
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                raise WriterBusy(f"the {self.name} lock stayed taken for {self.timeout_ms} ms") from exc
            raise

    def queue(self, cur: Any) -> None:
        """Queue the same two statements on a psycopg cursor inside a pipeline (one round trip
        with the reads that follow; the pipeline keeps the order, so the lock is held first)."""
        cur.execute(
            "SELECT set_config('lock_timeout', %s, true), pg_advisory_xact_lock(%s)", [str(self.timeout_ms), self.key]
        )


@contextmanager
def session_lock(name: str) -> Iterator[bool]:
    """Yield True while holding the session lock ``name``, or False at once if another process
    has it (the caller then skips its run)."""
    key = lock_key(name)
    connection.ensure_connection()
    client_pid = connection.connection.info.backend_pid
    with connection.cursor() as cur:
        # Taken only if this is the client's own session: through a pooler nothing is taken (and
        # so nothing is left behind on a server connection other clients will be given).
        cur.execute(
            "SELECT CASE WHEN pg_backend_pid() = %s THEN pg_try_advisory_lock(%s) END, pg_backend_pid()",
            [client_pid, key],
        )
        taken, server_pid = cur.fetchone()
    _refuse(client_pid, server_pid, f"the {name} lock")
    acquired = bool(taken)
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [key])
