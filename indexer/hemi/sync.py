"""Drive the Hemi indexer: fetch blocks + receipts in batches, ingest one batch per transaction.

* :func:`follow_tip` - from the cursor (or the network's start block) up to the node's tip;
  checks first that the cursor's block is still the node's, so a reorg to a *shorter* chain
  is noticed even when there is nothing new to fetch.
* :func:`backfill` - a fixed range, for ``manage.py hemi_sync`` and the ``backfill_range`` task.

Fetching, verifying and laying out run ahead in worker threads (processes for long ranges,
see ``fetch.py``), so the node and the workers work on later batches while PostgreSQL stores
batch i. A batch of new blocks on top of the stored chain is one transaction
(``ingest.write_run``); anything else goes block by block. The DB is only touched from the
calling thread. Follow-up work (token metadata, vault custody) is recorded by the ingest as
durable work items; ``after_commit`` is told about each committed batch (the caller decides:
nudge a worker, drain inline, or nothing - ``indexer.crosschain`` does the work).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from indexer import gctuning
from indexer.core import alerts
from indexer.core import cursor as chain_cursor
from indexer.core.dbconn import connection_loss_is_transient
from indexer.hemi import identity, ingest, reorg
from indexer.hemi.chain import CHAIN
from indexer.hemi.fetch import FETCH_CHUNK, FETCH_WORKERS, PROCESS_MIN_BLOCKS, Fetcher, Ready, process_workers
from indexer.hemi.models import Block
from indexer.hemi.rpc import HemiRpc

logger = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 5.0



@dataclass
class SyncProgress:
    start: int
    target: int
    current: int
    blocks: int = 0
    txs: int = 0
    reorgs: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started_at, 1e-9)

    @property
    def blocks_per_s(self) -> float:
        return self.blocks / self.elapsed

    @property
    def txs_per_s(self) -> float:
        return self.txs / self.elapsed

    @property
    def eta_s(self) -> float | None:
        rate = self.blocks_per_s
        return (self.target - self.current) / rate if rate > 0 else None

    def as_log(self) -> dict[str, Any]:
        eta = self.eta_s
        return {
            "height": self.current,
            "target": self.target,
            "blocks": self.blocks,
            "txs": self.txs,
            "reorgs": self.reorgs,
            "blocks_per_s": round(self.blocks_per_s, 2),
            "txs_per_s": round(self.txs_per_s, 1),
            "eta_s": None if eta is None else round(eta, 1),
        }


ProgressCallback = Callable[[SyncProgress], None]


def _run(
    rpc: HemiRpc,
    start: int,
    end: int,
    *,
    progress: ProgressCallback | None,
    after_commit: ingest.AfterCommit | None,
    config: ingest.IngestConfig | None,
    batch_size: int | None,
    network: Any,
) -> SyncProgress:
    """Ingest [start, end]; on a reorg, undo to the fork point and continue from there.

    1. Fetch batches (ahead of the writer) and ingest each as one run (one transaction), or
       block by block when it is not simply new blocks on top of the stored chain.
    2. ``ReorgDetected`` from the writer: stop prefetching, walk back to the fork point over
       RPC, orphan the stored branch above it (one transaction), resume at fork + 1.
    """
    if network is None:
        from hemiscope import networks

        network = networks.current()
    config = config or ingest.IngestConfig.from_network(network)
    batch_size = batch_size or settings.HEMI_BATCH_SIZE
    state = SyncProgress(start=start, target=end, current=start - 1)
    writer = _Writer(state, config, after_commit, progress)
    # Daemonic processes (Celery prefork children) may not start child processes.
    processes = end - start + 1 >= PROCESS_MIN_BLOCKS and not multiprocessing.current_process().daemon
    workers = process_workers() if processes else FETCH_WORKERS
    fetcher = Fetcher(rpc, workers, config.accept_impersonated, processes=processes, strict=config.verify_strict)
    chunk = max(1, min(batch_size, FETCH_CHUNK))
    next_number = start
    while next_number <= end:
        # closing(): on a reorg the generator is closed at once, which waits for the in-flight
        # fetches, so handle_reorg below has the RPC client to itself.
        with contextlib.closing(fetcher.batches(next_number, end, chunk)) as batches, gctuning.ingest_thresholds():
            suspect = writer.ingest_all(batches)
        if suspect is None:
            break
        report = reorg.handle_reorg(rpc, suspect, network=network)
        state.reorgs += 1
        next_number = report.fork.number + 1
        state.current = report.fork.number
    logger.info("hemi sync done", extra=state.as_log())
    return state


class _Writer:
    def __init__(
        self,
        state: SyncProgress,
        config: ingest.IngestConfig,
        after_commit: ingest.AfterCommit | None,
        progress: ProgressCallback | None,
    ) -> None:
        self.state = state
        self.config = config
        self.after_commit = after_commit
        self.progress = progress
        self.last_log = time.monotonic()

    def ingest_all(self, batches: Iterator[list[Ready]]) -> int | None:
        """Ingest every block; return the block number that revealed a reorg, else None.

        Each fetched batch is first tried as one run (``ingest.write_run``: one transaction);
        a batch that is not simply new blocks on top of the stored chain goes block by block,
        where ``write_layout`` tells stored, reinstated and reorged blocks apart.
        """
        for batch in batches:
            rejected = next((item.rejected for item in batch if item.rejected is not None), None)
            run = [(item.layout, item.prev_keystone_hash) for item in batch if item.layout is not None]
            results = ingest.write_run(run, config=self.config, after_commit=self.after_commit)
            if results is None:
                results = []
                for rows, prev_keystone_hash in run:
                    try:
                        results.append(ingest.write_layout(
                            rows, prev_keystone_hash=prev_keystone_hash, config=self.config,
                            after_commit=self.after_commit,
                        ))  # fmt: skip
                    except ingest.ReorgDetected as exc:
                        self._count(results)
                        return exc.number
            self._count(results)
            if rejected is not None:
                # fetch_ready stops at the first refused block: the ones before it are stored.
                raise rejected
        return None

    def _count(self, results: list[ingest.IngestResult]) -> None:
        state = self.state
        for result in results:
            state.current = result.number
            state.blocks += 1
            state.txs += result.tx_count
            if self.progress is not None:
                self.progress(state)
        if time.monotonic() - self.last_log >= LOG_EVERY_SECONDS:
            logger.info("hemi sync progress", extra=state.as_log())
            self.last_log = time.monotonic()


def cursor_position() -> tuple[int, bytes] | None:
    return chain_cursor.position(CHAIN)


def follow_tip(
    rpc: HemiRpc,
    max_blocks: int | None = None,
    *,
    progress: ProgressCallback | None = None,
    after_commit: ingest.AfterCommit | None = None,
    config: ingest.IngestConfig | None = None,
    network: Any = None,
    batch_size: int | None = None,
) -> SyncProgress:
    """Index from the cursor to the node's tip (at most ``max_blocks`` blocks this call).

    1. No cursor: check the node's identity (chain id, genesis; ``identity.verify``) and start
       at the network's ``tunnel_start_block``.
    2. With a cursor: check the chain id and read the node's block at the cursor height in one
       request; if it differs from the cursor's hash (or the node is now shorter), handle the
       reorg first (which verifies the node's identity before undoing anything).
    3. Ingest cursor + 1 .. tip.

    A refusal (another chain, a reorg deeper than ``HEMI_MAX_REORG_DEPTH``, a block that does
    not verify in strict mode) is recorded as an alert; a run that passes clears it.
    """
    if network is None:
        from hemiscope import networks

        network = networks.current()
    # A lost database connection is a transient error (retried by the task), not a crash.
    with connection_loss_is_transient(), alerts.watch(CHAIN):
        return _follow(rpc, max_blocks, progress, after_commit, config, network, batch_size)


def _follow(
    rpc: HemiRpc,
    max_blocks: int | None,
    progress: ProgressCallback | None,
    after_commit: ingest.AfterCommit | None,
    config: ingest.IngestConfig | None,
    network: Any,
    batch_size: int | None,
) -> SyncProgress:
    config = config or ingest.IngestConfig.from_network(network)
    tip = rpc.block_number()
    cursor = cursor_position()
    reorgs = 0
    if cursor is None:
        identity.verify(rpc, network)
        start = network.tunnel_start_block
    else:
        height, cursor_hash = cursor
        node_hash = identity.check_run(rpc, network, height)  # None when the node is now shorter
        if node_hash != cursor_hash:
            report = reorg.handle_reorg(rpc, min(height, tip), network=network)
            reorgs += 1
            start = report.fork.number + 1
        else:
            start = height + 1
    end = tip if max_blocks is None else min(tip, start + max_blocks - 1)
    if start > end:
        return SyncProgress(start=start, target=end, current=start - 1, reorgs=reorgs)
    state = _run(
        rpc,
        start,
        end,
        progress=progress,
        after_commit=after_commit,
        config=config,
        batch_size=batch_size,
        network=network,
    )
    state.reorgs += reorgs
    return state


def backfill(
    rpc: HemiRpc,
    start: int,
    end: int,
    progress: ProgressCallback | None = None,
    *,
    after_commit: ingest.AfterCommit | None = None,
    config: ingest.IngestConfig | None = None,
    network: Any = None,
    batch_size: int | None = None,
) -> SyncProgress:
    """Ingest blocks ``start``..``end`` (inclusive). Blocks already stored are no-ops.

    The node's identity is verified first: a range below the first stored block links to
    nothing stored, so only that check ties it to the indexed chain."""
    if end < start:
        raise ValueError(f"empty range {start}..{end}")
    if network is None:
        from hemiscope import networks

        network = networks.current()
    with connection_loss_is_transient(), alerts.watch(CHAIN, clear_on_success=False):
        identity.verify(rpc, network)
        return _run(
            rpc,
            start,
            end,
            progress=progress,
            after_commit=after_commit,
            config=config,
            batch_size=batch_size,
            network=network,
        )


def stored_tip() -> int | None:
    return Block.objects.canonical().order_by("-number").values_list("number", flat=True).first()
