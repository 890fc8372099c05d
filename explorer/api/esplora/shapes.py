"""Esplora's JSON shapes, built from our rows, and their schema.

The builders return plain dicts because Esplora leaves fields out rather than sending null
(``scriptpubkey_address`` of an OP_RETURN, ``witness`` of a legacy input); the serializers
below only document those shapes for /api/schema/ (optional fields marked ``required=False``).
Hashes are DISPLAY byte order hex, amounts integer satoshis, times unix seconds, as Esplora.
"""

from __future__ import annotations

from rest_framework import serializers

from explorer.api.esplora.script import asm, last_push, script_type
from explorer.queries import bitcoin
from hemiscope import networks
from indexer.bitcoin import prevouts as spent
from indexer.bitcoin.address import address_from_script
from indexer.bitcoin.decode import Tx, TxOut
from indexer.bitcoin.headers import bits_to_target
from indexer.bitcoin.models import BitcoinBlock, BitcoinTransaction

# Bitcoin Core's difficulty 1 (mainnet's proof-of-work limit), the reference on every network.
_DIFFICULTY_1 = 0x00000000FFFF0000000000000000000000000000000000000000000000000000
_ZERO_HASH = bytes(32)


def _display(hash_internal) -> str:
    return bytes(hash_internal)[::-1].hex()


def difficulty(bits: int) -> float:
    try:
        return _DIFFICULTY_1 / bits_to_target(int(bits))
    except (ValueError, ZeroDivisionError):
        return 0.0


def block_json(block: BitcoinBlock) -> dict:
    prev = bytes(block.prev_hash_internal)
    return {
        "id": _display(block.hash_internal),
        "height": block.height,
        "version": int(block.version),
        "timestamp": int(block.time),
        "tx_count": block.tx_count,
        "size": block.size,
        # Weight is not indexed (a block's witness bytes are not kept): null, see the schema.
        "weight": None,
        "merkle_root": _display(block.merkle_root_internal),
        "previousblockhash": None if prev == _ZERO_HASH else prev[::-1].hex(),
        "mediantime": bitcoin.median_time_past(block),
        "nonce": int(block.nonce),
        "bits": int(block.bits),
        "difficulty": difficulty(block.bits),
    }


def block_status_json(block: BitcoinBlock) -> dict:
    status = {"in_best_chain": bool(block.in_active_chain), "height": block.height}
    child = bitcoin.block_at_height(block.height + 1) if block.in_active_chain else None
    status["next_best"] = child.hash_display if child is not None else None
    return status


def tx_status_json(row: BitcoinTransaction) -> dict:
    if not row.block.in_active_chain:  # only mined in a block a reorg left
        return {"confirmed": False}
    return {
        "confirmed": True,
        "block_height": row.block.height,
        "block_hash": _display(row.block.hash_internal),
        "block_time": int(row.block.time),
    }


def _output_json(out: TxOut, network: str) -> dict:
    script = bytes(out.script_pubkey)
    body = {
        "scriptpubkey": script.hex(),
        "scriptpubkey_asm": asm(script),
        "scriptpubkey_type": script_type(script),
        "value": out.value_sats,
    }
    address = address_from_script(script, network)
    if address is not None:
        body["scriptpubkey_address"] = address
    return body


def _input_json(tx: Tx, index: int, prevout: TxOut | None, network: str) -> dict:
    vin = tx.inputs[index]
    coinbase = tx.is_coinbase
    body: dict = {
        "txid": vin.prev_txid_display,
        "vout": vin.vout,
        "prevout": None if prevout is None else _output_json(prevout, network),
        "scriptsig": vin.script_sig.hex(),
        "scriptsig_asm": "" if coinbase else asm(vin.script_sig),
        "is_coinbase": coinbase,
        "sequence": vin.sequence,
    }
    if vin.witness:
        body["witness"] = [item.hex() for item in vin.witness]
    kind = None if prevout is None else script_type(bytes(prevout.script_pubkey))
    redeem = last_push(vin.script_sig) if kind == "p2sh" else None
    if redeem is not None:
        body["inner_redeemscript_asm"] = asm(redeem)
    # P2WSH, bare or nested in P2SH: the last witness item is the witness script.
    nested_wsh = redeem is not None and script_type(redeem) == "v0_p2wsh"
    if vin.witness and (kind == "v0_p2wsh" or nested_wsh):
        body["inner_witnessscript_asm"] = asm(vin.witness[-1])
    return body


