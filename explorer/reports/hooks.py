"""Optional report sections supplied by other modules.

RESERVES HOOK (for issue 20, reserve reconciliation): when a module ``explorer.reserves`` exists
and defines ``reconcile``, every report gains a "reserves" section: the manifest's header line
carries ``reconcile(at_btc_height=H, at_hemi_block=N)``'s result (a JSON-serializable dict, shown
key by key in the PDF). Without that module the section is left out entirely. The module is
looked up, never imported unconditionally, so this package works before issue 20 lands; at merge
time adapt ``reserves_section`` to ``reconcile``'s real signature.
"""

from __future__ import annotations

import importlib
import importlib.util

from explorer.reports.positions import Positions

RESERVES_MODULE = "explorer.reserves"


def _reconcile():
    """``explorer.reserves.reconcile`` when that module exists, else None."""
    if importlib.util.find_spec(RESERVES_MODULE) is None:
        return None
    return getattr(importlib.import_module(RESERVES_MODULE), "reconcile", None)


def reserves_section(pos: Positions) -> dict | None:
    reconcile = _reconcile()
    if reconcile is None:
        return None
    result = reconcile(at_btc_height=pos.btc_height, at_hemi_block=pos.hemi_block)
    return dict(result) if result is not None else None
