"""/status: per chain how far we are behind the node and how fast we catch up, whether the
workers run, what durable follow-up work is pending, and the alerts an operator should see.

It builds on the read layer the API's /api/v1/status and /healthz use
(:mod:`explorer.queries.indexing`: cursors, recorded node tips, the lag between them, indexer
refusals and integrity alerts) and adds what a page shows on top: the start height, the ingest
rate and an ETA while backfilling, the heartbeat, pending work and recent reorgs. The web
process never calls a node; node tips, the heartbeat and rates are what the workers recorded
(``hemiscope.telemetry``) and read as "not recorded" until a worker has recorded them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count

from explorer.queries import indexing, keystones
from hemiscope import networks, telemetry
from indexer.bitcoin.models import BitcoinBlock
from indexer.hemi.models import Block
from indexer.models import WorkItem

LABELS = {"hemi": "Hemi", "bitcoin": "Bitcoin"}
# Reorg lists look this far below the tip: an index range, never a walk of the whole chain.
RECENT_REORG_WINDOW = {"hemi": 10_000, "bitcoin": 1_000}
REORG_LIMIT = 5


@dataclass(frozen=True)
class Readings:
    """What the workers recorded besides node tips: the heartbeat age and ingest rates."""

    heartbeat_age: float | None = None
    rates: Mapping[str, float] = field(default_factory=dict)  # blocks per second, per chain


def readings() -> Readings:
    return Readings(telemetry.heartbeat_age(), telemetry.ingest_rates())


@dataclass(frozen=True)
class ChainProgress:
    """One chain's line on the page: the read layer's status plus start, rate and batch."""

    status: indexing.ChainStatus
    start: int  # first height this network indexes
    rate: float | None  # blocks per second over the last heartbeat period
    batch: int  # blocks per backfill batch

    @property
    def chain(self) -> str:
        return self.status.chain

    @property
    def label(self) -> str:
        return LABELS.get(self.chain, self.chain)

    @property
    def cursor(self) -> int | None:
        return self.status.cursor_height

    @property
    def lag(self) -> int | None:
        return self.status.lag  # the one lag computation, shared with /api/v1/status

    @property
    def backfilling(self) -> bool:
        """More than one batch behind: the indexer is working through batches, not following."""
        return self.lag is not None and self.lag > self.batch

    @property
    def total(self) -> int | None:
        """Blocks from the start height to the node tip (the progress bar's length)."""
        tip = self.status.node_tip_height
        return None if tip is None else max(1, tip - self.start + 1)

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
    """Per chain: the read layer's status (1 query), the network's start height and the rate."""
    network = networks.current()
    starts = {"hemi": network.tunnel_start_block, "bitcoin": network.bitcoin_start_height}
    batches = {"hemi": settings.HEMI_BATCH_SIZE, "bitcoin": settings.BITCOIN_BATCH_SIZE}
    return [
        ChainProgress(s, starts.get(s.chain, 0), r.rates.get(s.chain), batches.get(s.chain, 1))
        for s in indexing.status()
    ]


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
    indexer: list[indexing.Alert]  # refusals (another chain, a reorg too deep...) and integrity
    alternate_keystones: list
    reorgs: list[Reorg]

    @property
    def count(self) -> int:
        return len(self.indexer) + len(self.alternate_keystones)


def alerts(progress: list[ChainProgress]) -> Alerts:
    """The read layer's indexer alerts (as /healthz and the API show them), alternate-keystone
    publications and recent reorgs near each tip."""
    tips = {p.chain: p.cursor for p in progress}
    return Alerts(indexing.alerts(), keystones.recent_alerts(limit=10), recent_reorgs(tips))
