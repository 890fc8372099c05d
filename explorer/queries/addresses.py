"""Addresses: what we know of one, its transactions, token transfers and balances as pages."""

from __future__ import annotations

import heapq

from django.db.models import Q

from explorer.queries.cursor import Page, PageRequest
from indexer.hemi.models import Address, TokenBalance, TokenTransfer, Transaction

TXS = "address-txs"
TRANSFERS = "address-transfers"
BALANCES = "address-balances"


def get_address(address: bytes) -> Address | None:
    return Address.objects.filter(address=address).first()


def _merged_newest_first(req: PageRequest, queries, key_of) -> Page:
    """Keyset over "A or B" without an OR scan: each side is one index range scan of at most
    limit + 1 rows ((sender, id) and (recipient, id)); merge by id, drop a row both sides hold
    (a self-transfer), keep limit + 1."""
    seen: set[int] = set()
    merged = []
    for row in heapq.merge(*queries, key=lambda r: -r.id):
        if row.id not in seen:
            seen.add(row.id)
            merged.append(row)
    return req.page(merged[: req.limit + 1], key_of)


def transactions(address: bytes, req: PageRequest) -> Page[Transaction]:
    """Transactions from or to the address, newest indexed first (ids are drawn in chain
    order by the single writer, so new blocks land before page one, never inside a walk)."""
    base = Transaction.objects.select_related("block").defer("raw", "receipt_raw", "input", "block__header_rlp")
    if req.after is not None:
        base = base.filter(id__lt=req.after[0])
    sides = [
        list(base.filter(sender=address).order_by("-id")[: req.limit + 1]),
        list(base.filter(to=address).order_by("-id")[: req.limit + 1]),
    ]
    return _merged_newest_first(req, sides, lambda t: (t.id,))


def token_transfers(address: bytes, req: PageRequest, *, token_id: int | None = None) -> Page[TokenTransfer]:
    """Token transfers from or to the address, newest first; 2 queries. ``token_id`` keeps one
    token's (a filter inside the address's (side, id) range scans)."""
    base = TokenTransfer.objects.select_related("token", "log__transaction", "block").defer(
        "log__transaction__raw", "log__transaction__receipt_raw", "log__transaction__input", "block__header_rlp"
    )
    if req.after is not None:
        base = base.filter(id__lt=req.after[0])
    if token_id is not None:
        base = base.filter(token_id=token_id)
    sides = [
        list(base.filter(sender=address).order_by("-id")[: req.limit + 1]),
        list(base.filter(recipient=address).order_by("-id")[: req.limit + 1]),
    ]
    return _merged_newest_first(req, sides, lambda t: (t.id,))


def balances(address: bytes, req: PageRequest) -> Page[TokenBalance]:
    """Non-zero token balances of the holder, by token (index hemi_balance_holder); 1 query."""
    qs = TokenBalance.objects.filter(holder=address).filter(~Q(balance=0)).select_related("token").order_by("token_id")
    if req.after is not None:
        qs = qs.filter(token_id__gt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda b: (b.token_id,))


def balance_of(address: bytes, token_id: int) -> TokenBalance | None:
    """One holder's balance of one token (unique index hemi_balance_unique)."""
    return TokenBalance.objects.filter(token_id=token_id, holder=address).select_related("token").first()
