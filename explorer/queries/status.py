"""Indexing status: per chain how far we are behind the node, how fast we catch up, whether
the workers run, what follow-up work is pending, and the alerts an operator should see.

Node tips, the worker heartbeat and ingest rates are what the workers record (the web process
never calls a node); :func:`readings` is the one place that gathers them, so /status shows the
same numbers as /healthz. Every panel is a fixed number of indexed queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count

from explorer.queries import keystones
from hemiscope import networks
from indexer.bitcoin.models import BitcoinBlock
from indexer.hemi.models import Block
from indexer.models import ChainCursor, WorkItem

CHAINS = (("hemi", "Hemi"), ("bitcoin", "Bitcoin"))
# Reorg lists look this far below the tip: an index range, never a walk of the whole chain.
RECENT_REORG_WINDOW = {"hemi": 10_000, "bitcoin": 1_000}
REORG_LIMIT = 5


@dataclass(frozen=True)
class NodeTip:
    height: int
    age_seconds: float  # how old the reading is


@dataclass(frozen=True)
class Readings:
    """What the workers recorded: node tips, the heartbeat age, ingest rates (blocks/s)."""

    node_tips: Mapping[str, NodeTip | None] = field(default_factory=dict)
    heartbeat_age: float | None = None
    rates: Mapping[str, float] = field(default_factory=dict)
    recorded: bool = False  # False: this build has no worker telemetry to read


def readings() -> Readings:
    """The workers' telemetry. This build records none yet (the hardening work adds node tips,
    the heartbeat and ingest rates in hemiscope/health.py): every reading is "not recorded"."""
    return Readings()


@dataclass(frozen=True)
class ChainProgress:
    chain: str
    label: str
    start: int  # first height this network indexes
    cursor: int | None
    cursor_updated: datetime | None
    node_tip: NodeTip | None
    rate: float | None  # blocks per second over the last heartbeat period
    batch: int  # blocks per backfill batch

    @property
    def lag(self) -> int | None:
        if self.node_tip is None or self.cursor is None:
            return None
        return max(0, self.node_tip.height - self.cursor)

    @property
    def backfilling(self) -> bool:
        """More than one batch behind: the indexer is working through batches, not following."""
        return self.lag is not None and self.lag > self.batch

    @property
    def total(self) -> int | None:
        """Blocks from the start height to the node tip (the progress bar's length)."""
        return None if self.node_tip is None else max(1, self.node_tip.height - self.start + 1)

    @property
    def done(self) -> int:
        return 0 if self.cursor is None else max(0, self.cursor - self.start + 1)

    @property
    def percent(self) -> float | None:
        total = self.total
        return None if total is None else min(100.0, 100.0 * self.done / total)

    @property
    def eta_seconds(self) -> float | None:
        if not self.lag or not self.rate:
            return None
        return self.lag / self.rate


def chain_progress(r: Readings) -> list[ChainProgress]:
    """Per chain: start height, our cursor, the node's tip and the rate (1 query)."""
    network = networks.current()
    cursors = {c.chain: c for c in ChainCursor.objects.filter(chain__in=[c for c, _ in CHAINS])}
    starts = {"hemi": network.tunnel_start_block, "bitcoin": network.bitcoin_start_height}
    batches = {"hemi": settings.HEMI_BATCH_SIZE, "bitcoin": settings.BITCOIN_BATCH_SIZE}
    out = []
    for chain, label in CHAINS:
        c = cursors.get(chain)
        out.append(
            ChainProgress(
                chain=chain,
                label=label,
                start=starts[chain],
                cursor=c.height if c else None,
                cursor_updated=c.updated_at if c else None,
                node_tip=r.node_tips.get(chain),
                rate=r.rates.get(chain),
                batch=batches[chain],
            )
        )
    return out


@dataclass(frozen=True)
class WorkSummary:
    """Durable follow-up work of one kind (vault rescans, token reads...)."""

    kind: str
    pending: int
    running: int
    failed: int
    last_error: str = ""


@dataclass(frozen=True)
class PendingWork:
    available: bool
    kinds: list[WorkSummary] = field(default_factory=list)

    @property
    def total_open(self) -> int:
        return sum(k.pending + k.running for k in self.kinds)


def pending_work() -> PendingWork:
    """Follow-up work recorded durably (``indexer.core.work``) and not done, per kind: pending,
    running (claimed), failed (given up: an operator must look), and the last error seen.
    2 queries over the open and failed items only; done items, the bulk, are never read."""
    counts: dict[str, dict[str, int]] = {}
    unfinished = (WorkItem.PENDING, WorkItem.RUNNING, WorkItem.FAILED)
    for row in WorkItem.objects.filter(state__in=unfinished).values("kind", "state").annotate(n=Count("id")):
        counts.setdefault(row["kind"], {})[row["state"]] = row["n"]
    errors = dict(
        WorkItem.objects.filter(state__in=unfinished)
        .exclude(last_error="")
        .order_by("kind", "-updated_at")
        .distinct("kind")
        .values_list("kind", "last_error")
    )
    kinds = [
        WorkSummary(kind, c.get(WorkItem.PENDING, 0), c.get(WorkItem.RUNNING, 0), c.get(WorkItem.FAILED, 0),
                    errors.get(kind, "")[:300])
        for kind, c in sorted(counts.items())
    ]  # fmt: skip
    return PendingWork(available=True, kinds=kinds)


@dataclass(frozen=True)
class Reorg:
    chain: str
    height: int
    ident: str  # display hash (Bitcoin) or 0x hash (Hemi)
    at: datetime | None


def recent_reorgs(tips: Mapping[str, int | None]) -> list[Reorg]:
    """The newest orphaned blocks of each chain near its tip (2 queries, index ranges)."""
    out: list[Reorg] = []
    hemi_tip, btc_tip = tips.get("hemi"), tips.get("bitcoin")
    if hemi_tip is not None:
        for b in (
            Block.objects.filter(canonical=False, number__gt=hemi_tip - RECENT_REORG_WINDOW["hemi"])
            .only("number", "hash", "orphaned_at")
            .order_by("-number")[:REORG_LIMIT]
        ):
            out.append(Reorg("Hemi", b.number, "0x" + bytes(b.hash).hex(), b.orphaned_at))
    if btc_tip is not None:
        for b in (
            BitcoinBlock.objects.filter(in_active_chain=False, height__gt=btc_tip - RECENT_REORG_WINDOW["bitcoin"])
            .only("height", "hash_internal", "orphaned_at")
            .order_by("-height")[:REORG_LIMIT]
        ):
            out.append(Reorg("Bitcoin", b.height, b.hash_display, b.orphaned_at))
    return out


@dataclass(frozen=True)
class Alerts:
    alternate_keystones: list
    reorgs: list[Reorg]
    integrity: list[str]  # integrity problems the indexers flagged (none recorded by this build)

    @property
    def count(self) -> int:
        return len(self.alternate_keystones) + len(self.integrity)


def alerts(progress: list[ChainProgress]) -> Alerts:
    tips = {p.chain: p.cursor for p in progress}
    return Alerts(keystones.recent_alerts(limit=10), recent_reorgs(tips), [])
