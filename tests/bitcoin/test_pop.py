"""PoP publication detection against the spec's real vectors and the real testnet3 block."""

from __future__ import annotations

import pytest

from indexer.bitcoin.decode import decode_tx
from indexer.bitcoin.pop import (
    MalformedPoP,
    classify_pop_script,
    miner_address_for_pubkey,
    miner_pubkey_from_script_sig,
    push_data_after_op_return,
    scan_block,
    scan_tx,
)
from indexer.keystone import KeystoneAbrev, LegacyKeystoneHeader

PUBKEY_A = bytes.fromhex("02e730d9295a286edceb8d1f11d650bc3880b9ca6e321cbc23791b7eb2e3c9dafb")
ADDRESS_A = "0xd5115a20f25da7e9740e4fe6feeb151e90e277d6"
SIG_71 = b"\x30" + b"\x11" * 70  # only the push length matters to the rule
P2PKH_SCRIPT_SIG = bytes([71]) + SIG_71 + bytes([33]) + PUBKEY_A


def _abrev76(version: int = 1) -> bytes:
    return KeystoneAbrev(1, 25, b"\x01" * 11, b"\x02" * 12, b"\x03" * 32, b"\x04" * 12, version).to_bytes()


def test_vector_a_publication_every_field(vector_a_raw):
    scan = scan_tx(decode_tx(vector_a_raw))
    assert scan.malformed == []
    (pop,) = scan.outputs
    assert pop.txid_display == "3b86ff14a739baf19a8cfa96c3e360757c9556564693794beaaa87bff88fe328"
    assert (pop.tx_index, pop.vout, pop.format) == (None, 1, "v1")
    ks = pop.keystone
    assert isinstance(ks, KeystoneAbrev)
    assert (ks.version, ks.l1_block_number, ks.l2_block_number) == (1, 7720859, 2634175)
    assert ks.l2_block_number == 25 * 105367
    assert ks.parent_ep_hash_prefix.hex() == "a132ab03b954874d9515f4"
    assert ks.prev_keystone_ep_hash_prefix.hex() == "d5141f39022b7382f04df2de"
    assert ks.state_root.hex() == "fb29e4ff1b58eb5af0fc9192dcbcda6f1b6f21e9c47d97953fa8f7d7551deeaa"
    assert ks.ep_hash_prefix.hex() == "7a1c0a2340624eebff6b5cbc"
    assert ks.id_internal.hex() == "c2dcb286d3854fbdc34c7f4bf2d020185f03f4c48b617d131471cb8085753115"
    assert pop.keystone_id_display == "1531758580cb7114137d618bc4f4035f1820d0f24b7f4cc3bd4f85d386b2dcc2"
    assert pop.keystone_id_display == ks.id_display
    assert pop.miner_pubkey == PUBKEY_A
    assert pop.miner_hemi_address == ADDRESS_A


def test_vector_b_is_the_first_publication_of_the_fixture_block(block):
    first = scan_block(block).outputs[0]
    assert first.txid_display == "3a10ddc3774d23900b8b3c9876f3030b4736b3f857141f419750a9ade37d3bd7"
    assert (first.tx_index, first.vout, first.format) == (1, 1, "v1")
    assert block.raw[block.op_returns[1][2] : block.op_returns[1][3]].hex() == (
        "6a4c5048454d49010075e7e300284ad8bb139394e532cd044eff00c75ffb4cedbd3b998dcff5d0"
        "dc7e0e94ae6b15773ba17f701c4c6bf5afe123c83edc7de9fd679c0f2b21d15aa47fc230991c2d62a6657489"
    )
    ks = first.keystone
    assert (ks.l1_block_number, ks.l2_block_number) == (7727075, 2640600)
    assert ks.parent_ep_hash_prefix.hex() == "bb139394e532cd044eff00"
    assert ks.prev_keystone_ep_hash_prefix.hex() == "c75ffb4cedbd3b998dcff5d0"
    assert ks.state_root.hex() == "dc7e0e94ae6b15773ba17f701c4c6bf5afe123c83edc7de9fd679c0f2b21d15a"
    assert ks.ep_hash_prefix.hex() == "a47fc230991c2d62a6657489"
    assert first.keystone_id_display == "ed65b20e1709c1fa373b603ace3f8c44a0500f4060d3f1e075431bd1d29f4e16"
    assert first.miner_pubkey.hex() == "036da92b33136ebc1fa225dbbf8b55c3e5495ce59f3fe85bf8524d6453b3f269cb"
    assert first.miner_hemi_address == "0x4591b9f8db2680bb1b5346f65c1e7cf07b5c7a87"


