"""Celery tasks for the Hemi indexer: thin wrappers that take ids and call ``sync``.

Each task is safe to run twice (duplicate delivery with ``acks_late``): ingest is idempotent.
Only transient errors (timeouts, connection errors, 5xx/429, rate limits, a busy writer lock)
are retried; anything else fails loudly. Token metadata and vault custody reads are durable
work items recorded by the ingest; these tasks only nudge the drain after each commit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from celery import shared_task
from django.conf import settings

from indexer.core import work
from indexer.core.errors import Refusal, TransientError
from indexer.core.locks import session_lock
from indexer.core.retry import TASK_RETRY, task_countdown
from indexer.hemi import sync
from indexer.hemi.chain import FOLLOW_LOCK
from indexer.hemi.rpc import HemiRpc

logger = logging.getLogger(__name__)

MAX_RETRIES = TASK_RETRY.attempts
# Each scheduled run stops after this many blocks so it finishes well inside the task time
# limit; the next beat tick continues.
FOLLOW_MAX_BLOCKS_DEFAULT_BATCHES = 10


def _nudge(_results: list) -> None:
    work.nudge()


def _client() -> HemiRpc | None:
    from hemiscope import networks

    network = networks.current()
    if not network.hemi_rpc_url:
        return None
    return HemiRpc.from_network(network)


@contextlib.contextmanager
def _task_client(task: Any) -> Iterator[HemiRpc]:
    """The configured network's client for one run of ``task``; a transient error inside
    becomes a Celery retry with backoff, and the client is closed either way."""
    rpc = _client()
    if rpc is None:
        raise RuntimeError("no Hemi RPC URL configured (set HEMI_RPC_URL)")
    try:
        yield rpc
    except TransientError as exc:
        raise task.retry(exc=exc, countdown=task_countdown(task.request.retries)) from exc
    finally:
        rpc.close()


@shared_task(name="indexer.hemi.tasks.follow_tip", bind=True, max_retries=MAX_RETRIES)
def follow_tip(self: Any, max_blocks: int | None = None) -> dict:
    """Index new Hemi blocks. Overlapping runs (beat fires every few seconds) skip at once."""
    from hemiscope import networks

    if not networks.current().hemi_rpc_url:
        logger.debug("hemi follow_tip skipped: no RPC URL configured")
        return {"skipped": "no hemi rpc configured"}
    # Session-level advisory lock: released on unlock or when the worker's connection dies,
    # so a killed worker cannot leave the follower locked forever (unlike a cache key).
    with session_lock(FOLLOW_LOCK) as acquired:
        if not acquired:
            return {"skipped": "another follow_tip run holds the lock"}
        with _task_client(self) as rpc:
            limit = max_blocks or settings.HEMI_BATCH_SIZE * FOLLOW_MAX_BLOCKS_DEFAULT_BATCHES
            try:
                state = sync.follow_tip(rpc, limit, after_commit=_nudge)
            except Refusal as exc:
                # Recorded as an alert by the sync; the next beat run checks again. Not a
                # task failure: retrying cannot help, and an error per tick helps nobody.
                return {"refused": exc.code, "error": str(exc)}
    return {"height": state.current, "blocks": state.blocks, "txs": state.txs, "reorgs": state.reorgs}


@shared_task(name="indexer.hemi.tasks.backfill_range", bind=True, max_retries=MAX_RETRIES)
def backfill_range(self: Any, start: int, end: int) -> dict:
    with _task_client(self) as rpc:
        state = sync.backfill(rpc, start, end, after_commit=_nudge)
    return {"height": state.current, "blocks": state.blocks, "txs": state.txs, "reorgs": state.reorgs}
