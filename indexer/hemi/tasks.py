"""Celery tasks for the Hemi indexer: thin wrappers that take ids and call ``sync``/``*_ingest``.

Each task is safe to run twice (duplicate delivery with ``acks_late``): ingest is idempotent
and metadata/custody reads overwrite with the same values. Only transient RPC errors
(timeouts, connection errors, 5xx/429, rate limits) are retried; anything else fails loudly.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from indexer.hemi import sync, tokens_ingest, vaults_ingest
from indexer.hemi.rpc import HemiRpc, TransientRpcError
from indexer.hemi.sqlutil import HEMI_FOLLOW_LOCK, release_session_lock, try_session_lock

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
# Each scheduled run stops after this many blocks so it finishes well inside the task time
# limit; the next beat tick continues.
FOLLOW_MAX_BLOCKS_DEFAULT_BATCHES = 10
METADATA_SWEEP_KEY = "hemi:metadata-sweep"
METADATA_SWEEP_SECONDS = 300


def _countdown(retries: int) -> int:
    return min(60, 2 ** (retries + 1))


def _client() -> HemiRpc | None:
    from hemiscope import networks

    network = networks.current()
    if not network.hemi_rpc_url:
        return None
    return HemiRpc.from_network(network)


@contextlib.contextmanager
def _task_client(task: Any) -> Iterator[HemiRpc]:
    """The configured network's client for one run of ``task``; a transient RPC error inside
    becomes a Celery retry with backoff, and the client is closed either way."""
    rpc = _client()
    if rpc is None:
        raise RuntimeError("no Hemi RPC URL configured (set HEMI_RPC_URL)")
    try:
        yield rpc
    except TransientRpcError as exc:
        raise task.retry(exc=exc, countdown=_countdown(task.request.retries)) from exc
    finally:
        rpc.close()


@shared_task(name="indexer.hemi.tasks.follow_tip", bind=True, max_retries=MAX_RETRIES)
def follow_tip(self: Any, max_blocks: int | None = None) -> dict:
    """Index new Hemi blocks. Overlapping runs (beat fires every few seconds) skip at once."""
    rpc = _client()
    if rpc is None:
        logger.debug("hemi follow_tip skipped: no RPC URL configured")
        return {"skipped": "no hemi rpc configured"}
    # Session-level advisory lock: released on unlock or when the worker's connection dies,
    # so a killed worker cannot leave the follower locked forever (unlike a cache key).
    if not try_session_lock(HEMI_FOLLOW_LOCK):
        return {"skipped": "another follow_tip run holds the lock"}
    try:
        limit = max_blocks or settings.HEMI_BATCH_SIZE * FOLLOW_MAX_BLOCKS_DEFAULT_BATCHES
        state = sync.follow_tip(rpc, limit)
        _sweep_missing_metadata()
        return {"height": state.current, "blocks": state.blocks, "txs": state.txs, "reorgs": state.reorgs}
    except TransientRpcError as exc:
        raise self.retry(exc=exc, countdown=_countdown(self.request.retries)) from exc
    finally:
        release_session_lock(HEMI_FOLLOW_LOCK)
        rpc.close()


def _sweep_missing_metadata() -> None:
    """Re-enqueue metadata reads lost to a broker outage, at most once per sweep period."""
    if not cache.add(METADATA_SWEEP_KEY, 1, timeout=METADATA_SWEEP_SECONDS):
        return
    for token_id in tokens_ingest.tokens_without_metadata():
        read_token_metadata.delay(token_id)


@shared_task(name="indexer.hemi.tasks.backfill_range", bind=True, max_retries=MAX_RETRIES)
def backfill_range(self: Any, start: int, end: int) -> dict:
    with _task_client(self) as rpc:
        state = sync.backfill(rpc, start, end)
    return {"height": state.current, "blocks": state.blocks, "txs": state.txs, "reorgs": state.reorgs}


@shared_task(name="indexer.hemi.tasks.read_token_metadata", bind=True, max_retries=MAX_RETRIES)
def read_token_metadata(self: Any, token_id: int) -> dict:
    with _task_client(self) as rpc:
        token = tokens_ingest.read_token_metadata(token_id, rpc)
    if token is None:
        return {"token_id": token_id, "missing": True}
    return {"token_id": token_id, "read_at_block": token.metadata_read_at_block}


@shared_task(name="indexer.hemi.tasks.read_vault", bind=True, max_retries=MAX_RETRIES)
def read_vault(self: Any, vault_index: int) -> dict:
    with _task_client(self) as rpc:
        vault = vaults_ingest.read_vault(vault_index, rpc)
    return {"vault_index": vault_index, "custody_address": vault.custody_address}
