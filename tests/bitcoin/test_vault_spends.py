"""Vault spends: every input that consumes a vault output is recorded, and each spending
transaction is summed into an outflow (payout, consolidation or other) with its network fee.
Pure detection over a real serialized block; no database (the outpoint lookup is a stub)."""

from __future__ import annotations

import struct

from indexer.bitcoin.decode import decode_block
from indexer.bitcoin.merkle import merkle_root
from indexer.bitcoin.models import VaultOutflow
from indexer.bitcoin.vaults import detect_tunnel_activity
from indexer.hashing import dsha256

VAULT = bytes.fromhex("76a914") + b"\x11" * 20 + bytes.fromhex("88ac")
OTHER_VAULT = bytes.fromhex("0014") + b"\x22" * 20
THIEF = bytes.fromhex("0014") + b"\x66" * 20
PAYEE = bytes.fromhex("76a914") + b"\x77" * 20 + bytes.fromhex("88ac")
RECIPIENT = b"\x6a\x14" + b"\xc0" * 20
OLD_UTXO = (b"\x0a" * 32, 1)  # a vault output from an earlier block: 5 BTC
OLD_UTXO_2 = (b"\x0b" * 32, 0)  # another one: 2 BTC
FOREIGN = (b"\x0f" * 32, 3)


def _op_return_index(index: int) -> bytes:
    return b"\x6a\x04" + index.to_bytes(4, "big")


def _block(txs: list[bytes]) -> bytes:
    txids = [dsha256(t) for t in txs]  # legacy serialization: txid = dsha256(bytes)
    header = struct.pack("<i32s32sIII", 2, b"\x00" * 32, merkle_root(txids), 1_700_000_000, 0x207FFFFF, 0)
    count = bytes([len(txs)])
    return header + count + b"".join(txs)


def _lookup(txids):
    known = {OLD_UTXO: (7, 500_000_000), OLD_UTXO_2: (7, 200_000_000)}
    return {k: v for k, v in known.items() if k[0] in set(txids)}


def test_each_kind_of_vault_spend_is_recorded_with_its_fee_and_destination(make_tx):
    def serialize_tx(*args, **kwargs) -> bytes:
        return make_tx(*args, **kwargs).raw

    coinbase = serialize_tx([(50 * 10**8, PAYEE)], inputs=[(b"\x00" * 32, 0xFFFFFFFF, b"\x01\x01")])
    deposit = serialize_tx([(300_000_000, VAULT), (0, RECIPIENT)], inputs=[(FOREIGN[0], 0, b"")])
    deposit_txid = dsha256(deposit)
    # A payout spending the deposit made earlier in this same block: 1 BTC out, change back.
    payout = serialize_tx(
        [(100_000_000, PAYEE), (199_990_000, VAULT), (0, _op_return_index(3))], inputs=[(deposit_txid, 0, b"")]
    )
    # Two vault outputs merged into one: only the network fee leaves.
    consolidation = serialize_tx(
        [(699_980_000, VAULT)], inputs=[(OLD_UTXO[0], OLD_UTXO[1], b""), (OLD_UTXO_2[0], OLD_UTXO_2[1], b"")]
    )
    # A vault output spent with a foreign input to somewhere else: who paid the fee is unknown.
    payout_txid = dsha256(payout)
    theft = serialize_tx([(199_000_000, THIEF), (2_000_000, OTHER_VAULT)],
                         inputs=[(payout_txid, 1, b""), (FOREIGN[0], FOREIGN[1], b"")])  # fmt: skip
    block = decode_block(_block([coinbase, deposit, payout, consolidation, theft]))

    activity = detect_tunnel_activity(block, {VAULT: 7, OTHER_VAULT: 8}, lookup=_lookup)

    spends = {(s[0], s[1]): s for s in activity.spends}
    assert spends[(2, 0)] == (2, 0, 7, deposit_txid, 0, 300_000_000)
    assert spends[(3, 0)][5] == 500_000_000 and spends[(3, 1)][5] == 200_000_000
    assert spends[(4, 0)] == (4, 0, 7, payout_txid, 1, 199_990_000)
    assert (4, 1) not in spends  # the foreign input is not a vault's
    outflows = {o[0]: o for o in activity.outflows}
    # tx_index, vault, kind, inputs, vault inputs, spent, outputs, to vault, payout, network fee
    assert outflows[2] == (2, 7, VaultOutflow.PAYOUT, 1, 1, 300_000_000, 299_990_000, 199_990_000, 100_000_000, 10_000)
    assert outflows[3] == (3, 7, VaultOutflow.CONSOLIDATION, 2, 2, 700_000_000, 699_980_000, 699_980_000, 0, 20_000)
    assert outflows[4] == (4, 7, VaultOutflow.OTHER, 2, 1, 199_990_000, 201_000_000, 2_000_000, 0, None)
    assert {1, 2, 3, 4} <= activity.tx_indexes  # every spending transaction is stored
    assert [p[2] for p in activity.payouts] == [3]
    # The change of the payout and the consolidation's output are vault outputs too.
    assert {(o[0], o[1]) for o in activity.vault_outputs} == {(1, 0), (2, 1), (3, 0), (4, 1)}


def test_a_block_that_spends_no_vault_output_records_no_outflow(make_tx):
    def serialize_tx(*args, **kwargs) -> bytes:
        return make_tx(*args, **kwargs).raw

    coinbase = serialize_tx([(50 * 10**8, PAYEE)], inputs=[(b"\x00" * 32, 0xFFFFFFFF, b"\x01\x01")])
    spend = serialize_tx([(10_000, PAYEE)], inputs=[(FOREIGN[0], FOREIGN[1], b"")])
    block = decode_block(_block([coinbase, spend]))
    activity = detect_tunnel_activity(block, {VAULT: 7}, lookup=_lookup)
    assert activity.spends == [] and activity.outflows == [] and activity.tx_indexes == set()
