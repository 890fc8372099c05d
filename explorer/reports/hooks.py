"""The reserves section of a report (issue 20's reserve reconciliation).

Every report carries the reconciliation at its own positions: the manifest's header line holds
``explorer.reserves.reconcile(at_btc_height=H, at_hemi_block=N).to_dict()`` plus its text
``equation`` (the PDF prints that), or ``{"error": ...}`` when it cannot be computed there (a
position not indexed yet) - a report is still worth having without it, and says why it lacks it.
``_reconcile`` is a function so tests can substitute the computation.
"""

from __future__ import annotations

from explorer import reserves
from explorer.reports.positions import Positions


def _reconcile():
    return reserves.reconcile


def reserves_section(pos: Positions) -> dict | None:
    reconcile = _reconcile()
    if reconcile is None:
        return None
    try:
        result = reconcile(at_btc_height=pos.btc_height, at_hemi_block=pos.hemi_block)
    except reserves.ReconcileError as exc:
        return {"error": str(exc)}
    if result is None:
        return None
    if isinstance(result, reserves.Reconciliation):
        return {**result.to_dict(), "equation": result.equation()}
    return dict(result)
