"""Celery tasks for the Bitcoin indexer: thin wrappers over ``indexer.bitcoin.sync``.

They take ints only, build their source from the current network, and retry only on transient
errors (``indexer.core.errors.TransientError``, with the core's task backoff); anything else
is a bug or a permanent condition and must fail loudly. ``acks_late`` is on globally and every
task is idempotent (ingestion skips stored blocks; inserts ignore conflicts), so redelivery is
safe. Vault rescans are durable work items (``indexer.core.work``), not tasks.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from celery import shared_task
from django.conf import settings

from hemiscope import networks
from indexer.bitcoin import sync
from indexer.bitcoin.connect import source_for
from indexer.core.errors import Refusal, TransientError
from indexer.core.retry import TASK_RETRY, task_countdown

log = logging.getLogger(__name__)

MAX_RETRIES = TASK_RETRY.attempts
# Leave half the soft time limit as margin: the last block's fetch and write must still fit.
_TIME_BUDGET_S = settings.CELERY_TASK_SOFT_TIME_LIMIT / 2


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
        except Refusal as exc:
            # Recorded as an alert by the sync; the next beat run checks again (see hemi tasks).
            return {"refused": exc.code, "error": str(exc)}
        except TransientError as exc:
            raise self.retry(exc=exc, countdown=task_countdown(self.request.retries)) from exc
        finally:
            source.close()
    return asdict(result)


@shared_task(name="indexer.bitcoin.tasks.backfill_range", bind=True, max_retries=MAX_RETRIES)
def backfill_range(self, start: int, end: int) -> dict:
    """Ingest heights ``start``..``end`` in chain order. Long ranges continue in a follow-up
    task once the time budget is spent; a busy sync lock postpones (never drops) the request."""
    network = networks.current()
    with sync.sync_lock() as acquired:
        if not acquired:
            # Another sync holds the lock (the follower, another backfill, or a second delivery
            # of this very message). Postpone with a fresh message on the same queue rather
            # than self.retry: retry(max_retries=None) means the default budget, not "forever",
            # so a request queued behind a long backfill used to fail after 8 waits.
            queue = (self.request.delivery_info or {}).get("routing_key")
            backfill_range.apply_async((start, end), countdown=task_countdown(0), queue=queue)
            return {"postponed": True, "start": start, "end": end}
        source = source_for(network)
        try:
            result = sync.backfill(source, start, end, time_budget_s=_TIME_BUDGET_S)
        except TransientError as exc:
            raise self.retry(exc=exc, countdown=task_countdown(self.request.retries)) from exc
        finally:
            source.close()
    if result.out_of_time and result.cursor_height is not None and result.cursor_height < end:
        backfill_range.delay(result.cursor_height + 1, end)
    return asdict(result)
