"""Visible alerts: an indexer that refuses to go on says so where an operator looks.

A :class:`~indexer.core.errors.Refusal` (another chain, a reorg deeper than allowed, less
work, a block that does not verify in strict mode) stops a sync run before it writes anything.
A log line alone is easy to miss while the explorer quietly shows stale data, so the refusal is
also recorded as an :class:`~indexer.models.IndexerAlert` row: ``/healthz`` reports it as a
warning and the home page shows it. Each later run checks again; the first follow run that
passes clears the chain's alerts (the node came back, or the operator changed a setting).

:func:`watch` does both around a sync run. Recording happens in its own transaction (sync runs
are not inside one), so the alert survives the refusal that raised it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.utils import timezone

from indexer.core.errors import Refusal
from indexer.models import IndexerAlert

log = logging.getLogger(__name__)

_T = IndexerAlert._meta.db_table
_RECORD_SQL = (
    f"INSERT INTO {_T} (chain, code, message, raised_at, last_seen_at, seen)"  # noqa: S608 - constant table name
    " VALUES (%s, %s, %s, now(), now(), 1)"
    " ON CONFLICT (chain, code) WHERE cleared_at IS NULL"
    f" DO UPDATE SET message = EXCLUDED.message, last_seen_at = now(), seen = {_T}.seen + 1"
)


def record(chain: str, code: str, message: str) -> None:
    """Raise (or refresh) the active alert ``(chain, code)``."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_RECORD_SQL, [chain, code, message[:4000]])


def clear(chain: str) -> int:
    """Clear the chain's active alerts (a run passed); returns how many were active."""
    cleared = IndexerAlert.objects.filter(chain=chain, cleared_at__isnull=True).update(cleared_at=timezone.now())
    if cleared:
        log.info("indexer alerts cleared", extra={"chain": chain, "alerts": cleared})
    return cleared


def active(chain: str | None = None) -> list[IndexerAlert]:
    qs = IndexerAlert.objects.filter(cleared_at__isnull=True).order_by("raised_at", "id")
    return list(qs if chain is None else qs.filter(chain=chain))


@contextmanager
def watch(chain: str, *, clear_on_success: bool = True) -> Iterator[None]:
    """Record a refusal raised inside as the chain's alert (and re-raise it); clear the chain's
    alerts when the block passes. One-off backfills pass ``clear_on_success=False``: a range
    that indexes fine says nothing about what the follower refused at the tip."""
    try:
        yield
    except Refusal as exc:
        record(chain, exc.code, str(exc))
        log.error("indexer refused to go on", extra={"chain": chain, "code": exc.code, "error": str(exc)})
        raise
    if clear_on_success:
        clear(chain)
