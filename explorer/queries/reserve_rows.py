"""The rows behind each term of the reserve equation (``explorer/reserves.py``), as querysets at
a :class:`Position`: the reconciliation aggregates them, the rows pages list them (keyset, by id).

Bitcoin-side rows count when their block is on the active chain at or below the position's
``btc_counted_to``; Hemi-side rows when canonical at or below its Hemi block.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Mod

from hemiscope import networks
from indexer.bitcoin.models import TunnelDeposit, VaultOutflow, VaultSpend, VaultUtxo, WithdrawalPayout
from indexer.hemi.models import (
    DepositConfirmation,
    Token,
    TokenTransfer,
    WithdrawalChallenge,
    WithdrawalInitiation,
)
from indexer.hemi.records import ZERO_ADDRESS

UUID_INDEX_MODULUS = 1 << 32  # uuid = vault index << 32 | vault-specific withdrawal index


class ReconcileError(Exception):
    """The reconciliation cannot be computed (no hemiBTC configured, a bad argument)."""


class PositionNotIndexed(ReconcileError):
    """The requested position lies beyond (or below) what the indexers have written."""


@dataclass(frozen=True)
class Position:
    btc_height: int  # the Bitcoin height reconciled at
    hemi_block: int
    min_confirmations: int
    btc_counted_to: int  # highest Bitcoin height whose rows count: btc_height - K + 1
    paired: str  # how the two were chosen (both given, or paired through an hVM view), for people

    def query(self) -> str:
        """Query string that pins this position (links from the page, the API's ``rows``)."""
        return urlencode(
            {
                "at_btc_height": self.btc_height,
                "at_hemi_block": self.hemi_block,
                "min_confirmations": self.min_confirmations,
            }
        )


_SATS = DecimalField(max_digits=78, decimal_places=0)


def _sum(qs: QuerySet, expr) -> int:
    return int(qs.aggregate(total=Sum(expr, output_field=_SATS))["total"] or 0)


def _sums(qs: QuerySet, *exprs) -> tuple[int, ...]:
    """(sum of each of ``exprs``..., row count) in one query."""
    found = qs.aggregate(**{f"s{i}": Sum(e, output_field=_SATS) for i, e in enumerate(exprs)}, rows=Count("id"))
    return (*(int(found[f"s{i}"] or 0) for i in range(len(exprs))), found["rows"])


def _total(qs: QuerySet, expr) -> tuple[int, int]:
    """(sum of ``expr``, row count) in one query."""
    found = qs.aggregate(total=Sum(expr, output_field=_SATS), rows=Count("id"))
    return int(found["total"] or 0), found["rows"]


def hemibtc_token() -> Token | None:
    configured = networks.current().hemibtc_address
    if not configured:
        raise ReconcileError("no hemiBTC token is configured for this network (HEMIBTC_ADDRESS)")
    return Token.objects.filter(address=bytes.fromhex(configured[2:])).first()


def _btc(qs: QuerySet, p: Position, prefix: str = "block__") -> QuerySet:
    return qs.filter(**{f"{prefix}in_active_chain": True, f"{prefix}height__lte": p.btc_counted_to})


def _hemi(qs: QuerySet, p: Position) -> QuerySet:
    return qs.filter(canonical=True, block__number__lte=p.hemi_block)


def vault_outputs(p: Position) -> QuerySet:
    return _btc(VaultUtxo.objects.all(), p)


def vault_spends(p: Position) -> QuerySet:
    return _btc(VaultSpend.objects.all(), p)


def held_outputs(p: Position) -> QuerySet:
    """Vault outputs counted at the position and not spent by a block counted there."""
    spent = vault_spends(p).filter(spent_txid_internal=OuterRef("txid_internal"), spent_vout=OuterRef("vout"))
    return vault_outputs(p).filter(~Exists(spent))


def supply_transfers(p: Position, token: Token | None) -> QuerySet:
    """hemiBTC mints (from the zero address) and burns (to it): what total supply is."""
    if token is None:
        return TokenTransfer.objects.none()
    return _hemi(TokenTransfer.objects.filter(token=token), p).filter(
        Q(sender=ZERO_ADDRESS) | Q(recipient=ZERO_ADDRESS)
    )


def minted_by(p: Position) -> QuerySet:
    """Every canonical hemiBTC mint (DepositConfirmed) up to the Hemi block."""
    return _minted(p)


def _minted(p: Position) -> QuerySet:
    return _hemi(DepositConfirmation.objects.all(), p)


def deposits_not_yet_minted(p: Position) -> QuerySet:
    """Deposits counted at the position that no canonical mint up to the Hemi block credits
    (including those the tunnel can never credit: no valid recipient)."""
    mint = _minted(p).filter(deposit_txid_internal=OuterRef("transaction__txid_internal"))
    return _btc(TunnelDeposit.objects.all(), p).filter(~Exists(mint))


def _challenged(p: Position) -> Exists:
    return Exists(_hemi(WithdrawalChallenge.objects.all(), p).filter(uuid=OuterRef("uuid"), vault=OuterRef("vault")))


def _paid(p: Position) -> Exists:
    payouts = _btc(WithdrawalPayout.objects.all(), p).filter(
        vault__vault_address=OuterRef("vault"), withdrawal_index=OuterRef("index")
    )
    return Exists(payouts)


def _withdrawals(p: Position) -> QuerySet:
    return _hemi(WithdrawalInitiation.objects.all(), p).annotate(index=Mod(F("uuid"), UUID_INDEX_MODULUS))


def withdrawals_unpaid(p: Position) -> QuerySet:
    return _withdrawals(p).filter(~_challenged(p)).filter(~_paid(p))


def _backed(p: Position) -> Q:
    """A mint whose deposit is counted at the position and which is the first canonical mint of
    that txid (a second credit of the same deposit is backed by nothing)."""
    held = _btc(TunnelDeposit.objects.all(), p).filter(transaction__txid_internal=OuterRef("deposit_txid_internal"))
    earlier = _minted(p).filter(deposit_txid_internal=OuterRef("deposit_txid_internal"), id__lt=OuterRef("id"))
    return Q(Exists(held)) & ~Q(Exists(earlier))


def deposit_fees(p: Position) -> QuerySet:
    """Backed mints: the vault keeps deposited - minted."""
    return _minted(p).filter(_backed(p))


def withdrawal_fees(p: Position) -> QuerySet:
    """Withdrawals not challenged: the vault keeps burnt - owed (a challenge refunds it all)."""
    return _withdrawals(p).filter(~_challenged(p))


def network_fees(p: Position) -> QuerySet:
    return _btc(VaultOutflow.objects.all(), p).filter(network_fee_sats__isnull=False)


def unbacked_mints(p: Position) -> QuerySet:
    """Mints without a counted deposit, and second credits of one deposit."""
    return _minted(p).exclude(_backed(p))


def _outflows(p: Position) -> QuerySet:
    """Vault spends counted at the position; ``matched``: a payout naming a withdrawal index
    initiated on Hemi (for that vault) up to the Hemi block."""
    # Looked up by uuid (indexed), rebuilt from the payout's vault index and withdrawal index.
    uuid = ExpressionWrapper(
        OuterRef("vault__vault_index") * UUID_INDEX_MODULUS + OuterRef("withdrawal_index"), output_field=_SATS
    )
    withdrawal = _hemi(WithdrawalInitiation.objects.all(), p).filter(
        uuid=uuid, vault=OuterRef("vault__vault_address")
    )
    payout = WithdrawalPayout.objects.filter(transaction_id=OuterRef("transaction_id")).filter(Exists(withdrawal))
    return _btc(VaultOutflow.objects.all(), p).annotate(matched=Exists(payout))


def unexplained_outflows(p: Position) -> QuerySet:
    """Vault spends that are neither a payout of a withdrawal initiated by the Hemi block nor
    a consolidation, or whose network fee we cannot know (foreign inputs)."""
    explained = (Q(kind=VaultOutflow.PAYOUT) & Q(matched=True)) | Q(kind=VaultOutflow.CONSOLIDATION)
    return _outflows(p).filter(~explained | Q(network_fee_sats__isnull=True))


# The same in SQL, over ``_outflows`` rows (their ``matched`` annotation).
UNEXPLAINED_SATS = (
    F("spent_sats")
    - F("to_vault_sats")
    - Case(When(matched=True, then=F("payout_sats")), default=Value(0))
    - Coalesce(F("network_fee_sats"), Value(0))
)


def unexplained_sats(outflow: VaultOutflow) -> int:
    """What left a vault in this spend that no withdrawal or known network fee explains."""
    paid = outflow.payout_sats if getattr(outflow, "matched", False) else 0
    return outflow.left_vaults_sats - paid - (outflow.network_fee_sats or 0)


def non_deposit_inflows(p: Position) -> QuerySet:
    """Vault outputs that are neither a deposit nor change/consolidation of a vault spend:
    coins the tunnel cannot credit (below the minimum, past output 7, a second vault output)."""
    deposit = TunnelDeposit.objects.filter(transaction__txid_internal=OuterRef("txid_internal"), vout=OuterRef("vout"))
    own = VaultOutflow.objects.filter(transaction__txid_internal=OuterRef("txid_internal"))
    return vault_outputs(p).filter(~Exists(deposit)).filter(~Exists(own))


def _signed_supply(p: Position, token: Token | None) -> int:
    rows = supply_transfers(p, token)
    minted = _sum(rows.filter(sender=ZERO_ADDRESS), "value")
    burnt = _sum(rows.filter(recipient=ZERO_ADDRESS), "value")
    return minted - burnt


def term_rows(key: str, p: Position) -> QuerySet:
    """The rows behind one term, finding, ``held`` or ``supply``, ordered by id (keyset pages)."""
    builders = {
        "held": held_outputs,
        "supply": lambda p: supply_transfers(p, hemibtc_token()),
        "deposits_not_yet_minted": deposits_not_yet_minted,
        "withdrawals_unpaid": withdrawals_unpaid,
        "deposit_fees": deposit_fees,
        "withdrawal_fees": withdrawal_fees,
        "network_fees": network_fees,
        "unbacked_mints": unbacked_mints,
        "unexplained_outflows": unexplained_outflows,
        "non_deposit_inflows": non_deposit_inflows,
    }
    if key not in builders:
        raise KeyError(key)
    return builders[key](p).order_by("id")


ROW_KEYS = (
    "held",
    "supply",
    "deposits_not_yet_minted",
    "withdrawals_unpaid",
    "deposit_fees",
    "withdrawal_fees",
    "network_fees",
    "unbacked_mints",
    "unexplained_outflows",
    "non_deposit_inflows",
)
