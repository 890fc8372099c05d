"""Esplora's tx/:txid over stored rows, without a node: the fee and prevouts come only from the
spent outputs kept at ingest (null until then, never guessed), hashes in display order, and a
transaction only mined in an orphaned block reads unconfirmed."""

from __future__ import annotations

from indexer.bitcoin import prevouts
from indexer.bitcoin.decode import TxOut, decode_tx
from tests.bitcoin.conftest import VECTOR_A_RAW


def _store(chains, block, raw: bytes):
    tx = decode_tx(raw)
    return chains.btc.BitcoinTransaction.objects.create(
        block=block, txid_internal=tx.txid_internal, tx_index=3, raw=raw, merkle_branch=b"\x11" * 32 + b"\x22" * 32
    )


def test_fee_and_prevouts_are_null_until_kept_then_exact(client, chains):
    btc = chains.btc_chain(5)
    row = _store(chains, btc[4], VECTOR_A_RAW)
    tx = decode_tx(VECTOR_A_RAW)
    url = f"/esplora/api/tx/{tx.txid_display}"
    waiting = client.get(url).json()
    assert waiting["fee"] is None and waiting["vin"][0]["prevout"] is None
    assert waiting["vin"][0]["txid"] == tx.inputs[0].prev_txid_display  # display order
    spent = TxOut(6_800_000, bytes.fromhex("76a914" + "41f4bb941bc5cbb104379f3813beed9d47d9bead" + "88ac"))
    row.prevouts = prevouts.encode([spent])
    row.save()
    kept = client.get(url).json()
    assert kept["fee"] == 6_800_000 - sum(o.value_sats for o in tx.outputs)
    assert kept["vin"][0]["prevout"]["value"] == 6_800_000
    assert kept["vin"][0]["prevout"]["scriptpubkey_type"] == "p2pkh"
    assert kept["status"] == {"confirmed": True, "block_height": 4, "block_hash": btc[4].hash_display,
                              "block_time": btc[4].time}  # fmt: skip
    assert [o["scriptpubkey_type"] for o in kept["vout"]] == ["p2pkh", "op_return"]
    assert "scriptpubkey_address" not in kept["vout"][1]  # Esplora leaves it out, never null
    proof = client.get(f"{url}/merkle-proof").json()
    assert proof == {"block_height": 4, "merkle": ["11" * 32, "22" * 32], "pos": 3}


def test_a_transaction_only_in_an_orphaned_block_is_unconfirmed(client, chains):
    btc = chains.btc_chain(5)
    btc[5].in_active_chain = False
    btc[5].save()
    _store(chains, btc[5], VECTOR_A_RAW)
    txid = decode_tx(VECTOR_A_RAW).txid_display
    assert client.get(f"/esplora/api/tx/{txid}/status").json() == {"confirmed": False}
    assert client.get(f"/esplora/api/block/{btc[5].hash_display}/status").json()["in_best_chain"] is False
    assert client.get("/esplora/api/blocks/tip/height").content == b"4"
