"""The Bitcoin indexer's loops: follow the tip, backfill a range, rescan for a new vault.

The rescan is driven by a durable work item (``indexer.crosschain.handlers``), one chunk at a
time, so its progress survives a killed worker.

Network I/O (batched hash and block fetches) happens here, outside any transaction; each block
is then written by ``ingest.ingest_block`` in its own short transaction. Reorgs are detected two
ways: the stored tip is no longer the source's block at that height (checked at the start of
every run), or a fetched block does not extend the cursor (``NotOnTip``); both go through
``reorg.rewind`` and ingestion continues from the fork point.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from indexer.bitcoin import identity, ingest, prevouts, reorg
from indexer.bitcoin.chain import CHAIN, SYNC_LOCK
from indexer.bitcoin.decode import decode_block
from indexer.bitcoin.models import BitcoinBlock
from indexer.bitcoin.source import BitcoinSource
from indexer.bitcoin.vaults import rescan_block
from indexer.core import alerts
from indexer.core.dbconn import connection_loss_is_transient
from indexer.core.locks import session_lock

log = logging.getLogger(__name__)

# Raw blocks requested per round trip while syncing: large enough to amortize latency, small
# enough that a batch of full 4 MB mainnet blocks stays a few tens of MB in memory.
FETCH_CHUNK = 10
# Rescan tasks re-fetch at most this many blocks each, then re-enqueue themselves, so a single
# task stays well inside CELERY_TASK_TIME_LIMIT even over Esplora.
RESCAN_CHUNK = 200
# A source that keeps handing us blocks that do not link (after we rewound to its fork point)
# is broken; stop instead of looping.
MAX_REWINDS_PER_RUN = 3
PROGRESS_LOG_EVERY_S = 10.0

ProgressCallback = Callable[[int, int, int], None]  # (height just written, done, total)


class SyncError(RuntimeError):
    """A sync request that cannot be served as asked (e.g. a gap below the requested start)."""


@dataclass
class SyncResult:
    tip_height: int
    cursor_height: int | None
    ingested: int = 0
    unchanged: int = 0
    rewinds: int = 0
    skipped: bool = False  # another sync held the lock
    out_of_time: bool = False  # stopped by the time budget before reaching the target


@contextmanager
def sync_lock() -> Iterator[bool]:
    """Session-level lock held while a sync loop runs; yields False if another process has it
    (overlapping beat runs then just skip). See ``indexer.core.locks.session_lock``."""
    with session_lock(SYNC_LOCK) as acquired:
        yield acquired


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


class Progress:
    """Counts blocks, calls the caller's callback per block and logs rate and ETA periodically."""

    def __init__(self, total: int, callback: ProgressCallback | None, what: str):
        self.total = max(total, 0)
        self.callback = callback
        self.what = what
        self.done = 0
        self.started = time.monotonic()
        self._last_log = self.started

    def step(self, height: int, *, force_log: bool = False) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(height, self.done, self.total)
        now = time.monotonic()
        if force_log or now - self._last_log >= PROGRESS_LOG_EVERY_S:
            self._last_log = now
            self.log(height)

    def log(self, height: int | None) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        remaining = max(self.total - self.done, 0)
        log.info(
            f"bitcoin {self.what} progress",
            extra={
                "height": height,
                "done": self.done,
                "total": self.total,
                "blocks_per_s": round(rate, 2),
                "eta_s": round(remaining / rate, 1) if rate > 0 else None,
            },
        )


def anchor(source: BitcoinSource, start_height: int, bitcoin_network: str) -> None:
    """On an empty index starting above genesis, store the headers below ``start_height`` that
    full validation of the first scanned blocks needs (median time past, retarget period)."""
    if start_height == 0 or ingest.get_cursor() is not None:
        return
    params = ingest.chain_params(bitcoin_network)
    first = ingest.anchor_context_start(start_height, params)
    heights = list(range(first, start_height))
    hashes = source.block_hashes(heights)
    raws = source.raw_headers(hashes)
    ingest.ingest_headers(raws, first, bitcoin_network=bitcoin_network, trusted=True)


