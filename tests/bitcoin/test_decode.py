"""Block and transaction decoding against real testnet3 bytes and python-bitcoinlib."""

from __future__ import annotations

import struct

import pytest
from bitcoin.core import CBlock, CTransaction

from indexer.bitcoin import decode as d
from indexer.bitcoin.decode import (
    AbsurdCount,
    BadSegwitFlag,
    BadVarint,
    BitcoinDecodeError,
    EmptyBlock,
    MerkleRootMismatch,
    MutatedMerkleTree,
    NoInputs,
    SuperfluousWitness,
    TrailingBytes,
    TruncatedData,
    decode_block,
    decode_header,
    decode_tx,
)
from indexer.bitcoin.merkle import merkle_branch, merkle_root, verify_merkle_branch, witness_commitment_ok
from indexer.hashing import display_to_internal, dsha256

BLOCK_HASH = "00000000055a5c34a021ab3b1f3f6f0304b403775feb9e5a235dc7f724c5833f"


def test_vector_a_transaction_decodes_field_by_field(vector_a_raw):
    tx = decode_tx(vector_a_raw)

    assert tx.txid_display == "3b86ff14a739baf19a8cfa96c3e360757c9556564693794beaaa87bff88fe328"
    assert tx.txid_internal == display_to_internal(tx.txid_display) == dsha256(vector_a_raw)
    assert tx.wtxid_internal == tx.txid_internal
    assert (tx.version, tx.locktime) == (2, 3802507)
    assert (tx.size, tx.base_size, tx.weight, tx.vsize) == (283, 283, 1132, 283)
    assert tx.raw == vector_a_raw
    assert not tx.has_witness and not tx.is_coinbase

    (txin,) = tx.inputs
    assert txin.prev_txid_internal == bytes.fromhex(
        "4d6488a9a660c0ee9f56316864dc24c1f80e71ab410fff1a898a45a86b963f12"
    )
    assert txin.prev_txid_display == "123f966ba8458a891aff0f41ab710ef8c124dc646831569feec060a6a988644d"
    assert (txin.vout, txin.sequence, txin.witness) == (0, 0xFFFFFFFF, ())
    assert len(txin.script_sig) == 106 and txin.script_sig[0] == 0x47
    assert txin.script_sig.endswith(
        bytes.fromhex("2102e730d9295a286edceb8d1f11d650bc3880b9ca6e321cbc23791b7eb2e3c9dafb")
    )
    assert tx.first_input_script_sig == txin.script_sig

    change, pop = tx.outputs
    assert change.value_sats == 6704028
    assert change.script_pubkey == bytes.fromhex("76a91441f4bb941bc5cbb104379f3813beed9d47d9bead88ac")
    assert pop.value_sats == 0
    assert len(pop.script_pubkey) == 83 and pop.script_pubkey[:8] == bytes.fromhex("6a4c5048454d4901")


def test_fixture_block_header_and_counts(block, block_raw):
    assert block.hash_display == BLOCK_HASH
    assert block.hash_internal == dsha256(block_raw[:80])
    assert block.version == 0x20000000
    # The parent is block 3802508, the block of spec vector (a).
    assert (
        block.header.prev_hash_display == "0000000000000006200009cf36af2bbcb1362b887b4e2625113b6b44327435b8"
    )
    assert (
        block.header.merkle_root_display == "e7807e3b68aa44b51649d4ea4cc133993f26d6a9726c197d4be354ae0ebc538f"
    )
    assert (block.time, block.bits, block.nonce) == (1739804329, 0x1D00FFFF, 2647526930)
    assert block.tx_count == len(block.txs) == len(block.txids_internal) == 3525
    assert block.txs[-1].txid_display == "e5a64df63610bf8de0b01aa5e4e0f45d2bf381cd365076723bdcc545da110418"
    assert sum(tx.size for tx in block.txs) == len(block_raw) - 80 - 3  # 3525 needs a 3-byte varint


def test_every_txid_matches_python_bitcoinlib(block, block_raw):
    reference = CBlock.deserialize(block_raw)
    assert [tx.GetTxid() for tx in reference.vtx] == block.txids_internal
    assert [tx.GetHash() for tx in reference.vtx] == [tx.wtxid_internal for tx in block.txs]


