"""Stored verdicts, read: the one way lists, reports and the API get a verdict without judging.

``explorer.verdict_store`` keeps a verdict row per mint, deposit, withdrawal and Hemi block
(verdict, stage, reason, the chain positions it was computed at). Read them here:

* :func:`mints`, :func:`deposits`, :func:`unminted_deposits`, :func:`withdrawals` - keyset
  pages, newest first, filtered by ``verdict`` and ``stage`` (a :class:`Filter`); each row
  carries its stored verdict (:func:`verdict_of`), one query per page whatever the filter;
* :func:`stored_verdicts` - the verdicts of given subject ids, for callers that hold rows
  already (audit reports, reserves);

A row indexed a moment ago may have no stored verdict yet: it reads as *pending* with the reason
:data:`NOT_JUDGED`, never as verified, and ``verdict=`` filters leave it out until judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef

from explorer.finality import STAGES
from explorer.models import BlockVerdict, DepositVerdict, MintVerdict, WithdrawalVerdict
from explorer.params import BadParameter
from explorer.queries.cursor import Page, PageRequest
from explorer.verdicts import FAILED, PENDING, VERIFIED
from indexer.bitcoin.models import TunnelDeposit
from indexer.hemi.models import DepositConfirmation, WithdrawalInitiation

MINTS = "mints"
RECIPIENT_MINTS = "recipient-mints"
DEPOSITS = "deposits"
UNMINTED = "unminted-deposits"
WITHDRAWALS = "withdrawals"

VERDICT_CHOICES = (VERIFIED, PENDING, FAILED)
MINT_STAGES = STAGES
DEPOSIT_STAGES = ("confirming", "awaiting mint", "minted", "orphaned", "no recipient")
WITHDRAWAL_STAGES = ("pending", "paid", "finalized", "challenged", "failed")
NOT_JUDGED = "not judged yet: the verdict worker has not reached this row (it is indexed)"

KIND_MODELS = {"mint": MintVerdict, "deposit": DepositVerdict, "withdrawal": WithdrawalVerdict, "block": BlockVerdict}


@dataclass(frozen=True)
class NotJudged:
    """What a row without a stored verdict reads as: pending, and saying why."""

    verdict: str = PENDING
    stage: str = ""
    reason: str = NOT_JUDGED
    bitcoin_height: int | None = None
    bitcoin_hash_internal: bytes | None = None
    hemi_number: int | None = None
    hemi_hash: bytes | None = None
    computed_at: datetime | None = None
    mint: None = None
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Filter:
    verdict: str | None = None
    stage: str | None = None

    @classmethod
    def from_query(cls, query, stages: tuple[str, ...], prefix: str = "") -> Filter:
        """``verdict`` and ``stage`` (``prefix`` + name for a second list on a page) from a
        request's query; a value outside the vocabulary is a BadParameter naming it."""
        verdict = query.get(prefix + "verdict") or None
        stage = query.get(prefix + "stage") or None
        if verdict is not None and verdict not in VERDICT_CHOICES:
            raise BadParameter(f"{prefix}verdict: one of {', '.join(VERDICT_CHOICES)}, got {verdict[:40]!r}")
        if stage is not None and stage not in stages:
            raise BadParameter(f"{prefix}stage: one of {', '.join(stages)}, got {stage[:40]!r}")
        return cls(verdict, stage)

    def apply(self, qs):
        if self.verdict:
            qs = qs.filter(stored_verdict__verdict=self.verdict)
        if self.stage:
            qs = qs.filter(stored_verdict__stage=self.stage)
        return qs

    @property
    def active(self) -> bool:
        return bool(self.verdict or self.stage)


NO_FILTER = Filter()


def verdict_of(row):
    """The stored verdict of a mint, deposit, withdrawal or block row (loaded with its page), or
    :class:`NotJudged`."""
    try:
        return row.stored_verdict
    except (AttributeError, MintVerdict.DoesNotExist, DepositVerdict.DoesNotExist,
            WithdrawalVerdict.DoesNotExist, BlockVerdict.DoesNotExist):  # fmt: skip
        return NotJudged()


def _keyset(qs, req: PageRequest) -> Page:
    if req.after is not None:
        qs = qs.filter(id__lt=req.after[0])
    return req.page(qs.order_by("-id")[: req.limit + 1], lambda row: (row.id,))


def _mints(qs, req: PageRequest, f: Filter) -> Page[DepositConfirmation]:
    qs = f.apply(qs).select_related("transaction", "block", "log", "stored_verdict")
    qs = qs.defer("transaction__raw", "transaction__receipt_raw", "transaction__input", "block__header_rlp")
    return _keyset(qs, req)


def mints(req: PageRequest, f: Filter = NO_FILTER) -> Page[DepositConfirmation]:
    """Canonical mints with their stored verdicts, newest first; 1 query."""
    return _mints(DepositConfirmation.objects.canonical(), req, f)


def mints_to(recipient: bytes, req: PageRequest, f: Filter = NO_FILTER) -> Page[DepositConfirmation]:
    """Mints credited to an address, newest first (index hemi_deposit_recipient); 1 query."""
    return _mints(DepositConfirmation.objects.filter(recipient=recipient), req, f)


def _deposits(qs, req: PageRequest, f: Filter) -> Page[TunnelDeposit]:
    qs = f.apply(qs).select_related(
        "transaction", "block", "vault", "stored_verdict", "stored_verdict__mint__transaction"
    )
    qs = qs.defer(
        "transaction__raw",
        "transaction__merkle_branch",
        "block__header_raw",
        "stored_verdict__mint__transaction__raw",
        "stored_verdict__mint__transaction__receipt_raw",
        "stored_verdict__mint__transaction__input",
    )
    return _keyset(qs, req)


def deposits(req: PageRequest, f: Filter = NO_FILTER) -> Page[TunnelDeposit]:
    """Every Bitcoin tunnel deposit (orphaned ones too: they explain failed mints), newest
    first, with its stored verdict and the mint that credits it; 1 query."""
    return _deposits(TunnelDeposit.objects.all(), req, f)


def unminted_deposits(req: PageRequest, f: Filter = NO_FILTER) -> Page[TunnelDeposit]:
    """Active-chain deposits with no canonical mint, newest first; 1 query."""
    minted = DepositConfirmation.objects.canonical().filter(
        deposit_txid_internal=OuterRef("transaction__txid_internal")
    )
    qs = TunnelDeposit.objects.filter(block__in_active_chain=True).filter(~Exists(minted))
    return _deposits(qs, req, f)


def withdrawals(req: PageRequest, f: Filter = NO_FILTER) -> Page[WithdrawalInitiation]:
    """Canonical withdrawals with their stored verdicts, newest first; 1 query."""
    qs = f.apply(WithdrawalInitiation.objects.filter(canonical=True)).select_related(
        "block", "transaction", "stored_verdict"
    )
    return _keyset(qs.defer("transaction__raw", "transaction__receipt_raw", "block__header_rlp"), req)


def chain_positions():
    """Where both chains stand now (the active Bitcoin tip, the Hemi cursor): what a live
    verdict is computed at. 2 queries."""
    from explorer.verdict_store import Position

    return Position.now()


def stored_verdicts(kind: str, ids) -> dict[int, object]:
    """``{subject id: stored verdict}`` for ``kind`` (mint, deposit, withdrawal or block); ids
    without a stored verdict are absent (read them as :class:`NotJudged`). 1 query."""
    model = KIND_MODELS[kind]
    return {v.pk: v for v in model.objects.filter(pk__in=list(ids))}
