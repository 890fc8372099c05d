"""Indexing status: each chain's cursor (the last block whose rows are all written), the node's
tip where a worker recorded one, and the lag between them. 1 query plus cache reads; the web
process never calls a node to answer this. And the alerts an operator must see (:func:`alerts`):
indexer refusals and Hemi blocks stored unverified; 2-3 small queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hemiscope import telemetry
from indexer.models import ChainCursor

CHAINS = ("hemi", "bitcoin")


@dataclass(frozen=True)
class ChainStatus:
    chain: str
    cursor_height: int | None
    cursor_hash: bytes | None  # Hemi: EVM order; Bitcoin: INTERNAL order (the column's)
    updated_at: datetime | None
    node_tip_height: int | None
    node_tip_age_seconds: float | None

    @property
    def lag(self) -> int | None:
        if self.node_tip_height is None or self.cursor_height is None:
            return None
        return max(0, self.node_tip_height - self.cursor_height)


def status() -> list[ChainStatus]:
    cursors = {c.chain: c for c in ChainCursor.objects.filter(chain__in=CHAINS)}
    out = []
    for chain in CHAINS:
        cursor = cursors.get(chain)
        tip = telemetry.node_tip(chain)  # what a worker recorded; None: no reading yet
        out.append(
            ChainStatus(
                chain=chain,
                cursor_height=cursor.height if cursor else None,
                cursor_hash=bytes(cursor.block_hash) if cursor else None,
                updated_at=cursor.updated_at if cursor else None,
                node_tip_height=tip.height if tip is not None else None,
                node_tip_age_seconds=round(tip.age_seconds, 1) if tip is not None else None,
            )
        )
    return out


@dataclass(frozen=True)
class Alert:
    """Something an operator must look at; ``code`` is stable (``/healthz`` warnings, API)."""

    code: str  # "hemi-wrong-chain", "bitcoin-reorg-too-deep", "hemi-integrity", ...
    message: str
    since: datetime | None


def alerts() -> list[Alert]:
    """Active indexer refusals (another chain, a reorg too deep, less work, a block rejected in
    strict mode), then Hemi blocks stored although a re-hash check failed."""
    from explorer.queries.blocks import integrity_summary
    from indexer.core import alerts as indexer_alerts

    out = [
        Alert(f"{a.chain}-{a.code}", f"{a.chain} indexing stopped: {a.message}", a.raised_at)
        for a in indexer_alerts.active()
    ]
    integrity = integrity_summary(limit=1)
    if integrity:
        out.append(
            Alert(
                "hemi-integrity",
                f"{integrity.count} Hemi block(s) stored with failed re-hash checks (HEMI_VERIFY_STRICT is off), "
                f"the newest {integrity.latest[0].number}; their mints read pending (integrity)",
                integrity.latest[0].created_at,
            )
        )
    return out
