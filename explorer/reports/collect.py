"""The items of a report's scope, streamed in chain order in batches (flat memory at any size).

Order is by chain position, never by row id, so two databases indexing the same chains give
the same report: mints and withdrawals by (Hemi block, log index), deposits by (Bitcoin height,
transaction index). Each batch is one keyset query (no OFFSET); the caller drops it before the
next. Items above the report's positions are left out.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Q

from explorer.reports.positions import Positions
from explorer.reports.request import ReportRequestError, Request
from hemiscope import networks
from indexer.bitcoin.models import TunnelDeposit
from indexer.hemi.models import DepositConfirmation, WithdrawalInitiation

MINT, DEPOSIT, WITHDRAWAL = "mint", "deposit", "withdrawal"
BATCH = 500


def _hex(value: str) -> bytes:
    return bytes.fromhex(value[2:])


def mints(req: Request, pos: Positions):
    qs = DepositConfirmation.objects.canonical().filter(block__number__lte=pos.hemi_block)
    if req.scope == "mint":
        return qs.filter(transaction__hash=_hex(req.id))
    if req.scope == "token":
        hemibtc = networks.current().hemibtc_address
        if not hemibtc or hemibtc.lower() != req.id:
            # Only the tunnel token is minted against Bitcoin deposits; any other token's
            # mints have no provenance to audit. Say so rather than write an empty report.
            raise ReportRequestError(f"token {req.id} is not this network's hemiBTC ({hemibtc}): no audited mints")
        return qs
    if req.scope == "address":
        return qs.filter(recipient=_hex(req.id))
    return _hemi_range(req, qs)


def withdrawals(req: Request, pos: Positions):
    if req.scope in ("mint", "token"):
        return None
    qs = WithdrawalInitiation.objects.canonical().filter(block__number__lte=pos.hemi_block)
    if req.scope == "address":
        return qs.filter(withdrawer=_hex(req.id))
    return _hemi_range(req, qs)


def _hemi_range(req: Request, qs):
    """The block-range and time scopes, the same for every Hemi item (the tunnel scope: all)."""
    if req.scope == "blocks":
        return qs.filter(block__number__gte=req.from_block, block__number__lte=req.to_block)
    if req.scope == "time":
        return qs.filter(block__timestamp__gte=req.since_unix, block__timestamp__lte=req.until_unix)
    return qs


def deposits(req: Request, pos: Positions):
    """Every Bitcoin deposit on the active chain: the tunnel scope only (the others are Hemi
    selections; a deposit's own mint row already stands for it there)."""
    if req.scope != "tunnel":
        return None
    return TunnelDeposit.objects.filter(block__in_active_chain=True, block__height__lte=pos.btc_height)


def _batches(qs, first: str, second: str, size: int) -> Iterator[list]:
    after = None
    while True:
        page = qs
        if after is not None:
            page = page.filter(Q(**{f"{first}__gt": after[0]}) | Q(**{first: after[0], f"{second}__gt": after[1]}))
        rows = list(page.order_by(first, second)[:size])
        if not rows:
            return
        yield rows
        last = rows[-1]
        after = (_attr(last, first), _attr(last, second))
        if len(rows) < size:
            return


def _attr(row, path: str):
    for part in path.split("__"):
        row = getattr(row, part)
    return row


def iter_batches(req: Request, pos: Positions, size: int = BATCH) -> Iterator[tuple[str, list]]:
    """(kind, rows) batches: mints, then deposits, then withdrawals."""
    light = ("transaction__raw", "transaction__receipt_raw", "transaction__input", "block__header_rlp")
    qs = mints(req, pos).select_related("transaction", "block", "log").defer(*light)
    for rows in _batches(qs, "block__number", "log__log_index", size):
        yield MINT, rows
    if (qs := deposits(req, pos)) is not None:
        qs = qs.select_related("transaction", "block", "vault").defer(
            "transaction__raw", "transaction__merkle_branch", "block__header_raw"
        )
        for rows in _batches(qs, "block__height", "transaction__tx_index", size):
            yield DEPOSIT, rows
    if (qs := withdrawals(req, pos)) is not None:
        qs = qs.select_related("transaction", "block", "log").defer(*light)
        for rows in _batches(qs, "block__number", "log__log_index", size):
            yield WITHDRAWAL, rows


def count(req: Request, pos: Positions) -> int:
    """How many items the scope holds (for progress): one bounded count per kind, run once per job."""
    total = mints(req, pos).count()
    for qs in (deposits(req, pos), withdrawals(req, pos)):
        if qs is not None:
            total += qs.count()
    return total