def test_fixture_block_statistics(block):
    scan = scan_block(block)
    assert len(scan.outputs) == 3521
    assert len({p.keystone_id_display for p in scan.outputs}) == 2909
    assert scan.malformed == []
    assert {p.format for p in scan.outputs} == {"v1"}
    assert all(p.keystone.l2_block_number % 25 == 0 for p in scan.outputs)
    assert all(p.miner_hemi_address is not None for p in scan.outputs if p.miner_pubkey is not None)
    assert sum(p.miner_pubkey is None for p in scan.outputs) == 16


def test_fast_block_scan_equals_the_generic_per_transaction_scan(block):
    generic = [p for i, tx in enumerate(block.txs) for p in scan_tx(tx, i).outputs]
    assert scan_block(block).outputs == generic


def test_keystone_id_is_the_shared_keystone_code(block):
    for pop in scan_block(block).outputs[:300]:
        assert pop.keystone_id_display == KeystoneAbrev.from_bytes(pop.keystone.to_bytes()).id_display


def test_legacy_73_byte_vector_c(vector_c_script, make_tx):
    fmt, payload = classify_pop_script(vector_c_script)
    assert fmt == "legacy" and len(payload) == 73
    header = LegacyKeystoneHeader.from_bytes(payload)
    assert header.block_number == 8463
    assert header.parent_ep_hash_prefix.hex() == "a38c96eb92aeb5ea26a4b884"
    assert header.prev_keystone_ep_hash_prefix.hex() == "4276625da50b3e1a6ff2f011"
    assert header.state_root.hex() == "5aee4544a9e6cf384276625da50b3e1aef3457bba38c96eb92aeb5ea26a4b8fd"
    assert header.ep_hash_prefix.hex() == "eaee4544a9e6cf38ef3457bb"

    tx = make_tx([(0, vector_c_script)], inputs=[(b"\x22" * 32, 1, P2PKH_SCRIPT_SIG)])
    (pop,) = scan_tx(tx).outputs
    assert (pop.format, pop.vout, pop.keystone) == ("legacy", 0, header)
    assert pop.keystone_id_display == header.id_display
    assert (pop.miner_pubkey, pop.miner_hemi_address) == (PUBKEY_A, ADDRESS_A)


@pytest.mark.parametrize(
    "push",
    [
        bytes([0x4C, 80]),  # OP_PUSHDATA1 (what miners emit)
        bytes([0x4D, 80, 0]),  # OP_PUSHDATA2, non-minimal but accepted by the tokenizer
        bytes([0x4E, 80, 0, 0, 0]),  # OP_PUSHDATA4
    ],
)
def test_any_push_opcode_carries_a_publication(push):
    script = b"\x6a" + push + b"HEMI" + _abrev76() + b"\x75\x51"  # trailing opcodes ignored
    assert classify_pop_script(script) == ("v1", _abrev76())


