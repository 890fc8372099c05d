"""Stored verdicts, read: the one way lists, reports and the API get a verdict without judging.

``explorer.verdict_store`` keeps a verdict row per mint, deposit, withdrawal and Hemi block
(verdict, stage, reason, the chain positions it was computed at). Read them here:

* :func:`mints`, :func:`deposits`, :func:`unminted_deposits`, :func:`withdrawals` - keyset
  pages, newest first, filtered by ``verdict`` and ``stage`` (a :class:`Filter`); each row
  carries its stored verdict (:func:`verdict_of`), one query per page whatever the filter;
* :func:`stored_verdicts` - the verdicts of given subject ids, for callers that hold rows
  already (reserves);
* :func:`current_verified_mints` - which of given mints have a stored verdict that is verified,
  settled and current (no refresh pending that could reach it): what audit reports read
  instead of judging those mints live;
* :func:`verified_at` - which of those are also verified at an earlier position (what a pinned
  report reads);

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


# ----------------------------------------------------------------------------- current settled verdicts

# Work items that may still have to refresh a verdict: recorded and not done (a failed one
# needs an operator, and until then the verdicts it should have refreshed are not trusted).
_OPEN_WORK = ("pending", "running", "failed")


def _open_chain_changes() -> dict[str, tuple[int, int | None]]:
    """``{"bitcoin"|"hemi": (lowest from_height, lowest new cursor height)}`` of the chain
    changes the verdict worker has not finished: a stored verdict judged on a block at or above
    that from_height may be stale, and the tip is at least that cursor height. 1 query (the
    open items are few: the worker coalesces a backlog into one run)."""
    from django.db.models import IntegerField, Min
    from django.db.models.fields.json import KT
    from django.db.models.functions import Cast

    from indexer.core.cursor import CHAIN_CHANGED
    from indexer.models import WorkItem

    rows = (
        WorkItem.objects.filter(kind=CHAIN_CHANGED, state__in=_OPEN_WORK, payload__has_key="chain")
        .values(chain=KT("payload__chain"))
        .annotate(
            low=Min(Cast(KT("payload__from_height"), IntegerField())),
            tip=Min(Cast(KT("payload__height"), IntegerField())),
        )
        .values_list("chain", "low", "tip")
    )
    return {chain: (low, tip) for chain, low, tip in rows}


def current_verified_mints(mints) -> dict[int, int]:
    """``{mint id: its deposit's Bitcoin height}`` for the mints whose stored verdict is
    *verified and settled* and still what a live judgement gives now; a mint left out must be
    judged live. 4 queries for any number of mints (one short snapshot).

    Settled means superfinal with every link verified: only a change to a row it was judged on
    can alter it - a reorg at or below its ``depends_*`` heights, a second mint of its Bitcoin
    txid (``verdict_store`` refreshes exactly these). A stored verdict is therefore current unless
    a refresh that could reach it has not run yet, which this checks against the data:

    * an unfinished ``chain.changed`` item from Bitcoin height H to a cursor at T (a reorg
      waiting for its refresh) leaves out verdicts judged on a block at or above H, and those
      within SUPERFINALITY_CONFIRMATIONS of T (their superfinality may have dropped with the
      tip) - what the refresh would re-judge; from Hemi block H, those judged on a Hemi block
      at or above H (a cursor deleted altogether counts from 0: everything);
    * another canonical mint of the same Bitcoin txid (a second credit) leaves both out;
    * a mint whose deposit is no longer on the active Bitcoin chain is left out.
    """
    from django.db import connection, transaction

    from explorer.finality import SUPERFINALITY_CONFIRMATIONS

    mints = list(mints)
    if not mints:
        return {}
    txids = {m.pk: bytes(m.deposit_txid_internal) for m in mints}
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # the verdicts and the open work from one snapshot
            with connection.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        stored = list(
            MintVerdict.objects.filter(pk__in=list(txids), verdict=VERIFIED, settled=True).values_list(
                "pk", "depends_bitcoin_height", "depends_hemi_number"
            )
        )
        open_changes = _open_chain_changes()
        wanted = list(set(txids.values()))
        credits: dict[bytes, int] = {}
        for txid in (
            DepositConfirmation.objects.canonical()
            .filter(deposit_txid_internal__in=wanted)
            .values_list("deposit_txid_internal", flat=True)
        ):
            credits[bytes(txid)] = credits.get(bytes(txid), 0) + 1
        heights: dict[bytes, int] = {}
        for txid, height in (
            TunnelDeposit.objects.filter(transaction__txid_internal__in=wanted, block__in_active_chain=True)
            .order_by("block__height")
            .values_list("transaction__txid_internal", "block__height")
        ):
            heights.setdefault(bytes(txid), height)
    btc_from, btc_tip = open_changes.get("bitcoin", (None, None))
    if btc_from is not None and btc_tip is None:
        btc_tip = btc_from - 1  # a cursor reset: the tip may be anywhere above the change
    hemi_from = open_changes.get("hemi", (None, None))[0]
    out = {}
    for pk, dep_btc, dep_hemi in stored:
        txid = txids[pk]
        if dep_btc is None or dep_hemi is None or credits.get(txid) != 1 or txid not in heights:
            continue
        if btc_from is not None and (dep_btc >= btc_from or dep_btc > btc_tip - SUPERFINALITY_CONFIRMATIONS):
            continue
        if hemi_from is not None and dep_hemi >= hemi_from:
            continue
        out[pk] = heights[txid]
    return out


def verified_at(stored: dict[int, int], at) -> dict[int, int]:
    """Of ``current_verified_mints``' answer, the mints whose stored verdict is also what a live
    judgement at the earlier position ``at`` (``explorer.at.At``) gives; 2 queries for any
    number of mints. A pinned report reads those and judges the rest live at its position.

    A stored verified, settled verdict is current at the tips; at a lower position it still
    holds when everything it was judged on lies at or below the position, with the same
    answers there:

    * ``depends_hemi_number`` (mint, covering and anchoring keystones) at or below the Hemi
      block: the keystones exist there, and no second credit does (none exists at the tips);
    * ``depends_bitcoin_height`` (deposit, first publication) at least SUPERFINALITY_CONFIRMATIONS
      below the height: found there, superfinal there; no lower publication can appear at a
      lower position (its candidates are a subset of the tips');
    * the mint's hVM view's Bitcoin tip at or below the height: its confirmations are seen there.
    """
    from django.db.models import Subquery

    from explorer.finality import SUPERFINALITY_CONFIRMATIONS
    from indexer.bitcoin.models import BitcoinBlock
    from indexer.hemi.models import HvmUpdate

    if not stored:
        return {}
    depends = dict(
        (pk, (btc, hemi))
        for pk, btc, hemi in MintVerdict.objects.filter(pk__in=list(stored)).values_list(
            "pk", "depends_bitcoin_height", "depends_hemi_number"
        )
    )
    view_tip = (
        HvmUpdate.objects.filter(canonical=True, block__number__lte=OuterRef(OuterRef("block__number")))
        .order_by("-block__number", "-transaction__index")
        .values("canonical_tip_internal")[:1]
    )
    tip_height = BitcoinBlock.objects.filter(hash_internal=Subquery(view_tip)).values("height")[:1]
    views = dict(
        DepositConfirmation.objects.filter(pk__in=list(stored))
        .annotate(view_tip_height=Subquery(tip_height))
        .values_list("pk", "view_tip_height")
    )
    out = {}
    for pk, deposit_height in stored.items():
        btc, hemi = depends.get(pk, (None, None))
        view = views.get(pk)
        if btc is None or hemi is None or view is None:
            continue
        if hemi <= at.hemi_block and btc + SUPERFINALITY_CONFIRMATIONS <= at.btc_height and view <= at.btc_height:
            out[pk] = deposit_height
    return out
