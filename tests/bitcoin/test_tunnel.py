"""Tunnel deposits and withdrawal payouts, read the way SimpleBitcoinVault reads them."""

from __future__ import annotations

import pytest

from indexer.bitcoin.tunnel import (
    MIN_DEPOSIT_SATS,
    TunnelDeposit,
    check_deposit,
    find_deposit,
    find_withdrawal_payout,
    withdrawal_index_from_op_return,
)

VAULT_SCRIPT = bytes.fromhex("0014") + b"\xaa" * 20  # P2WPKH custody script
OTHER_VAULT_SCRIPT = bytes.fromhex("5120") + b"\xbb" * 32  # P2TR
VAULTS = {VAULT_SCRIPT: "vault-0", OTHER_VAULT_SCRIPT: "vault-1"}
ADDRESS = bytes.fromhex("d5115a20f25da7e9740e4fe6feeb151e90e277d6")
BINARY_RECIPIENT = b"\x6a\x14" + ADDRESS
ASCII_UPPER = b"\x6a\x28" + ADDRESS.hex().upper().encode()
ASCII_LOWER = b"\x6a\x28" + ADDRESS.hex().encode()
CHANGE = bytes.fromhex("76a914") + b"\xcc" * 20 + bytes.fromhex("88ac")


def test_binary_recipient_deposit(make_tx):
    tx = make_tx([(2_500_000, VAULT_SCRIPT), (0, BINARY_RECIPIENT), (10_000, CHANGE)])
    assert find_deposit(tx, VAULTS) == TunnelDeposit(
        txid_display=tx.txid_display,
        vout=0,
        vault="vault-0",
        value_sats=2_500_000,
        recipient="0x" + ADDRESS.hex(),
        recipient_format="binary",
        recipient_vout=1,
    )


@pytest.mark.parametrize(
    "script", [ASCII_UPPER, ASCII_LOWER, b"\x6a\x28" + b"D5115A20f25da7e9740e4fe6FEEB151e90e277d6"]
)
def test_ascii_hex_recipient_any_case(make_tx, script):
    # The portal writes upper case; the contract parses hex case-insensitively.
    tx = make_tx([(10_000, CHANGE), (0, script), (MIN_DEPOSIT_SATS, VAULT_SCRIPT)])
    deposit = find_deposit(tx, VAULTS)
    assert deposit is not None
    assert (deposit.vout, deposit.value_sats, deposit.recipient) == (
        2,
        MIN_DEPOSIT_SATS,
        "0x" + ADDRESS.hex(),
    )
    assert (deposit.recipient_format, deposit.recipient_vout) == ("ascii-hex", 1)


def test_push_opcode_byte_is_not_checked(make_tx):
    tx = make_tx([(MIN_DEPOSIT_SATS, VAULT_SCRIPT), (0, b"\x6a\x99" + ADDRESS)])
    assert find_deposit(tx, VAULTS).recipient == "0x" + ADDRESS.hex()


def test_first_matching_op_return_wins_and_other_lengths_are_skipped(make_tx):
    other = bytes.fromhex("1111111111111111111111111111111111111111")
    tx = make_tx(
        [
            (0, b"\x6a\x15" + b"\x00" * 21),  # 23 bytes: skipped
            (0, b"\x6a\x14" + other),  # first 22-byte OP_RETURN: wins
            (0, BINARY_RECIPIENT),
            (MIN_DEPOSIT_SATS, VAULT_SCRIPT),
        ]
    )
    assert find_deposit(tx, VAULTS).recipient == "0x" + other.hex()


def test_recipient_in_output_8_is_ignored(make_tx):
    outputs = [(MIN_DEPOSIT_SATS, VAULT_SCRIPT)] + [(1000, CHANGE)] * 7 + [(0, BINARY_RECIPIENT)]
    tx = make_tx(outputs)
    assert len(tx.outputs) == 9
    assert check_deposit(tx, VAULTS).reason == "no-recipient"


def test_vault_output_beyond_index_7_is_ignored(make_tx):
    outputs = [(0, BINARY_RECIPIENT)] + [(1000, CHANGE)] * 7 + [(MIN_DEPOSIT_SATS, VAULT_SCRIPT)]
    assert check_deposit(make_tx(outputs), VAULTS).reason == "no-vault-output"


def test_two_vault_outputs_give_one_deposit(make_tx):
    tx = make_tx([(3_000_000, VAULT_SCRIPT), (4_000_000, VAULT_SCRIPT), (0, BINARY_RECIPIENT)])
    deposit = find_deposit(tx, VAULTS)
    assert (deposit.vout, deposit.value_sats) == (0, 3_000_000)


def test_below_minimum(make_tx):
    tx = make_tx([(MIN_DEPOSIT_SATS - 1, VAULT_SCRIPT), (0, BINARY_RECIPIENT)])
    assert check_deposit(tx, VAULTS).reason == "below-minimum"
    # ... but a later qualifying output to the vault still counts (the operator picks the index)
    tx = make_tx([(999, VAULT_SCRIPT), (0, BINARY_RECIPIENT), (MIN_DEPOSIT_SATS, OTHER_VAULT_SCRIPT)])
    deposit = find_deposit(tx, VAULTS)
    assert (deposit.vout, deposit.vault) == (2, "vault-1")


