"""Withdrawal audit: initiated on Hemi -> paid on Bitcoin -> finalized (or challenged).

A withdrawal burns hemiBTC on Hemi (``WithdrawalInitiated``, uuid = vault index << 32 | the
vault's own withdrawal index); the vault operator then pays ``amount - fee`` on Bitcoin with an
OP_RETURN carrying that withdrawal index, and anyone finalizes it on Hemi. If the operator does
not pay within the grace period the user challenges and gets the hemiBTC back. A reserve auditor
needs to know which of those happened, and that nothing happened twice.
"""

from __future__ import annotations

from explorer.at import At, btc_upto, hemi_upto
from explorer.verdicts import FAILED, PENDING, VERIFIED, Check, Link
from hemiscope import networks
from indexer.bitcoin.address import AddressError, script_from_address
from indexer.bitcoin.models import WithdrawalPayout
from indexer.hashing import keccak256
from indexer.hemi.models import Transaction, WithdrawalChallenge, WithdrawalInitiation

# finalizeWithdrawal(bytes32 txid, uint32 withdrawalIndex) on the real vault; the devnet vault
# adds a proof argument. Both start with the same two static words, which is all we read.
FINALIZE_SELECTORS = {
    keccak256(b"finalizeWithdrawal(bytes32,uint32)")[:4],
    keccak256(b"finalizeWithdrawal(bytes32,uint32,bytes)")[:4],
}


def split_uuid(uuid: int) -> tuple[int, int]:
    """(vault index, vault-specific withdrawal index)."""
    return uuid >> 32, uuid & 0xFFFFFFFF


def payouts_for(w: WithdrawalInitiation, at: At | None = None):
    _, index = split_uuid(int(w.uuid))
    return (
        btc_upto(WithdrawalPayout.objects.filter(vault__vault_address=w.vault, withdrawal_index=index), at)
        .select_related("transaction", "block")
        .order_by("-block__in_active_chain", "block__height")
    )


def finalization_of(w: WithdrawalInitiation, at: At | None = None) -> Transaction | None:
    """A successful canonical finalizeWithdrawal call to the vault for this withdrawal index.

    Only direct calls are seen (the call data is what we index); a finalization made through
    another contract would show as "not finalized yet" - pending, never a false "verified".
    """
    _, index = split_uuid(int(w.uuid))
    calls = hemi_upto(
        Transaction.objects.filter(canonical=True, status=1, to=w.vault, block__number__gte=w.block.number), at
    )
    for tx in calls.order_by("block__number", "index").only("input", "hash", "block"):
        data = bytes(tx.input)
        if data[:4] in FINALIZE_SELECTORS and len(data) >= 68 and int.from_bytes(data[36:68], "big") == index:
            return tx
    return None


def audit_withdrawal(w: WithdrawalInitiation, at: At | None = None) -> Link:
    """Judge one withdrawal at the tips, or at a position (``at``: ``explorer.at``): payouts
    above its Bitcoin height, challenges and finalizations above its Hemi block do not count."""
    checks: list[Check] = []
    vault_index, index = split_uuid(int(w.uuid))
    evidence = {
        "uuid": int(w.uuid),
        "vault_index": vault_index,
        "withdrawal_index": index,
        "btc_address": w.btc_address,
    }
    challenges = WithdrawalChallenge.objects.filter(canonical=True, uuid=w.uuid, vault=w.vault)
    challenged = hemi_upto(challenges, at).exists()
    payout = next((p for p in payouts_for(w, at) if p.block.in_active_chain), None)

    if payout is None:
        if challenged:
            checks.append(
                Check("paid on Bitcoin", FAILED, "the operator did not pay in time; challenged and hemiBTC re-minted")
            )
        else:
            checks.append(Check("paid on Bitcoin", PENDING, "waiting for the vault operator's Bitcoin payout"))
        return Link("Bitcoin payout", tuple(checks), evidence)

    evidence.update(payout_txid=payout.transaction.txid_display, payout_height=payout.block.height)
    checks.append(Check("paid on Bitcoin", VERIFIED, f"tx {payout.transaction.txid_display} at {payout.block.height}"))
    net = int(w.net_sats)
    checks.append(
        Check(
            "amount = requested - fee",
            VERIFIED if payout.amount_sats == net else FAILED,
            "paid exactly the net amount" if payout.amount_sats == net else "paid a different amount",
            expected=str(net),
            found=str(payout.amount_sats),
        )
    )
    try:
        wanted = script_from_address(w.btc_address, networks.current().bitcoin_network)
        script_check = Check(
            "paid to the requested address",
            VERIFIED if bytes(payout.payout_script) == wanted else FAILED,
            w.btc_address if bytes(payout.payout_script) == wanted else "paid to another script",
            expected=wanted.hex(),
            found=bytes(payout.payout_script).hex(),
        )
    except AddressError as exc:
        script_check = Check("paid to the requested address", FAILED, f"the requested address is invalid: {exc}")
    checks.append(script_check)
    if challenged:
        checks.append(Check("paid once", FAILED, "paid on Bitcoin AND challenged on Hemi: the reserve paid twice"))
    finalized = finalization_of(w, at)
    if finalized is None:
        checks.append(Check("finalized on Hemi", PENDING, "waiting for finalizeWithdrawal on the vault"))
    else:
        evidence["finalize_tx"] = "0x" + bytes(finalized.hash).hex()
        checks.append(Check("finalized on Hemi", VERIFIED, f"finalized in Hemi block {finalized.block.number}"))
    return Link("Bitcoin payout", tuple(checks), evidence)


def withdrawal_status(link: Link) -> str:
    """One word for lists: pending, paid, finalized, challenged or failed."""
    names = {c.name: c for c in link.checks}
    paid = names.get("paid on Bitcoin")
    if paid is not None and paid.verdict == FAILED:  # only ever failed when challenged unpaid
        return "challenged"
    if link.verdict == FAILED:
        return "failed"
    if paid is None or paid.verdict == PENDING:
        return "pending"
    return "finalized" if names["finalized on Hemi"].verdict == VERIFIED else "paid"


def recent_withdrawals(limit: int = 100):
    return (
        WithdrawalInitiation.objects.filter(canonical=True)
        .select_related("block", "transaction")
        .order_by("-block__number", "-log__log_index")[:limit]
    )