def tx_json(row: BitcoinTransaction, tx: Tx) -> dict:
    """Esplora's transaction. ``fee`` and every ``prevout`` come from the spent outputs stored
    at ingest; where the source could not serve them they are null (never guessed)."""
    network = networks.current().bitcoin_network
    prevouts_raw = None if row.prevouts is None else bytes(row.prevouts)
    outs: list[TxOut | None]
    if tx.is_coinbase or prevouts_raw is None:
        outs = [None] * len(tx.inputs)
    else:
        outs = list(spent.decode(prevouts_raw, len(tx.inputs)))
    return {
        "txid": tx.txid_display,
        "version": tx.version,
        "locktime": tx.locktime,
        "vin": [_input_json(tx, i, outs[i], network) for i in range(len(tx.inputs))],
        "vout": [_output_json(o, network) for o in tx.outputs],
        "size": tx.size,
        "weight": tx.weight,
        "fee": spent.fee_sats(tx.raw, prevouts_raw),
        "status": tx_status_json(row),
    }


def merkle_proof_json(row: BitcoinTransaction) -> dict:
    """Electrum's ``blockchain.transaction.get_merkle``: siblings leaf to root, display order."""
    return {
        "block_height": row.block.height,
        "merkle": [node[::-1].hex() for node in row.merkle_branch_nodes()],
        "pos": row.tx_index,
    }


# --- Schema only ---------------------------------------------------------------------------------

HASH = {"help_text": "Display byte order (reversed digest), 64 hex, no 0x."}


class EsploraBlockSerializer(serializers.Serializer):
    id = serializers.CharField(**HASH)
    height = serializers.IntegerField()
    version = serializers.IntegerField()
    timestamp = serializers.IntegerField(help_text="Header time, unix seconds.")
    tx_count = serializers.IntegerField(allow_null=True, help_text="Null until the body was scanned.")
    size = serializers.IntegerField(allow_null=True, help_text="Bytes; null until the body was scanned.")
    weight = serializers.IntegerField(allow_null=True, help_text="Not indexed: always null.")
    merkle_root = serializers.CharField(**HASH)
    previousblockhash = serializers.CharField(allow_null=True, help_text="Null for the genesis block.")
    mediantime = serializers.IntegerField(allow_null=True, help_text="Median time past; null for an orphaned block.")
    nonce = serializers.IntegerField()
    bits = serializers.IntegerField()
    difficulty = serializers.FloatField()


class EsploraMempoolBlockSerializer(EsploraBlockSerializer):
    stale = serializers.BooleanField(help_text="mempool.space: true when the block left the best chain.")


class EsploraBlockStatusSerializer(serializers.Serializer):
    in_best_chain = serializers.BooleanField()
    height = serializers.IntegerField()
    next_best = serializers.CharField(allow_null=True, help_text="The best-chain child's hash, display order.")


class EsploraTxStatusSerializer(serializers.Serializer):
    confirmed = serializers.BooleanField(help_text="False: only mined in a block a reorg left.")
    block_height = serializers.IntegerField(required=False)
    block_hash = serializers.CharField(required=False, **HASH)
    block_time = serializers.IntegerField(required=False)


class EsploraOutputSerializer(serializers.Serializer):
    scriptpubkey = serializers.CharField()
    scriptpubkey_asm = serializers.CharField(allow_blank=True)
    scriptpubkey_type = serializers.CharField()
    scriptpubkey_address = serializers.CharField(required=False, help_text="Absent when the script has none.")
    value = serializers.IntegerField(help_text="Satoshis.")


class EsploraInputSerializer(serializers.Serializer):
    txid = serializers.CharField(**HASH)
    vout = serializers.IntegerField()
    prevout = EsploraOutputSerializer(allow_null=True, help_text="The spent output; null: coinbase, or unknown.")
    scriptsig = serializers.CharField(allow_blank=True)
    scriptsig_asm = serializers.CharField(allow_blank=True)
    witness = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
    is_coinbase = serializers.BooleanField()
    sequence = serializers.IntegerField()
    inner_redeemscript_asm = serializers.CharField(required=False, allow_blank=True)
    inner_witnessscript_asm = serializers.CharField(required=False, allow_blank=True)


class EsploraTxSerializer(serializers.Serializer):
    txid = serializers.CharField(**HASH)
    version = serializers.IntegerField()
    locktime = serializers.IntegerField()
    vin = EsploraInputSerializer(many=True)
    vout = EsploraOutputSerializer(many=True)
    size = serializers.IntegerField()
    weight = serializers.IntegerField()
    fee = serializers.IntegerField(allow_null=True, help_text="Satoshis; null when the spent outputs are unknown.")
    status = EsploraTxStatusSerializer()


class EsploraMerkleProofSerializer(serializers.Serializer):
    block_height = serializers.IntegerField()
    merkle = serializers.ListField(child=serializers.CharField(), help_text="Siblings leaf to root, display order.")
    pos = serializers.IntegerField(help_text="The transaction's index in its block.")
