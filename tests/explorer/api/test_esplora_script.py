"""Scripts as Esplora prints them (``scriptpubkey_asm``, ``scriptpubkey_type``), on the real
spec vectors and the standard templates."""

from __future__ import annotations

import pytest

from explorer.api.esplora.script import asm, script_type
from indexer.bitcoin.decode import decode_tx
from tests.bitcoin.conftest import VECTOR_A_RAW


def test_a_real_pop_transaction_prints_like_esplora():
    tx = decode_tx(VECTOR_A_RAW)
    change, pop = tx.outputs
    assert script_type(change.script_pubkey) == "p2pkh"
    assert asm(change.script_pubkey) == (
        "OP_DUP OP_HASH160 OP_PUSHBYTES_20 41f4bb941bc5cbb104379f3813beed9d47d9bead OP_EQUALVERIFY OP_CHECKSIG"
    )
    assert script_type(pop.script_pubkey) == "op_return"
    assert asm(pop.script_pubkey).startswith("OP_RETURN OP_PUSHDATA1 48454d49")  # "HEMI"
    (txin,) = tx.inputs
    sig, pubkey = asm(txin.script_sig).split(" ")[1::2]
    assert len(bytes.fromhex(sig)) == 71 and pubkey.startswith("02e730d9")


@pytest.mark.parametrize(
    ("script", "kind", "text"),
    [
        ("0014" + "11" * 20, "v0_p2wpkh", "OP_0 OP_PUSHBYTES_20 " + "11" * 20),
        ("0020" + "22" * 32, "v0_p2wsh", "OP_0 OP_PUSHBYTES_32 " + "22" * 32),
        ("5120" + "33" * 32, "v1_p2tr", "OP_PUSHNUM_1 OP_PUSHBYTES_32 " + "33" * 32),
        ("a914" + "44" * 20 + "87", "p2sh", "OP_HASH160 OP_PUSHBYTES_20 " + "44" * 20 + " OP_EQUAL"),
        ("21" + "02" * 33 + "ac", "p2pk", "OP_PUSHBYTES_33 " + "02" * 33 + " OP_CHECKSIG"),
        ("5121" + "03" * 33 + "21" + "02" * 33 + "52ae", "multisig", "OP_PUSHNUM_1 OP_PUSHBYTES_33 " + "03" * 33
         + " OP_PUSHBYTES_33 " + "02" * 33 + " OP_PUSHNUM_2 OP_CHECKMULTISIG"),
        ("", "empty", ""),
        ("b175", "unknown", "OP_CLTV OP_DROP"),
        ("4c05aabb", "unknown", "<unexpected end>"),  # a push running past the script's end
        ("ba", "unknown", "OP_RETURN_186"),
    ],
)  # fmt: skip
def test_templates_and_odd_scripts(script, kind, text):
    raw = bytes.fromhex(script)
    assert script_type(raw) == kind
    assert asm(raw) == text


def test_the_last_push_of_a_p2sh_scriptsig_is_its_redeem_script():
    from explorer.api.esplora.script import last_push

    redeem = bytes.fromhex("0014" + "aa" * 20)  # P2SH-wrapped P2WPKH
    assert last_push(bytes([len(redeem)]) + redeem) == redeem
    assert last_push(bytes.fromhex("00")) is None and last_push(bytes.fromhex("4c05aa")) is None
    assert last_push(bytes.fromhex("51")) is None  # OP_1 pushes no data bytes