def test_every_field_matches_python_bitcoinlib(block, block_raw):
    reference = CBlock.deserialize(block_raw)
    for ours, theirs in zip(block.txs, reference.vtx, strict=True):
        assert ours.raw == theirs.serialize()
        assert (ours.version, ours.locktime, ours.has_witness) == (
            theirs.nVersion,
            theirs.nLockTime,
            theirs.has_witness(),
        )
        assert ours.base_size == len(theirs.serialize({"include_witness": False}))
        assert [(i.prev_txid_internal, i.vout, i.script_sig, i.sequence) for i in ours.inputs] == [
            (i.prevout.hash, i.prevout.n, bytes(i.scriptSig), i.nSequence) for i in theirs.vin
        ]
        assert [(o.value_sats, o.script_pubkey) for o in ours.outputs] == [
            (o.nValue, bytes(o.scriptPubKey)) for o in theirs.vout
        ]
        if theirs.has_witness():
            stacks = [tuple(bytes(x) for x in w.scriptWitness.stack) for w in theirs.wit.vtxinwit]
            assert [i.witness for i in ours.inputs] == stacks


def test_segwit_transactions_in_the_block(block):
    witness_txs = [i for i, tx in enumerate(block.txs) if tx.has_witness]
    assert witness_txs == [0, 11, 915, 934]
    tx = block.txs[11]
    assert tx.txid_display == "74abbfd8c248bff5c80d894b51898bb25ef591bb00f41785765e8d01bfa65fc0"
    assert (tx.size, tx.base_size, tx.weight, tx.vsize) == (267, 199, 864, 216)
    assert tx.wtxid_internal != tx.txid_internal
    # A lone decode of the same bytes gives the same identity.
    assert decode_tx(tx.raw).txid_internal == tx.txid_internal


def test_coinbase_and_witness_commitment(block):
    coinbase = block.txs[0]
    assert coinbase.is_coinbase and not any(tx.is_coinbase for tx in block.txs[1:])
    assert coinbase.outputs[0].value_sats == 49208155
    assert coinbase.inputs[0].witness == (b"\x00" * 32,)
    assert witness_commitment_ok(block) is True


def test_op_return_spans_locate_every_op_return_output(block):
    expected = [
        (i, vout, out.script_pubkey)
        for i, tx in enumerate(block.txs)
        for vout, out in enumerate(tx.outputs)
        if out.script_pubkey[:1] == b"\x6a"
    ]
    assert [(i, v, block.raw[s:e]) for i, v, s, e in block.op_returns] == expected
    assert len(expected) == 3524  # 3521 PoP outputs + coinbase commitment + 2 other OP_RETURNs


def test_merkle_root_of_the_block_matches_header(block):
    assert merkle_root(block.txids_internal) == block.merkle_root_internal


@pytest.mark.parametrize("index", [0, 1, 2, 1000, 2047, 2048, 3523, 3524])
def test_merkle_branch_verifies_for_tx(block, index):
    branch = merkle_branch(block.txids_internal, index)
    assert len(branch) == 12  # ceil(log2(3525))
    leaf, root = block.txids_internal[index], block.merkle_root_internal
    assert verify_merkle_branch(leaf, branch, index, root)
    if index != 3524:  # the odd last leaf is its own sibling, so index ^ 1 verifies too
        assert not verify_merkle_branch(leaf, branch, index ^ 1, root)
    assert not verify_merkle_branch(block.txids_internal[(index + 1) % 3525], branch, index, root)
    assert not verify_merkle_branch(leaf, branch, index + (1 << 12), root)


def test_merkle_of_single_and_odd_lists():
    a, b, c = (dsha256(bytes([i])) for i in range(3))
    assert merkle_root([a]) == a
    assert merkle_root([a, b, c]) == dsha256(dsha256(a + b) + dsha256(c + c))
    assert merkle_branch([a, b, c], 2) == [c, dsha256(a + b)]
    with pytest.raises(ValueError):
        merkle_root([])


def test_tampered_transaction_byte_fails_the_merkle_check(block_raw):
    tampered = bytearray(block_raw)
    tampered[-10] ^= 0x01  # inside the last tx's OP_RETURN data: framing stays valid
    with pytest.raises(MerkleRootMismatch):
        decode_block(bytes(tampered))


