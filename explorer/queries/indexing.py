"""Indexing status: each chain's cursor (the last block whose rows are all written), the node's
tip where a worker recorded one, and the lag between them. 1 query plus cache reads; the web
process never calls a node to answer this."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime

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


def _node_tip(chain: str):
    """The node tip a worker recorded (``hemiscope.telemetry``, from the hardening work), or
    None while that recorder is not installed or has no reading yet."""
    try:
        telemetry = importlib.import_module("hemiscope.telemetry")
    except ImportError:
        return None
    reader = getattr(telemetry, "node_tip", None)
    return reader(chain) if reader is not None else None


def status() -> list[ChainStatus]:
    cursors = {c.chain: c for c in ChainCursor.objects.filter(chain__in=CHAINS)}
    out = []
    for chain in CHAINS:
        cursor = cursors.get(chain)
        tip = _node_tip(chain)
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