def test_invalid_ascii_hex_reverts_without_trying_later_outputs(make_tx):
    bad = b"\x6a\x28" + b"z" * 40
    tx = make_tx([(MIN_DEPOSIT_SATS, VAULT_SCRIPT), (0, bad), (0, BINARY_RECIPIENT)])
    assert check_deposit(tx, VAULTS).reason == "recipient-bad-hex"


def test_zero_address_is_refused(make_tx):
    tx = make_tx([(MIN_DEPOSIT_SATS, VAULT_SCRIPT), (0, b"\x6a\x14" + b"\x00" * 20)])
    assert check_deposit(tx, VAULTS).reason == "recipient-zero-address"


def test_not_a_tunnel_transaction(make_tx):
    tx = make_tx([(MIN_DEPOSIT_SATS, CHANGE), (0, BINARY_RECIPIENT)])
    check = check_deposit(tx, VAULTS)
    assert (check.deposit, check.reason) == (None, "no-vault-output")
    assert find_deposit(tx, {}) is None


SWEEP_TXID = b"\x5e" * 32
VAULT_UTXOS = {(SWEEP_TXID, 1): "vault-0"}


def test_withdrawal_payout_with_change(make_tx):
    payout = bytes.fromhex("0014") + b"\x01" * 20
    tx = make_tx(
        [(1_990_000, payout), (50_000_000, VAULT_SCRIPT), (0, b"\x6a\x04" + (7).to_bytes(4, "big"))],
        inputs=[(SWEEP_TXID, 1, b"")],
        witnesses=[[b"\x30" * 72, b"\x02" * 33]],
    )
    found = find_withdrawal_payout(tx, VAULT_UTXOS, VAULTS)
    assert found is not None
    assert (found.vault, found.withdrawal_index, found.payout_script) == ("vault-0", 7, payout)
    assert (found.amount_sats, found.change_sats, found.op_return_vout) == (1_990_000, 50_000_000, 2)


def test_withdrawal_payout_that_empties_the_vault(make_tx):
    tx = make_tx(
        [(1_000_000, CHANGE), (0, b"\x6a\x08" + (0xDEADBEEF).to_bytes(4, "big") + b"\x00" * 4)],
        inputs=[(SWEEP_TXID, 1, b"\x00")],
    )
    found = find_withdrawal_payout(tx, VAULT_UTXOS, VAULTS)
    assert (found.withdrawal_index, found.change_sats, found.op_return_vout) == (0xDEADBEEF, None, 1)


def test_withdrawal_shape_rules(make_tx):
    op_return = (0, b"\x6a\x04\x00\x00\x00\x01")
    # not spending the sweep UTXO
    assert find_withdrawal_payout(make_tx([(1, CHANGE), op_return]), VAULT_UTXOS, VAULTS) is None
    spend = [(SWEEP_TXID, 1, b"")]
    # two inputs
    two = make_tx([(1, CHANGE), op_return], inputs=[*spend, (b"\x01" * 32, 0, b"")])
    assert find_withdrawal_payout(two, VAULT_UTXOS, VAULTS) is None
    # change not paid to the same vault
    wrong_change = make_tx([(1, CHANGE), (5, OTHER_VAULT_SCRIPT), op_return], inputs=spend)
    assert find_withdrawal_payout(wrong_change, VAULT_UTXOS, VAULTS) is None
    # four outputs, or a non-zero OP_RETURN value, or no OP_RETURN
    four = make_tx([(1, CHANGE), (5, VAULT_SCRIPT), op_return, op_return], inputs=spend)
    assert find_withdrawal_payout(four, VAULT_UTXOS, VAULTS) is None
    paid = make_tx([(1, CHANGE), (1, op_return[1])], inputs=spend)
    assert find_withdrawal_payout(paid, VAULT_UTXOS, VAULTS) is None
    assert (
        find_withdrawal_payout(make_tx([(1, CHANGE), (0, CHANGE)], inputs=spend), VAULT_UTXOS, VAULTS) is None
    )


def test_withdrawal_index_offset_follows_the_contract():
    assert withdrawal_index_from_op_return(b"\x6a\x04\x00\x00\x01\x00") == 256
    # longer than 77 bytes: OP_PUSHDATA1 + length byte, data from byte 3
    long_script = b"\x6a\x4c\x4c" + (42).to_bytes(4, "big") + b"\x00" * 72
    assert len(long_script) == 79
    assert withdrawal_index_from_op_return(long_script) == 42
    assert withdrawal_index_from_op_return(b"\x6a\x04\x00\x00\x01") is None
    assert withdrawal_index_from_op_return(b"\x51\x04\x00\x00\x01\x00") is None