def test_duplicated_last_transaction_is_a_mutated_tree(block, block_bytes):
    # [cb, t1, t2] and [cb, t1, t2, t2] share a merkle root (CVE-2012-2459).
    raws = [block.txs[i].raw for i in range(3)]
    root = merkle_root(block.txids_internal[:3])
    fields = (0x20000000, b"\x00" * 32, root, 0, 0x207FFFFF, 0)
    assert decode_block(block_bytes(fields, raws)).tx_count == 3
    with pytest.raises(MutatedMerkleTree):
        decode_block(block_bytes(fields, [*raws, raws[2]]))


def test_header_must_be_exactly_80_bytes(block_raw):
    header = decode_header(block_raw[:80])
    assert header.hash_display == BLOCK_HASH
    with pytest.raises(TruncatedData):
        decode_header(block_raw[:79])
    with pytest.raises(TrailingBytes):
        decode_header(block_raw[:81])


def test_trailing_and_truncated_bytes(vector_a_raw, block_raw):
    with pytest.raises(TrailingBytes):
        decode_tx(vector_a_raw + b"\x00")
    with pytest.raises(TrailingBytes):
        decode_block(block_raw + b"\x00")
    for cut in (0, 1, 4, 5, 40, 100, 282):
        with pytest.raises(TruncatedData):
            decode_tx(vector_a_raw[:cut])
    with pytest.raises(TruncatedData):
        decode_block(block_raw[:-1])


def test_non_canonical_varints_are_rejected(tx_bytes, block_raw):
    raw = tx_bytes([(1000, b"\x51")])
    # input count 1 written as 0xfd 0x0100
    with pytest.raises(BadVarint, match="non-canonical"):
        decode_tx(raw[:4] + b"\xfd\x01\x00" + raw[5:])
    # block tx count 3525 written with 0xfe
    with pytest.raises(BadVarint):
        decode_block(block_raw[:80] + b"\xfe" + (3525).to_bytes(4, "little") + block_raw[83:])
    # a length above Bitcoin Core's MAX_SIZE (32 MiB)
    with pytest.raises(BadVarint, match="MAX_SIZE"):
        d.read_varint(b"\xfe" + (0x02000001).to_bytes(4, "little"), 0)


def test_absurd_counts_fail_fast(tx_bytes, block_raw):
    raw = tx_bytes([(1000, b"\x51")])
    with pytest.raises(AbsurdCount):  # 0x01ffffff inputs in ~60 bytes
        decode_tx(raw[:4] + b"\xfe\xff\xff\xff\x01" + raw[5:])
    with pytest.raises(AbsurdCount):
        decode_block(block_raw[:80] + b"\xfe\xff\xff\xff\x01" + block_raw[83:])


def test_segwit_marker_rules(tx_bytes):
    segwit = tx_bytes([(1000, b"\x51")], witnesses=[[b"\x01" * 72, b"\x02" * 33]])
    tx = decode_tx(segwit)
    assert tx.has_witness and tx.inputs[0].witness == (b"\x01" * 72, b"\x02" * 33)
    assert tx.txid_internal == dsha256(tx_bytes([(1000, b"\x51")]))
    assert CTransaction.deserialize(segwit).GetTxid() == tx.txid_internal
    with pytest.raises(BadSegwitFlag):
        decode_tx(segwit[:5] + b"\x00" + segwit[6:])
    with pytest.raises(BadSegwitFlag):
        decode_tx(segwit[:5] + b"\x02" + segwit[6:])
    with pytest.raises(SuperfluousWitness):
        decode_tx(tx_bytes([(1000, b"\x51")], witnesses=[[]]))


def test_transaction_without_inputs_is_rejected(tx_bytes):
    with pytest.raises(NoInputs):
        decode_tx(tx_bytes([(1000, b"\x51")], inputs=[], witnesses=[]))


def test_block_without_transactions_is_rejected(block_raw):
    with pytest.raises(EmptyBlock):
        decode_block(block_raw[:80] + b"\x00")


def test_output_value_is_signed_like_core(tx_bytes):
    tx = decode_tx(tx_bytes([(-1, b"")]))
    assert tx.outputs[0].value_sats == -1 and tx.outputs[0].script_pubkey == b""


def test_errors_are_value_errors():
    assert issubclass(BitcoinDecodeError, ValueError)
    with pytest.raises(BitcoinDecodeError):
        decode_block(b"")
    with pytest.raises(BitcoinDecodeError):
        decode_tx(struct.pack("<I", 2))
