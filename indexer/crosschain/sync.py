"""``manage.py sync``: both chains up to date, in order, then every pending work item.

1. Bitcoin: follow the tip (under the Bitcoin sync lock, like the ``follow_tip`` task).
2. Hemi: follow the tip (under the Hemi follow lock). New vaults and tokens are recorded as
   work items by the ingest itself.
3. Drain every due work item: custody reads register vaults on Bitcoin, registrations record
   rescans, rescans run chunk by chunk.
4. Repeat while a round changed anything (a chain moved, or work was done): the nodes may
   have advanced meanwhile, and work of one round can depend on the next (a rescan needs the
   registration before it). Then wait for items backing off after a transient error, up to
   ``wait_s``.

Bitcoin goes first so that a vault registered in step 3 is rescanned over every Bitcoin block
already stored, and blocks after them are ingested knowing the vault. The order is also what
the hVM needs: a mint's deposit lies in a Bitcoin block its hVM view had seen.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Min
from django.utils import timezone

from indexer.bitcoin import sync as bitcoin_sync
from indexer.bitcoin.chain import SYNC_LOCK as BITCOIN_SYNC_LOCK
from indexer.bitcoin.connect import source_for
from indexer.core import work
from indexer.core.locks import session_lock
from indexer.crosschain import handlers
from indexer.hemi import sync as hemi_sync
from indexer.hemi.chain import FOLLOW_LOCK as HEMI_FOLLOW_LOCK
from indexer.hemi.rpc import HemiRpc
from indexer.models import WorkItem

log = logging.getLogger(__name__)

MAX_ROUNDS = 20
LOCK_POLL_S = 0.5


class SyncBusy(RuntimeError):
    """Another process held a chain's sync lock for longer than we were willing to wait."""


@dataclass
class SyncReport:
    rounds: int = 0
    bitcoin_blocks: int = 0
    hemi_blocks: int = 0
    work_done: int = 0
    bitcoin_height: int | None = None
    hemi_height: int | None = None
    open_items: list[str] = field(default_factory=list)
    failed_items: list[str] = field(default_factory=list)


@contextmanager
def _wait_for(lock: str, wait_s: float) -> Iterator[None]:
    deadline = time.monotonic() + wait_s
    while True:
        with session_lock(lock) as acquired:
            if acquired:
                yield
                return
        if time.monotonic() >= deadline:
            raise SyncBusy(f"{lock} is held by another process (a worker's follow run?) for over {wait_s:g}s")
        time.sleep(LOCK_POLL_S)


def _describe(item: WorkItem) -> str:
    tail = f": {item.last_error[:200]}" if item.last_error else ""
    return f"{item.kind} {item.key} ({item.state}, {item.attempts} attempts){tail}"


def sync_all(network: Any = None, *, wait_s: float = 120.0, say: Callable[[str], None] = lambda _: None) -> SyncReport:
    """Bring both chains up to date and drain the work they record (see the module docstring)."""
    if network is None:
        from hemiscope import networks

        network = networks.current()
    report = SyncReport()
    handlers.sweep()
    with handlers.Context(network) as ctx:
        for _ in range(MAX_ROUNDS):
            report.rounds += 1
            with _wait_for(BITCOIN_SYNC_LOCK, wait_s):
                source = source_for(network)
                try:
                    btc = bitcoin_sync.follow_tip(source)
                finally:
                    source.close()
            with _wait_for(HEMI_FOLLOW_LOCK, wait_s):
                rpc = HemiRpc.from_network(network)
                try:
                    hemi = hemi_sync.follow_tip(rpc, network=network)
                finally:
                    rpc.close()
            drained = handlers.drain(ctx)
            report.bitcoin_blocks += btc.ingested
            report.hemi_blocks += hemi.blocks
            report.work_done += drained.done
            report.bitcoin_height, report.hemi_height = btc.cursor_height, hemi.current
            say(
                f"round {report.rounds}: bitcoin +{btc.ingested} (at {btc.cursor_height}), "
                f"hemi +{hemi.blocks} (at {hemi.current}), work done {drained.done}, continued {drained.continued}"
            )
            if btc.ingested or btc.rewinds or hemi.blocks or hemi.reorgs or drained.handled:
                continue
            # Nothing moved. Items backing off after a transient error: wait for the earliest.
            due = work.open_items(handlers.all_kinds()).aggregate(m=Min("next_attempt_at"))["m"]
            if due is None:
                break
            pause = (due - timezone.now()).total_seconds()
            if pause > wait_s:
                break
            time.sleep(max(pause, LOCK_POLL_S))
    report.open_items = [_describe(i) for i in work.open_items(handlers.all_kinds()).order_by("id")]
    report.failed_items = [_describe(i) for i in work.failed_items(handlers.all_kinds()).order_by("id")]
    return report
