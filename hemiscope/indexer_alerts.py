"""Indexer alerts as ``/healthz`` warnings (status 200: the site serves, an operator must look).

``health_warnings`` has the shape of a health warning source (``readings`` -> warnings), so it
can be listed wherever ``/healthz`` collects its warning sources. It reads the read layer's
``explorer.queries.indexing.alerts`` (two small tables): the active indexer alerts (refusals:
another chain, a reorg too deep, less work, a block rejected in strict mode) and the Hemi
blocks stored with failed integrity checks.
"""

from __future__ import annotations

from typing import Any

from hemiscope.health import HealthWarning


def health_warnings(readings: Any = None) -> list[HealthWarning]:
    from explorer.queries.indexing import alerts

    return [HealthWarning(a.code, a.message) for a in alerts()]
