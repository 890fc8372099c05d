"""Indexer alerts as ``/healthz`` warnings (status 200: the site serves, an operator must look).

``health_warnings`` has the shape of a health warning source (``readings`` -> warnings), so it
can be listed wherever ``/healthz`` collects its warning sources. It reads two tables, both
cheap: the active indexer alerts (refusals: another chain, a reorg too deep, less work, a
block rejected in strict mode) and the Hemi blocks stored with failed integrity checks.
"""

from __future__ import annotations

from typing import Any

from hemiscope.health import HealthWarning


def health_warnings(readings: Any = None) -> list[HealthWarning]:
    from explorer.queries.blocks import integrity_summary
    from indexer.core import alerts

    out = [HealthWarning(f"{a.chain}-{a.code}", f"{a.chain} indexing stopped: {a.message}") for a in alerts.active()]
    integrity = integrity_summary(limit=1)
    if integrity:
        out.append(
            HealthWarning(
                "hemi-integrity",
                f"{integrity.count} Hemi block(s) stored with failed re-hash checks (HEMI_VERIFY_STRICT is off), "
                f"the newest {integrity.latest[0].number}; their mints read pending (integrity)",
            )
        )
    return out
