"""The Celery task that drains durable work: run by beat every FOLLOW_INTERVAL_SECONDS and
nudged after commits that record work. A lost nudge costs at most one beat interval."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from indexer.core.locks import session_lock
from indexer.crosschain import handlers

SWEEP_KEY = "crosschain:work-sweep"
SWEEP_SECONDS = 300
# Overlapping drains are harmless (claims are compare-and-set) but pointless: skip instead.
DRAIN_LOCK = "crosschain:drain"


@shared_task(name="indexer.crosschain.tasks.drain_work")
def drain_work() -> dict:
    with session_lock(DRAIN_LOCK) as acquired:
        if not acquired:
            return {"skipped": "another drain is running"}
        if cache.add(SWEEP_KEY, 1, timeout=SWEEP_SECONDS):
            handlers.sweep()
        with handlers.Context() as ctx:
            # Half the soft time limit: the last item still fits; the rest waits for the next run.
            result = handlers.drain(ctx, seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT / 2)
    return vars(result)
