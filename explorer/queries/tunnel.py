"""Tunnel lists: hemiBTC mints, deposits not minted and withdrawals, as keyset pages.

Verdicts are still computed live per row (about 15 indexed queries each; issue 15 stores
them), so these pages default to 25 rows and the query count is bounded by the page size.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from explorer.queries.cursor import Page, PageRequest
from indexer.bitcoin.models import TunnelDeposit
from indexer.hemi.models import DepositConfirmation, WithdrawalInitiation

MINTS = "mints"
RECIPIENT_MINTS = "recipient-mints"
UNMINTED = "unminted-deposits"
WITHDRAWALS = "withdrawals"
VERDICT_PAGE_SIZE = 25


def _mints(qs, req: PageRequest) -> Page[DepositConfirmation]:
    qs = qs.select_related("transaction", "block").defer(
        "transaction__raw", "transaction__receipt_raw", "transaction__input", "block__header_rlp"
    )
    if req.after is not None:
        qs = qs.filter(id__lt=req.after[0])
    return req.page(qs.order_by("-id")[: req.limit + 1], lambda m: (m.id,))


def mints(req: PageRequest) -> Page[DepositConfirmation]:
    """Canonical mints, newest first (primary key range scan)."""
    return _mints(DepositConfirmation.objects.canonical(), req)


def mints_to(recipient: bytes, req: PageRequest) -> Page[DepositConfirmation]:
    """Mints credited to an address, newest first (index hemi_deposit_recipient)."""
    return _mints(DepositConfirmation.objects.filter(recipient=recipient), req)


def unminted_deposits(req: PageRequest) -> Page[TunnelDeposit]:
    """Active-chain deposits with no canonical mint, newest first."""
    minted = DepositConfirmation.objects.canonical().filter(
        deposit_txid_internal=OuterRef("transaction__txid_internal")
    )
    qs = (
        TunnelDeposit.objects.filter(block__in_active_chain=True)
        .annotate(minted=Exists(minted))
        .filter(minted=False)
        .select_related("transaction", "block", "vault")
        .defer("transaction__raw", "transaction__merkle_branch", "block__header_raw")
        .order_by("-id")
    )
    if req.after is not None:
        qs = qs.filter(id__lt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda d: (d.id,))


def withdrawals(req: PageRequest) -> Page[WithdrawalInitiation]:
    qs = (
        WithdrawalInitiation.objects.filter(canonical=True)
        .select_related("block", "transaction")
        .defer("transaction__raw", "transaction__receipt_raw", "block__header_rlp")
        .order_by("-id")
    )
    if req.after is not None:
        qs = qs.filter(id__lt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda w: (w.id,))
