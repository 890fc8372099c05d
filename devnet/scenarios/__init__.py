"""Devnet scenarios: functions ``run(net: Network, **options) -> dict`` (a JSON summary).

They act as clients and wait for the actors, so the same function runs against a live
network (``manage.py devnet scenario NAME``) and in stepped tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devnet.scenarios import alt_keystone, btc_reorg, hemi_reorg, treasury_lock, unbacked_mint, withdrawal

SCENARIOS: dict[str, Callable[..., dict[str, Any]]] = {
    "treasury-lock": treasury_lock.run,
    "withdrawal": withdrawal.run,
    "btc-reorg": btc_reorg.run,
    "hemi-reorg": hemi_reorg.run,
    "unbacked-mint": unbacked_mint.run,
    "alt-keystone": alt_keystone.run,
}

__all__ = ["SCENARIOS"]
