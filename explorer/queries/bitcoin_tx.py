"""One stored Bitcoin transaction (we keep PoP transactions, tunnel deposits and withdrawal
payouts, each with its raw bytes and merkle branch) and what it is to Hemi:

* a PoP transaction -> the keystone it publishes -> our canonical keystone of that number and
  its Hemi block (or an alternate keystone, or one not indexed yet);
* a tunnel deposit -> vault, amount, recipient -> the hemiBTC mint(s) crediting it, and the fee
  the mint took;
* a withdrawal payout -> the Hemi withdrawal(s) it pays.

Plus its inclusion proof: the stored merkle branch folded from the txid up to the header's
merkle root, recomputed here. Everything in a fixed number of queries (at most 8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.queries import bitcoin
from hemiscope import networks
from indexer.bitcoin.address import address_from_script
from indexer.bitcoin.decode import BitcoinDecodeError, Tx, decode_tx
from indexer.bitcoin.merkle import verify_merkle_branch
from indexer.bitcoin.models import BitcoinTransaction, PopPublication, TunnelDeposit, WithdrawalPayout
from indexer.hemi.models import DepositConfirmation


def copies_of(txid_internal: bytes) -> list[BitcoinTransaction]:
    """Every stored copy of a txid (one per block it was mined in: a reorg can mine it again),
    the active chain's first; 1 query (index btc_tx_txid)."""
    return list(
        BitcoinTransaction.objects.filter(txid_internal=txid_internal)
        .select_related("block")
        .defer("block__header_raw")
        .order_by("-block__in_active_chain", "-block__height", "id")
    )


@dataclass(frozen=True)
class MerkleProof:
    """The stored branch (internal order, leaf to root) and whether it folds to the header's root."""

    tx_index: int
    branch_internal: list[bytes]
    root_internal: bytes
    valid: bool


def merkle_proof(tx: BitcoinTransaction) -> MerkleProof:
    branch = tx.merkle_branch_nodes()
    root = bytes(tx.block.merkle_root_internal)
    valid = verify_merkle_branch(bytes(tx.txid_internal), branch, tx.tx_index, root)
    return MerkleProof(tx.tx_index, branch, root, valid)


@dataclass(frozen=True)
class OutputView:
    vout: int
    value_sats: int
    script: bytes
    address: str | None  # None: no address form (OP_RETURN, non-standard)


@dataclass(frozen=True)
class Decoded:
    tx: Tx | None
    error: str | None
    outputs: list[OutputView] = field(default_factory=list)


def decode(tx: BitcoinTransaction) -> Decoded:
    """The stored raw bytes decoded; a row that does not decode says why (never a 500)."""
    try:
        parsed = decode_tx(bytes(tx.raw))
    except BitcoinDecodeError as exc:
        return Decoded(None, f"{type(exc).__name__}: {exc}")
    network = networks.current().bitcoin_network
    outputs = [
        OutputView(i, out.value_sats, bytes(out.script_pubkey), address_from_script(bytes(out.script_pubkey), network))
        for i, out in enumerate(parsed.outputs)
    ]
    return Decoded(parsed, None, outputs)


@dataclass(frozen=True)
class DepositView:
    deposit: TunnelDeposit
    mints: list[DepositConfirmation]  # canonical first

    @property
    def fee_sats(self) -> int | None:
        """The fee the tunnel kept: the crediting mint's deposit amount minus what it minted."""
        for m in self.mints:
            if m.canonical:
                return int(m.deposit_sats) - int(m.net_sats)
        return None


@dataclass
class Roles:
    pops: list[bitcoin.PopRow] = field(default_factory=list)
    deposit: DepositView | None = None
    payout: WithdrawalPayout | None = None
    withdrawals: list = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [name for name, on in (("PoP", self.pops), ("tunnel deposit", self.deposit),
                                      ("withdrawal payout", self.payout)) if on]  # fmt: skip


def roles(tx: BitcoinTransaction) -> Roles:
    """What the transaction is to Hemi (at most 7 queries)."""
    out = Roles()
    pubs = list(PopPublication.objects.filter(transaction=tx).order_by("vout"))
    if pubs:
        out.pops = bitcoin.pop_rows(pubs)
    deposit = TunnelDeposit.objects.filter(transaction=tx).select_related("vault").first()
    if deposit is not None:
        mints = list(
            DepositConfirmation.objects.filter(deposit_txid_internal=tx.txid_internal)
            .select_related("transaction", "block")
            .defer("transaction__raw", "transaction__receipt_raw", "transaction__input", "block__header_rlp")
            .order_by("-canonical", "id")
        )
        out.deposit = DepositView(deposit, mints)
    payout = WithdrawalPayout.objects.filter(transaction=tx).select_related("vault").first()
    if payout is not None:
        out.payout = payout
        out.withdrawals = bitcoin.withdrawals_for_payouts([payout])[payout.id]
    return out