def _tip_agrees(source: BitcoinSource, tip: int) -> bool:
    """Is our stored tip still on the source's chain? (False means a reorg to undo.)

    If the source is behind us (a lagging Esplora replica), compare at its tip instead: our
    block there matching means it is just behind, not on another branch.
    """
    cursor = ingest.get_cursor()
    if cursor is None:
        return True
    if cursor.height <= tip:
        return source.block_hash(cursor.height) == bytes(cursor.block_hash)
    ours = BitcoinBlock.objects.active().filter(height=tip).values_list("hash_internal", flat=True).first()
    return ours is not None and source.block_hash(tip) == bytes(ours)


def _run(
    source: BitcoinSource,
    *,
    start_if_empty: int,
    end: int | None,
    max_blocks: int | None,
    batch_size: int | None,
    progress: ProgressCallback | None,
    bitcoin_network: str,
    what: str,
    time_budget_s: float | None = None,
) -> SyncResult:
    """Ingest from the cursor (or ``start_if_empty``) up to min(``end``, source tip), stopping
    early after ``max_blocks`` blocks or once ``time_budget_s`` is spent (tasks must finish
    inside Celery's time limit; the next run continues from the cursor).

    1. Anchor an empty index (headers below the start height), once the source's genesis is
       the network's (``identity.verify``).
    2. Undo a reorg if our tip left the source's chain (``reorg.rewind`` refuses another
       chain, a reorg deeper than ``BITCOIN_MAX_REORG_DEPTH`` and a branch with less work).
    3. Per batch: fetch hashes (one request), then raw blocks FETCH_CHUNK at a time, and write
       each block in its own transaction. A block that does not extend the cursor means the
       source reorged under us: rewind to the fork and continue from there.
    4. After each chunk, fetch the spent outputs of the transactions it stored (``prevouts``).
    """
    # A refusal is recorded as a visible alert; a follow run that passes clears it. A lost
    # database connection is a transient error (retried), not a crash.
    with connection_loss_is_transient(), alerts.watch(CHAIN, clear_on_success=what == "follow"):
        return _ingest_range(
            source, start_if_empty, end, max_blocks, batch_size, progress, bitcoin_network, what, time_budget_s
        )


def _ingest_range(
    source: BitcoinSource,
    start_if_empty: int,
    end: int | None,
    max_blocks: int | None,
    batch_size: int | None,
    progress: ProgressCallback | None,
    bitcoin_network: str,
    what: str,
    time_budget_s: float | None,
) -> SyncResult:
    batch_size = batch_size or settings.BITCOIN_BATCH_SIZE
    tip = source.tip_height()
    target = tip if end is None else min(end, tip)
    # Where this index starts: its stored block there is one of the anchors identity checks.
    start_height = start_if_empty
    if ingest.get_cursor() is None:
        identity.verify(source, bitcoin_network, start_height)
    anchor(source, start_if_empty, bitcoin_network)
    result = SyncResult(tip_height=tip, cursor_height=None)
    if not _tip_agrees(source, tip):
        reorg.rewind(source, bitcoin_network=bitcoin_network, start_height=start_height)
        result.rewinds += 1
    cursor = ingest.get_cursor()
    next_height = start_if_empty if cursor is None else cursor.height + 1
    remaining = max(0, target - next_height + 1)
    # Without a limit, the budget must survive a rewind that moves next_height back down.
    budget = max_blocks if max_blocks is not None else 1 << 62
    meter = Progress(min(budget, remaining), progress, what)
    deadline = None if time_budget_s is None else time.monotonic() + time_budget_s
    while next_height <= target and meter.done < budget and not _past(deadline):
        last = min(target, next_height + batch_size - 1, next_height + budget - meter.done - 1)
        heights = list(range(next_height, last + 1))
        hashes = source.block_hashes(heights)
        rewound = False
        for offset in range(0, len(heights), FETCH_CHUNK):
            chunk = hashes[offset : offset + FETCH_CHUNK]
            for height, raw in zip(heights[offset:], source.raw_blocks(chunk), strict=False):
                try:
                    outcome = ingest.ingest_block(raw, height, bitcoin_network=bitcoin_network)
                except ingest.NotOnTip:
                    if result.rewinds >= MAX_REWINDS_PER_RUN:
                        raise
                    fork = reorg.rewind(source, bitcoin_network=bitcoin_network, start_height=start_height)
                    result.rewinds += 1
                    next_height = fork.fork_height + 1
                    rewound = True
                    break
                if outcome.status == "ingested":
                    result.ingested += 1
                else:
                    result.unchanged += 1
                meter.step(height)
                next_height = height + 1
                if _past(deadline):
                    result.out_of_time = True
                    break
            # The spent outputs of the transactions just stored (fee, Esplora's prevout):
            # fetched after their block is written, outside its transaction.
            prevouts.fill_missing(source)
            if rewound or result.out_of_time:
                break
    # Rows still waiting (stored by a vault rescan, or a step cut short): caught up here.
    prevouts.fill_missing(source)
    if meter.done:
        meter.log(next_height - 1)
    cursor = ingest.get_cursor()
    result.cursor_height = None if cursor is None else cursor.height
    return result


