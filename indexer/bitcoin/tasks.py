"""Celery tasks for the Bitcoin indexer: thin wrappers over ``indexer.bitcoin.sync``.

They take ints only, build their source from the current network, and retry only on
``TransientSourceError`` (with exponential backoff and jitter); anything else is a bug or a
permanent condition and must fail loudly. ``acks_late`` is on globally and every task is
idempotent (ingestion skips stored blocks; inserts ignore conflicts), so redelivery is safe.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict

from celery import shared_task
from django.conf import settings

from hemiscope import networks
from indexer.bitcoin import sync
from indexer.bitcoin.source import TransientSourceError, source_for

log = logging.getLogger(__name__)

MAX_RETRIES = 8
# Leave half the soft time limit as margin: the last block's fetch and write must still fit.
_TIME_BUDGET_S = settings.CELERY_TASK_SOFT_TIME_LIMIT / 2


def _backoff(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: 2, 4, 8 ... capped at 5 minutes, jittered."""
    base = min(300.0, 2.0 ** (retries + 1))
    return base / 2 + random.uniform(0, base / 2)


@shared_task(name="indexer.bitcoin.tasks.follow_tip", bind=True, max_retries=MAX_RETRIES)
def follow_tip(self, max_blocks: int | None = None) -> dict:
    """Ingest new blocks up to the tip (beat runs it every FOLLOW_INTERVAL_SECONDS). An
    overlapping run finds the sync lock taken and returns at once with ``skipped``."""
    network = networks.current()
    with sync.sync_lock() as acquired:
        if not acquired:
            return {"skipped": True}
        source = source_for(network)
        try:
            result = sync.follow_tip(source, max_blocks=max_blocks, time_budget_s=_TIME_BUDGET_S)
        except TransientSourceError as exc:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
        finally:
            source.close()
    return asdict(result)


@shared_task(name="indexer.bitcoin.tasks.backfill_range", bind=True, max_retries=MAX_RETRIES)
def backfill_range(self, start: int, end: int) -> dict:
    """Ingest heights ``start``..``end`` in chain order. Long ranges continue in a follow-up
    task once the time budget is spent; a busy sync lock postpones (not drops) the request."""
    network = networks.current()
    with sync.sync_lock() as acquired:
        if not acquired:
            raise self.retry(countdown=_backoff(0), max_retries=None)
        source = source_for(network)
        try:
            result = sync.backfill(source, start, end, time_budget_s=_TIME_BUDGET_S)
        except TransientSourceError as exc:
            raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
        finally:
            source.close()
    if result.out_of_time and result.cursor_height is not None and result.cursor_height < end:
        backfill_range.delay(result.cursor_height + 1, end)
    return asdict(result)


@shared_task(name="indexer.bitcoin.tasks.rescan_vault", bind=True, max_retries=MAX_RETRIES)
def rescan_vault(self, vault_id: int, from_height: int) -> int | None:
    """Re-run tunnel detection for a newly registered vault over blocks scanned before it was
    known, one bounded chunk per task; returns the next height (already re-enqueued) or None."""
    source = source_for(networks.current())
    try:
        next_height = sync.rescan_vault(source, vault_id, from_height)
    except TransientSourceError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    finally:
        source.close()
    if next_height is not None:
        rescan_vault.delay(vault_id, next_height)
    return next_height
