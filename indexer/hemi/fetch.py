"""Fetch and verify Hemi blocks ahead of the writer, in worker threads or processes.

Pure with respect to the database (no Django import): workers fetch blocks + receipts over
JSON-RPC, run ``verify.prepare_block`` and ``layout.lay_out``; the writer (``sync``) receives
them in chain order.

* Threads: the node answers and PostgreSQL commits while no Python runs, so verification in
  a worker overlaps the writer's waits, and several small batches in flight keep the node busy
  (measured on anvil: 3 threads x 10-20 blocks fetched about twice as fast as 1 x 100).
* Processes, for long backfills: verification (re-encoding and hashing every transaction and
  receipt, rebuilding both tries) is CPU work that the GIL would otherwise serialise with the
  writer. Worker start-up (~0.5 s) is paid once per backfill, so short follow-tip runs use threads.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from indexer import gctuning
from indexer.core.errors import TransientError
from indexer.hemi.layout import BlockLayout, lay_out
from indexer.hemi.rpc import HemiRpc
from indexer.hemi.verify import BlockRejected, prepare_block
from indexer.keystone import KEYSTONE_PERIOD, is_keystone_number

logger = logging.getLogger(__name__)

FETCH_WORKERS = 3
FETCH_CHUNK = 20


def process_workers() -> int:
    """Worker processes for a long backfill: FETCH_WORKERS, but no more than the CPUs we may use.

    A worker process is mostly CPU (decoding, re-encoding, hashing); past one per CPU they
    only compete with the writer and the database. Measured on 2 CPUs against anvil: 2 workers
    ingested ~10% faster than 3, which also made the node itself spend more CPU per block.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(FETCH_WORKERS, cpus))


# Ranges at least this long are verified in worker processes (see module docstring).
PROCESS_MIN_BLOCKS = 200
# A block fetched just as the node reorgs can come back with receipts of the other branch.
FETCH_ATTEMPTS = 3


@dataclass(frozen=True)
class Fetched:
    block: dict
    receipts: list[dict]
    prev_keystone_hash: bytes | None


def fetch_blocks(rpc: HemiRpc, numbers: list[int]) -> list[Fetched]:
    """Blocks (full transactions) and receipts for ``numbers``, in one batched round trip.

    Also fetches, for a keystone block whose previous keystone lies below this batch, that
    block's hash (the writer prefers the stored canonical one when it has it).
    """
    for attempt in range(FETCH_ATTEMPTS):
        blocks, receipts = rpc.blocks_with_receipts(numbers)
        if all(all(r.get("blockHash") == b["hash"] for r in rs) for b, rs in zip(blocks, receipts, strict=True)):
            break
        logger.info("hemi node changed blocks between fetches; refetching", extra={"attempt": attempt + 1})
    else:
        raise TransientError("node kept reorging while blocks and receipts were fetched")
    below = sorted({n - KEYSTONE_PERIOD for n in numbers if is_keystone_number(n) and n - KEYSTONE_PERIOD > 0}
                   - set(numbers))  # fmt: skip
    prev_hashes: dict[int, bytes] = {}
    if below:
        for n, b in zip(below, rpc.blocks_by_number(below, full_tx=False), strict=True):
            prev_hashes[n] = bytes.fromhex(b["hash"][2:])
    return [
        Fetched(b, rs, prev_hashes.get(n - KEYSTONE_PERIOD))
        for n, b, rs in zip(numbers, blocks, receipts, strict=True)
    ]


@dataclass(frozen=True)
class Ready:
    """A block fetched, verified and laid out off the writer's thread (or why it was refused)."""

    layout: BlockLayout | None
    prev_keystone_hash: bytes | None
    rejected: BlockRejected | None = None


def fetch_ready(rpc: HemiRpc, numbers: list[int], accept_impersonated: bool, strict: bool = True) -> list[Ready]:
    """Fetch, verify and lay out ``numbers``; stops after the first refused block (nothing
    after it is written). ``strict``: HEMI_VERIFY_STRICT (see ``verify.prepare_block``)."""
    out = []
    for item in fetch_blocks(rpc, numbers):
        try:
            prepared = prepare_block(
                item.block, item.receipts, accept_impersonated=accept_impersonated, strict=strict
            )
        except BlockRejected as exc:
            out.append(Ready(None, None, exc))
            break
        out.append(Ready(lay_out(prepared), item.prev_keystone_hash))
    return out


_process_client: HemiRpc | None = None


def _fetch_ready_in_process(
    url: str, per_minute: int, numbers: list[int], accept_impersonated: bool, strict: bool
) -> list[Ready]:
    global _process_client
    if _process_client is None:
        _process_client = HemiRpc(url, requests_per_minute=per_minute)
    return fetch_ready(_process_client, numbers, accept_impersonated, strict)


class Fetcher:
    """Verified chunks of blocks, handed back in chain order, up to 2 x workers in flight."""

    def __init__(
        self, rpc: HemiRpc, workers: int, accept_impersonated: bool, *, processes: bool = False, strict: bool = True
    ) -> None:
        self.rpc = rpc
        self.workers = workers
        self.accept_impersonated = accept_impersonated
        self.strict = strict
        self.processes = processes
        self._local = threading.local()
        self._clients: list[HemiRpc] = []
        self._lock = threading.Lock()

    def _thread_fetch(self, numbers: list[int]) -> list[Ready]:
        client = getattr(self._local, "rpc", None)
        if client is None:
            client = self._local.rpc = self.rpc.clone()
            with self._lock:
                self._clients.append(client)
        return fetch_ready(client, numbers, self.accept_impersonated, self.strict)

    def _executor(self) -> tuple[Executor, object]:
        if self.processes:
            # forkserver: children start from a clean process, not a fork of one holding
            # database connections and threads. Each gets its share of the rate limit.
            per_minute = self.rpc.limiter.per_minute // self.workers if self.rpc.limiter.per_minute else 0
            # The server imports this module once and every worker forks from it with the
            # imports done (~0.2 s of CPU saved per worker; it only matters on a first start).
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=gctuning.use_ingest_thresholds)

            def submit(numbers: list[int]) -> Future:
                return pool.submit(
                    _fetch_ready_in_process, self.rpc.url, per_minute, numbers, self.accept_impersonated, self.strict
                )

            return pool, submit
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="hemi-fetch")
        return pool, lambda numbers: pool.submit(self._thread_fetch, numbers)

    def batches(self, start: int, end: int, chunk: int) -> Iterator[list[Ready]]:
        ranges = [list(range(a, min(a + chunk, end + 1))) for a in range(start, end + 1, chunk)]
        depth = 2 * self.workers
        pool, submit = self._executor()
        try:
            with pool:
                pending: deque[Future] = deque(submit(r) for r in ranges[:depth])  # type: ignore[operator]
                queued = len(pending)
                try:
                    while pending:
                        batch = pending.popleft().result()
                        if queued < len(ranges):
                            pending.append(submit(ranges[queued]))  # type: ignore[operator]
                            queued += 1
                        yield batch
                finally:
                    for future in pending:
                        future.cancel()
                # Leaving the with-block waits for in-flight fetches, so the caller may use rpc again.
        finally:
            for client in self._clients:
                client.close()
            self._clients.clear()