def follow_tip(
    source: BitcoinSource,
    *,
    max_blocks: int | None = None,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
    bitcoin_network: str | None = None,
    start_height: int | None = None,
    time_budget_s: float | None = None,
) -> SyncResult:
    """Ingest everything from the cursor + 1 (or the network's start height) to the source's
    tip, at most ``max_blocks`` blocks, handling reorgs on the way."""
    from hemiscope import networks

    network = networks.current()
    return _run(
        source,
        start_if_empty=network.bitcoin_start_height if start_height is None else start_height,
        end=None,
        max_blocks=max_blocks,
        batch_size=batch_size,
        progress=progress,
        bitcoin_network=bitcoin_network or network.bitcoin_network,
        what="follow",
        time_budget_s=time_budget_s,
    )


def backfill(
    source: BitcoinSource,
    start: int,
    end: int | None,
    *,
    progress: ProgressCallback | None = None,
    batch_size: int | None = None,
    bitcoin_network: str | None = None,
    time_budget_s: float | None = None,
) -> SyncResult:
    """Ingest heights ``start``..``end`` (None: the tip).

    Blocks are written strictly in chain order on top of the cursor, so ``start`` only chooses
    where an EMPTY index begins; with a cursor, heights at or below it are already written and
    the run continues from cursor + 1. A ``start`` above cursor + 1 would leave a hole in the
    chain and is refused.
    """
    from hemiscope import networks

    cursor = ingest.get_cursor()
    if cursor is not None and start > cursor.height + 1:
        raise SyncError(f"cannot start at {start}: the index ends at {cursor.height}; blocks are written in order")
    if end is not None and end < start:
        raise SyncError(f"end {end} is below start {start}")
    return _run(
        source,
        start_if_empty=start,
        end=end,
        max_blocks=None,
        batch_size=batch_size,
        progress=progress,
        bitcoin_network=bitcoin_network or networks.current().bitcoin_network,
        what="backfill",
        time_budget_s=time_budget_s,
    )


def rescan_vault(
    source: BitcoinSource, vault_id: int, from_height: int, *, max_blocks: int = RESCAN_CHUNK
) -> int | None:
    """Re-fetch up to ``max_blocks`` already-scanned active blocks from ``from_height`` and run
    tunnel detection for one vault on them. Returns the next height to rescan, or None once
    the rescan has caught up with the cursor (blocks above it are ingested knowing the vault)."""
    cursor = ingest.get_cursor()
    if cursor is None or from_height > cursor.height:
        return None
    to_height = min(cursor.height, from_height + max_blocks - 1)
    rows = list(
        BitcoinBlock.objects.active()
        .filter(height__range=(from_height, to_height), scanned_at__isnull=False)
        .order_by("height")
        .values_list("height", "hash_internal")
    )
    for offset in range(0, len(rows), FETCH_CHUNK):
        chunk = rows[offset : offset + FETCH_CHUNK]
        raws = source.raw_blocks([bytes(h) for _, h in chunk])
        for raw in raws:
            rescan_block(decode_block(raw), vault_id)
    log.info(
        "vault rescan chunk done", extra={"vault_id": vault_id, "from_height": from_height, "to_height": to_height}
    )
    return to_height + 1 if to_height < cursor.height else None
