"""Bitcoin tunnel (SimpleBitcoinVault) transactions as the vault contract reads them (pure).

Deposits follow ``checkDepositConfirmationValidity`` and withdrawal payouts
``checkWithdrawalFinalizationValidity`` / ``extractWithdrawalIndexFromOpReturn`` of
hemilabs/bitcoin-tunnel-contracts (spec §6.2, §6.4). The contract's quirks are reproduced on
purpose, because what matters to an auditor is what the contract *would credit*:

* only outputs 0..7 are looked at (the header comment says 16; the code says 8);
* the recipient is the FIRST output among 0..7 whose script starts with 0x6a and is exactly
  22 or 42 bytes long; the push opcode byte is not checked; a 42-byte script with non-hex
  characters makes the contract revert (no later OP_RETURN is tried), and a zero address is
  refused;
* one deposit per txid, even when several outputs pay the vault.

Not checkable from Bitcoin bytes alone: the vault's deposit fee (``value > fee``), the
confirmation count, and whether the deposit was already acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from indexer.bitcoin.decode import Tx

MIN_DEPOSIT_SATS = 1_000_000  # SimpleBitcoinVault MINIMUM_DEPOSIT_SATS (0.01 BTC)
MAX_DEPOSIT_OUTPUTS = 8  # only outputs 0..7 are visible to the vault
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_ZERO_ADDRESS = b"\x00" * 20

RecipientFormat = Literal["binary", "ascii-hex"]


@dataclass(frozen=True, slots=True)
class TunnelDeposit:
    txid_display: str
    vout: int
    vault: str  # caller's identifier for the vault whose custody script was paid
    value_sats: int
    recipient: str  # 0x + 40 lower-case hex chars
    recipient_format: RecipientFormat  # 22-byte binary or 42-byte ASCII-hex OP_RETURN
    recipient_vout: int


@dataclass(frozen=True, slots=True)
class DepositCheck:
    """Outcome of ``check_deposit``: a deposit, or the reason the contract would refuse it.

    reason codes: "no-vault-output" (nothing in outputs 0..7 pays a known vault: not a tunnel
    tx at all), "below-minimum", "no-recipient", "recipient-bad-hex", "recipient-zero-address".
    """

    deposit: TunnelDeposit | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class WithdrawalPayout:
    txid_display: str
    vault: str
    withdrawal_index: int  # vault-specific index (low 32 bits of the Hemi-side uuid)
    payout_script: bytes  # output 0: the script the user asked to be paid to
    amount_sats: int  # output 0 value = requested amount minus the vault's fee
    change_sats: int | None  # output 1 back to the vault (new sweep UTXO), None if fully spent
    op_return_vout: int


def _recipient(tx: Tx) -> tuple[str, RecipientFormat, int] | str:
    """(address, format, vout) of the deposit's recipient, or a reason code."""
    for vout, out in enumerate(tx.outputs[:MAX_DEPOSIT_OUTPUTS]):
        script = out.script_pubkey
        if not script or script[0] != 0x6A:
            continue
        if len(script) == 22:
            address = script[2:22]
            fmt: RecipientFormat = "binary"
        elif len(script) == 42:
            text = script[2:42]
            if not _HEX_DIGITS.issuperset(text):
                return "recipient-bad-hex"  # the contract reverts here; no later output is tried
            address = bytes.fromhex(text.decode("ascii"))
            fmt = "ascii-hex"
        else:
            continue
        if address == _ZERO_ADDRESS:
            return "recipient-zero-address"
        return "0x" + address.hex(), fmt, vout
    return "no-recipient"


def check_deposit(tx: Tx, vault_scripts: Mapping[bytes, str]) -> DepositCheck:
    """Would a vault credit this transaction? ``vault_scripts`` maps custody scriptPubKey -> id.

    1. Find the first output among 0..7 that pays a known vault script with at least
       MIN_DEPOSIT_SATS (the operator may claim any output index, so a smaller earlier payment
       does not hide a later qualifying one).
    2. Extract the recipient exactly as the contract does (``_recipient``).
    """
    paid_vault = False
    for vout, out in enumerate(tx.outputs[:MAX_DEPOSIT_OUTPUTS]):
        vault = vault_scripts.get(out.script_pubkey)
        if vault is None:
            continue
        paid_vault = True
        if out.value_sats < MIN_DEPOSIT_SATS:
            continue
        found = _recipient(tx)
        if isinstance(found, str):
            return DepositCheck(None, found)
        recipient, fmt, recipient_vout = found
        deposit = TunnelDeposit(tx.txid_display, vout, vault, out.value_sats, recipient, fmt, recipient_vout)
        return DepositCheck(deposit)
    return DepositCheck(None, "below-minimum" if paid_vault else "no-vault-output")


def find_deposit(tx: Tx, vault_scripts: Mapping[bytes, str]) -> TunnelDeposit | None:
    return check_deposit(tx, vault_scripts).deposit


def withdrawal_index_from_op_return(script: bytes) -> int | None:
    """The contract's ``extractWithdrawalIndexFromOpReturn``: 4 bytes big-endian at script byte
    2, or 3 when the script is longer than 77 bytes (then the push is OP_PUSHDATA1 + length).
    None where the contract would revert (shorter than 6 bytes or not starting with 0x6a)."""
    if len(script) < 6 or script[0] != 0x6A:
        return None
    cursor = 3 if len(script) > 77 else 2
    return int.from_bytes(script[cursor : cursor + 4], "big")


def find_withdrawal_payout(
    tx: Tx,
    vault_utxos: Mapping[tuple[bytes, int], str],
    vault_scripts: Mapping[bytes, str],
) -> WithdrawalPayout | None:
    """Recognise an operator's withdrawal payout.

    ``vault_utxos`` maps (prev txid internal, vout) of vault sweep UTXOs -> vault id;
    ``vault_scripts`` maps custody scriptPubKey -> vault id (for the change output).

    1. Exactly one input, spending a known vault UTXO.
    2. Two or three outputs. With three, output 1 must pay the same vault's script (change /
       new sweep) and output 2 is the OP_RETURN; with two, output 1 is the OP_RETURN.
    3. The OP_RETURN carries the withdrawal index and has value 0.
    Whether the index and amount match a pending withdrawal is for the caller (Hemi side).
    """
    inputs = tx.inputs
    if len(inputs) != 1:
        return None
    vault = vault_utxos.get((inputs[0].prev_txid_internal, inputs[0].vout))
    if vault is None:
        return None
    outputs = tx.outputs
    if len(outputs) == 3:
        if vault_scripts.get(outputs[1].script_pubkey) != vault:
            return None
        change: int | None = outputs[1].value_sats
        op_vout = 2
    elif len(outputs) == 2:
        change, op_vout = None, 1
    else:
        return None
    op_return = outputs[op_vout]
    index = withdrawal_index_from_op_return(op_return.script_pubkey)
    if index is None or op_return.value_sats != 0:
        return None
    return WithdrawalPayout(
        txid_display=tx.txid_display,
        vault=vault,
        withdrawal_index=index,
        payout_script=outputs[0].script_pubkey,
        amount_sats=outputs[0].value_sats,
        change_sats=change,
        op_return_vout=op_vout,
    )
