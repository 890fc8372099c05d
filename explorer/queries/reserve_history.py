"""Reserves over time: BTC held by the vaults and hemiBTC total supply at the end of each time
bucket (the /reserves and /charts history, and its CSV). 9 queries whatever the row counts.

Held counts vault outputs minus vault spends by their Bitcoin block's time (active chain),
supply counts hemiBTC mints minus burns by their Hemi block's time (canonical). The gap between
the two lines is not the mismatch: deposits in flight, unpaid withdrawals and retained fees sit
in it too; the equation on /reserves accounts for them at one position.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from explorer.queries.charts import SPANS, _bucketed, _window_end
from explorer.queries.reserve_rows import ReconcileError, hemibtc_token
from indexer.bitcoin.models import VaultSpend, VaultUtxo
from indexer.hemi.models import TokenTransfer
from indexer.hemi.records import ZERO_ADDRESS


@dataclass(frozen=True)
class ReservePoint:
    start: int  # bucket start, unix seconds
    end: int  # the values are at this time (exclusive)
    held_sats: int
    supply_sats: int


def _before(qs, time_field: str, sats_field: str, start: int) -> int:
    return int(qs.filter(**{f"{time_field}__lt": start}).aggregate(s=Sum(sats_field))["s"] or 0)


def history(span: str) -> list[ReservePoint]:
    seconds, size = SPANS[span]
    newest = _window_end()
    if newest is None:
        return []
    end = (newest // size + 1) * size
    start = end - seconds
    outputs = VaultUtxo.objects.filter(block__in_active_chain=True)
    spends = VaultSpend.objects.filter(block__in_active_chain=True)
    try:
        token = hemibtc_token()
    except ReconcileError:
        token = None
    transfers = (
        TokenTransfer.objects.filter(token=token, canonical=True) if token is not None else TokenTransfer.objects.none()
    )
    mints, burns = transfers.filter(sender=ZERO_ADDRESS), transfers.filter(recipient=ZERO_ADDRESS)
    held = _before(outputs, "block__time", "value_sats", start) - _before(spends, "block__time", "value_sats", start)
    supply = _before(mints, "block__timestamp", "value", start) - _before(burns, "block__timestamp", "value", start)
    d_out = _bucketed(outputs, "block__time", "value_sats", start, end, size)
    d_spent = _bucketed(spends, "block__time", "value_sats", start, end, size)
    d_mint = _bucketed(mints, "block__timestamp", "value", start, end, size)
    d_burn = _bucketed(burns, "block__timestamp", "value", start, end, size)
    out = []
    for i in range(seconds // size):
        held += d_out.get(i, (0, 0))[1] - d_spent.get(i, (0, 0))[1]
        supply += d_mint.get(i, (0, 0))[1] - d_burn.get(i, (0, 0))[1]
        out.append(ReservePoint(start + i * size, start + (i + 1) * size, held, supply))
    return out



