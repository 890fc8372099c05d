"""Tunnel lists: hemiBTC mints, deposits not minted and withdrawals, as keyset pages.

Pages and the API list stored verdicts through ``explorer.queries.verdicts`` (no live judging
per row). The ``*_verdicts`` functions below judge rows live (about 15 indexed queries per
mint): one mint's provenance, and ``explorer.verdict_store`` computing what it stores.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from explorer import anchoring, provenance, tunnel_audit, withdrawal_audit
from explorer.at import At, hemi_upto
from explorer.provenance import Provenance
from explorer.queries.cursor import Page, PageRequest
from explorer.verdicts import VERIFIED, Link
from hemiscope import networks
from indexer.bitcoin.models import TunnelDeposit
from indexer.hemi.models import DepositConfirmation, WithdrawalInitiation

MINTS = "mints"
RECIPIENT_MINTS = "recipient-mints"
UNMINTED = "unminted-deposits"
DEPOSITS = "deposits"
WITHDRAWALS = "withdrawals"
VERDICT_PAGE_SIZE = 25


def _mints(qs, req: PageRequest) -> Page[DepositConfirmation]:
    qs = qs.select_related("transaction", "block", "log").defer(
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


def deposits(req: PageRequest) -> Page[TunnelDeposit]:
    """Every Bitcoin tunnel deposit we indexed (orphaned ones too: they explain failed mints),
    newest first by row id; 1 query."""
    qs = (
        TunnelDeposit.objects.select_related("transaction", "block", "vault")
        .defer("transaction__raw", "transaction__merkle_branch", "block__header_raw")
        .order_by("-id")
    )
    if req.after is not None:
        qs = qs.filter(id__lt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda d: (d.id,))


# --- Live verdicts ------------------------------------------------------------------------------
# Judged now: for a detail page and for explorer.verdict_store, which stores them. Lists read the
# stored ones (queries.verdicts).


def _hemibtc() -> bytes | None:
    hemibtc = networks.current().hemibtc_address
    return bytes.fromhex(hemibtc[2:]) if hemibtc else None


def mint_verdicts(mints, at: At | None = None) -> list[Provenance]:
    """The provenance verdict and links of each mint, in order (at the tips, or at ``at``), judged
    together: about 15 queries for the list (``provenance.for_mints``; no timelines)."""
    return provenance.for_mints(mints, hemibtc=_hemibtc(), at=at)


def mint_provenance(mint) -> Provenance:
    """One mint's whole provenance, timeline and alerts included (its API answer and page)."""
    return provenance.for_mint(mint, hemibtc=_hemibtc())


@dataclass(frozen=True)
class WithdrawalVerdict:
    link: Link
    status: str  # pending, paid, finalized, challenged or failed

    @property
    def verdict(self) -> str:
        return self.link.verdict


def withdrawal_verdicts(withdrawals, at: At | None = None) -> list[WithdrawalVerdict]:
    out = []
    for w in withdrawals:
        link = withdrawal_audit.audit_withdrawal(w, at)
        out.append(WithdrawalVerdict(link, withdrawal_audit.withdrawal_status(link)))
    return out


@dataclass(frozen=True)
class DepositVerdict:
    """A deposit is verified once a canonical mint credits it; otherwise the deposit check says
    why it is pending (young) or failed (orphaned, no recipient)."""

    verdict: str
    reason: str | None
    mint: DepositConfirmation | None


def deposit_verdicts(rows, at: At | None = None) -> list[DepositVerdict]:
    """2 queries for the whole page: the Bitcoin tip and the canonical mints of its txids (at
    the tips, or at ``at``: its Bitcoin height is the tip, mints above its Hemi block do not
    count; the rows must lie at or below its height)."""
    rows = list(rows)
    tip = anchoring.bitcoin_tip_height(at)
    minted = {}
    for m in (
        hemi_upto(DepositConfirmation.objects.canonical(), at)
        .filter(deposit_txid_internal__in=[bytes(d.transaction.txid_internal) for d in rows])
        .select_related("transaction")
        .defer("transaction__raw", "transaction__receipt_raw", "transaction__input")
        .order_by("id")
    ):
        minted.setdefault(bytes(m.deposit_txid_internal), m)
    out = []
    for d in rows:
        mint = minted.get(bytes(d.transaction.txid_internal))
        if mint is not None and d.block.in_active_chain:
            out.append(DepositVerdict(VERIFIED, None, mint))
        else:
            check = tunnel_audit.deposit_status(d, tip)
            out.append(DepositVerdict(check.verdict, check.detail, mint))
    return out
