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
"""

from __future__ import annotations

import hashlib
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
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cur.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [key])