def test_not_publications():
    payload = b"HEMI" + _abrev76()
    assert classify_pop_script(b"\x6a") is None
    assert classify_pop_script(b"\x51\x4c\x50" + payload) is None  # not OP_RETURN first
    assert classify_pop_script(b"\x6a\x4c\x51" + payload) is None  # push runs past the end
    assert classify_pop_script(b"\x6a\x4d\x50") is None  # truncated PUSHDATA2 length
    assert classify_pop_script(b"\x6a\x00" + payload) is None  # OP_0 pushes nothing
    assert classify_pop_script(b"\x6a\x04HEMI") is None  # data must be >= 5 bytes
    assert classify_pop_script(b"\x6a\x4c\x50HEMX" + _abrev76()) is None
    assert push_data_after_op_return(b"\x6a\x03abc") == b"abc"


def test_hemi_tagged_but_malformed_pushes_are_reported_separately(make_tx):
    bad_version = b"\x6a\x4c\x50HEMI" + _abrev76(version=2)
    bad_length = b"\x6a\x4c\x51HEMI" + _abrev76() + b"\x00"
    short = b"\x6a\x06HEMI\x01\x02"
    assert classify_pop_script(bad_version) == (None, "bad-version", _abrev76(version=2))
    assert classify_pop_script(bad_length)[:2] == (None, "bad-length")
    assert classify_pop_script(short) == (None, "bad-length", b"\x01\x02")

    good = b"\x6a\x4c\x50HEMI" + _abrev76()
    tx = make_tx([(5000, b"\x51"), (0, bad_version), (0, good), (0, bad_length)])
    scan = scan_tx(tx)
    assert [p.vout for p in scan.outputs] == [2]
    assert scan.malformed == [
        MalformedPoP(tx.txid_display, None, 1, "bad-version", _abrev76(version=2)),
        MalformedPoP(tx.txid_display, None, 3, "bad-length", _abrev76() + b"\x00"),
    ]


def test_coinbase_publications_are_ignored(make_tx):
    script = b"\x6a\x4c\x50HEMI" + _abrev76()
    coinbase = make_tx([(0, script)], inputs=[(b"\x00" * 32, 0xFFFFFFFF, b"\x03\x01\x02\x03")])
    assert coinbase.is_coinbase
    assert scan_tx(coinbase).outputs == []


def test_miner_identity_rule():
    assert miner_pubkey_from_script_sig(P2PKH_SCRIPT_SIG) == PUBKEY_A
    sig72 = bytes([72]) + b"\x30" + b"\x11" * 71
    assert miner_pubkey_from_script_sig(sig72 + bytes([33]) + PUBKEY_A + b"\x51") == PUBKEY_A
    # any push opcode for the key, as long as it pushes 33 bytes
    assert miner_pubkey_from_script_sig(bytes([71]) + SIG_71 + b"\x4c\x21" + PUBKEY_A) == PUBKEY_A
    sig70 = bytes([70]) + b"\x30" + b"\x11" * 69
    assert miner_pubkey_from_script_sig(sig70 + bytes([33]) + PUBKEY_A) is None
    assert miner_pubkey_from_script_sig(b"\x4c\x47" + SIG_71 + bytes([33]) + PUBKEY_A) is None
    assert miner_pubkey_from_script_sig(bytes([71]) + SIG_71) is None
    assert miner_pubkey_from_script_sig(bytes([71]) + SIG_71[:50]) is None  # truncated signature
    uncompressed = b"\x04" + b"\x55" * 64
    assert miner_pubkey_from_script_sig(bytes([71]) + SIG_71 + bytes([65]) + uncompressed) is None
    assert miner_pubkey_from_script_sig(b"") is None  # segwit spend
    # 33 bytes with a valid prefix but an x that is not on the curve (x = 5: 5^3+7 is a non-residue)
    off_curve = b"\x02" + (5).to_bytes(32, "big")
    assert miner_address_for_pubkey(off_curve) is None
    assert miner_pubkey_from_script_sig(bytes([71]) + SIG_71 + bytes([33]) + off_curve) is None
    assert miner_address_for_pubkey(b"\x05" + PUBKEY_A[1:]) is None


def test_miner_hemi_address_is_keccak_of_the_uncompressed_key():
    assert miner_address_for_pubkey(PUBKEY_A) == ADDRESS_A
