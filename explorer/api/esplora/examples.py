"""Schema examples of the Esplora answers (devnet-like values; checked against their schemas by
tests/explorer/api/test_api_schema.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

_HASH = "3f5c4c2b1e0d9a8b7c6d5e4f30211203f4e5d6c7b8a9f0e1d2c3b4a596877869"
_PREV = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"
_TXID = "a5e7c5f55a02f015f3e7113eaaf624829dfe0f7ba4376870b172fd87fb81ac56"

BLOCK_BODY = {
    "id": _HASH, "height": 120, "version": 536870912, "timestamp": 1765012345, "tx_count": 3, "size": 1187,
    "weight": None, "merkle_root": "6d0f" + "00" * 30, "previousblockhash": _PREV, "mediantime": 1765012330,
    "nonce": 2, "bits": 545259519, "difficulty": 4.656542373906925e-10,
}  # fmt: skip
BLOCK = OpenApiExample("block", value=BLOCK_BODY, response_only=True)
MEMPOOL_BLOCK = OpenApiExample("block", value={**BLOCK_BODY, "stale": False}, response_only=True)
# drf-spectacular shows a list operation's example as a one-item list: these are the items.
BLOCKS = OpenApiExample("blocks", value=BLOCK_BODY, response_only=True)
MEMPOOL_BLOCKS = OpenApiExample("blocks", value={**BLOCK_BODY, "stale": False}, response_only=True)
BLOCK_STATUS = OpenApiExample(
    "status", value={"in_best_chain": True, "height": 120, "next_best": _PREV}, response_only=True
)
TX_STATUS_BODY = {"confirmed": True, "block_height": 120, "block_hash": _HASH, "block_time": 1765012345}
TX_STATUS = OpenApiExample("status", value=TX_STATUS_BODY, response_only=True)
_P2PKH = "76a914" + "41" * 20 + "88ac"
_OUT = {
    "scriptpubkey": _P2PKH,
    "scriptpubkey_asm": "OP_DUP OP_HASH160 OP_PUSHBYTES_20 " + "41" * 20 + " OP_EQUALVERIFY OP_CHECKSIG",
    "scriptpubkey_type": "p2pkh",
    "scriptpubkey_address": "RFsVn1RYbkbt3mpzt3q1Th2QoXXkFwZVbD",
    "value": 10_000_000_000,
}
_OP_RETURN = {
    "scriptpubkey": "6a14" + "c0" * 20,
    "scriptpubkey_asm": "OP_RETURN OP_PUSHBYTES_20 " + "c0" * 20,
    "scriptpubkey_type": "op_return",
    "value": 0,
}
TX = OpenApiExample(
    "deposit",
    value={
        "txid": _TXID, "version": 2, "locktime": 0,
        "vin": [{"txid": _PREV, "vout": 0, "prevout": {**_OUT, "value": 10_000_100_000}, "scriptsig": "4730",
                 "scriptsig_asm": "OP_PUSHBYTES_71 30", "is_coinbase": False, "sequence": 4294967295}],
        "vout": [_OUT, _OP_RETURN],
        "size": 226, "weight": 904, "fee": 100_000, "status": TX_STATUS_BODY,
    },
    response_only=True,
)  # fmt: skip
MERKLE_PROOF = OpenApiExample(
    "proof", value={"block_height": 120, "merkle": [_PREV, _HASH], "pos": 1}, response_only=True
)
