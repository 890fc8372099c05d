"""Consensus encodings of Hemi transactions and receipts, rebuilt from mapped RPC JSON.

Why: the explorer must not trust a node's ``hash``/``transactionsRoot``/``receiptsRoot`` blindly.
Re-encoding each transaction gives ``keccak256(raw) == tx.hash`` and the leaves of the
transactions trie; re-encoding receipts gives the leaves of the receipts trie (see ``headers.py``).

Encodings (EIP-2718 typed envelope = ``type || rlp(payload)``; legacy = bare ``rlp(list)``):

====== =====================================================================================
type   payload list
====== =====================================================================================
0x00   [nonce, gasPrice, gas, to, value, data, v, r, s]  (v already carries EIP-155 chain id)
0x01   [chainId, nonce, gasPrice, gas, to, value, data, accessList, yParity, r, s]
0x02   [chainId, nonce, tip, feeCap, gas, to, value, data, accessList, yParity, r, s]
0x03   [chainId, nonce, tip, feeCap, gas, to, value, data, accessList, blobFeeCap,
       blobHashes, yParity, r, s]   (canonical form, no blob sidecar)
0x04   [chainId, nonce, tip, feeCap, gas, to, value, data, accessList,
       [[chainId, address, nonce, yParity, r, s], …], yParity, r, s]
0x7C   [to, gas, data]   Hemi Bitcoin attributes deposited (``to`` may be nil = empty string)
0x7D   [to, gas, data]   Hemi PoP payout
0x7E   [sourceHash, from, to, mint, value, gas, isSystemTx, data]   OP deposit
====== =====================================================================================

Receipts as op-geth hashes them (``Receipts.EncodeIndex``): ``[status, cumulativeGas, bloom,
logs]``; for 0x7E deposit receipts ``depositNonce`` and ``depositReceiptVersion`` are appended
only when the receipt has a ``depositReceiptVersion`` (Canyon and later) - Regolith receipts
carry a deposit nonce that op-geth "inadvertently" left out of the root. 0x7C/0x7D receipts are
hashed without their nonces.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.hashing import keccak256
from indexer.hemi.records import (
    ACCESS_LIST_TX,
    BLOB_TX,
    DEPOSIT_TX,
    DYNAMIC_FEE_TX,
    LEGACY_TX,
    SET_CODE_TX,
    SYSTEM_TX_TYPES,
    AccessListEntry,
    HemiReceipt,
    HemiTransaction,
)
from indexer.hemi.rlpfast import encode_int, encode_list, encode_string, wrap_list

# Gas of every 0x7C/0x7D transaction op-node/op-geth build (the Regolith system-tx gas).
SYSTEM_TX_GAS = 1_000_000


class TransactionEncodeError(ValueError):
    """A mapped transaction lacks a field its type needs for the consensus encoding."""


class TransactionHashMismatch(ValueError):
    """keccak256 of the re-encoded transaction differs from the hash the node reported."""

    def __init__(self, reported: bytes, computed: bytes) -> None:
        self.reported = reported
        self.computed = computed
        super().__init__(
            f"transaction hash mismatch: node says 0x{reported.hex()}, bytes hash to 0x{computed.hex()}"
        )


class SystemTxDecodeError(ValueError):
    """Bytes that are not a canonical 0x7C/0x7D envelope."""


def int_to_be(value: int) -> bytes:
    """Minimal big-endian bytes; 0 -> b"" (RLP's canonical integer form)."""
    if value < 0:
        raise TransactionEncodeError(f"negative integer {value} has no RLP encoding")
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _need(value: int | None, name: str, tx_type: int) -> int:
    if value is None:
        raise TransactionEncodeError(f"type 0x{tx_type:02x} transaction needs {name}")
    return value


def _access_list(entries: tuple[AccessListEntry, ...] | None) -> list:
    return [[e.address, e.storage_keys] for e in entries or ()]


def _to(tx: HemiTransaction) -> bytes:
    return tx.to_address if tx.to_address is not None else b""


def transaction_payload(tx: HemiTransaction) -> list:
    """The RLP list that follows the type byte: bytes, non-negative ints (``rlpfast`` encodes
    an int as its minimal big-endian string) and nested lists."""
    t = tx.tx_type
    if t == LEGACY_TX:  # the most common types first: this runs for every transaction
        return [
            tx.nonce,
            _need(tx.gas_price, "gasPrice", t),
            tx.gas,
            _to(tx),
            tx.value,
            tx.input,
            _need(tx.v, "v", t),
            _need(tx.r, "r", t),
            _need(tx.s, "s", t),
        ]
    if t in SYSTEM_TX_TYPES:
        return [_to(tx), tx.gas, tx.input]
    if t == DEPOSIT_TX:
        if tx.source_hash is None:
            raise TransactionEncodeError("deposit transaction needs sourceHash")
        is_system = b"\x01" if tx.is_system_tx else b""  # RLP bool: true = 0x01, false = empty
        # mint: nil and 0 both encode as the empty string
        return [tx.source_hash, tx.from_address, _to(tx), tx.mint or 0, tx.value, tx.gas, is_system, tx.input]

    chain_id = _need(tx.chain_id, "chainId", t)
    signature = [_need(tx.y_parity, "yParity", t), _need(tx.r, "r", t), _need(tx.s, "s", t)]
    access_list = _access_list(tx.access_list)
    if t == ACCESS_LIST_TX:
        gas_price = _need(tx.gas_price, "gasPrice", t)
        return [chain_id, tx.nonce, gas_price, tx.gas, _to(tx), tx.value, tx.input, access_list, *signature]
    tip = _need(tx.max_priority_fee_per_gas, "maxPriorityFeePerGas", t)
    fee_cap = _need(tx.max_fee_per_gas, "maxFeePerGas", t)
    body = [chain_id, tx.nonce, tip, fee_cap, tx.gas, _to(tx), tx.value, tx.input, access_list]
    if t == DYNAMIC_FEE_TX:
        return [*body, *signature]
    if t == BLOB_TX:
        if tx.blob_versioned_hashes is None:
            raise TransactionEncodeError("type 0x03 transaction needs blobVersionedHashes")
        blob_fee_cap = _need(tx.max_fee_per_blob_gas, "maxFeePerBlobGas", t)
        return [*body, blob_fee_cap, tx.blob_versioned_hashes, *signature]
    if t == SET_CODE_TX:
        if tx.authorization_list is None:
            raise TransactionEncodeError("type 0x04 transaction needs authorizationList")
        auths = [[a.chain_id, a.address, a.nonce, a.y_parity, a.r, a.s] for a in tx.authorization_list]
        return [*body, auths, *signature]
    raise TransactionEncodeError(f"no encoding for transaction type 0x{t:02x}")


# The type byte of each EIP-2718 envelope, prebuilt (one per transaction otherwise).
_TYPE_BYTE = tuple(bytes((t,)) for t in range(256))


def encode_transaction(tx: HemiTransaction) -> bytes:
    """Canonical consensus bytes (what ``eth_getRawTransactionBy*`` returns and the trie stores)."""
    payload = encode_list(transaction_payload(tx))
    if tx.tx_type == LEGACY_TX:
        return payload
    return _TYPE_BYTE[tx.tx_type] + payload


def compute_transaction_hash(tx: HemiTransaction) -> bytes:
    return keccak256(encode_transaction(tx))


def verify_transaction_hash(tx: HemiTransaction) -> None:
    computed = compute_transaction_hash(tx)
    if computed != tx.hash:
        raise TransactionHashMismatch(tx.hash, computed)


# --------------------------------------------------------------------------- receipts


def encode_receipt(receipt: HemiReceipt) -> bytes:
    """The receipt bytes that are the leaf of the receipts trie (op-geth ``EncodeIndex``)."""
    if receipt.status is not None:
        status = b"\x01" if receipt.status == 1 else b""
    elif receipt.root is not None:
        status = receipt.root
    else:
        raise TransactionEncodeError("receipt has neither status nor root")
    fields = [
        encode_string(status), encode_int(receipt.cumulative_gas_used), encode_string(receipt.logs_bloom),
        wrap_list(b"".join([_encode_log(log.address, log.topics, log.data) for log in receipt.logs])),
    ]  # fmt: skip
    if receipt.tx_type == DEPOSIT_TX and receipt.deposit_receipt_version is not None:
        if receipt.deposit_nonce is None:
            raise TransactionEncodeError("post-Canyon deposit receipt needs depositNonce")
        fields += [encode_int(receipt.deposit_nonce), encode_int(receipt.deposit_receipt_version)]
    payload = wrap_list(b"".join(fields))
    if receipt.tx_type == LEGACY_TX:
        return payload
    return _TYPE_BYTE[receipt.tx_type] + payload


def _encode_log(address: bytes, topics: tuple[bytes, ...], data: bytes) -> bytes:
    """RLP of ``[address, [topics...], data]``; one receipt holds several (this is the hot path).

    A 20-byte address and 32-byte topics have fixed one-byte prefixes (0x94, 0xa0); anything
    else (a record built by hand) takes the general encoder, which gives the same bytes.
    """
    if len(address) == 20 and all(len(topic) == 32 for topic in topics):
        encoded_topics = b"".join([b"\xa0" + topic for topic in topics])
        return wrap_list(b"\x94" + address + wrap_list(encoded_topics) + encode_string(data))
    return encode_list([address, topics, data])


# --------------------------------------------------------------------------- 0x7C / 0x7D envelope


@dataclass(frozen=True, slots=True)
class SystemTx:
    """A decoded Hemi system transaction envelope (0x7C or 0x7D)."""

    tx_type: int
    to_address: bytes | None
    gas: int
    data: bytes

    @property
    def hash(self) -> bytes:
        return keccak256(encode_system_tx(self.tx_type, self.to_address, self.gas, self.data))


def encode_system_tx(tx_type: int, to_address: bytes | None, gas: int, data: bytes) -> bytes:
    """``type || rlp([to, gas, data])``; a nil ``to`` is the empty string (go ``rlp:"nil"``)."""
    if tx_type not in SYSTEM_TX_TYPES:
        raise TransactionEncodeError(f"0x{tx_type:02x} is not a Hemi system transaction type")
    if to_address is not None and len(to_address) != 20:
        raise TransactionEncodeError("to must be 20 bytes or None")
    if not 0 <= gas < 2**64:
        raise TransactionEncodeError(f"gas {gas} does not fit in uint64")
    return _TYPE_BYTE[tx_type] + encode_list([to_address or b"", gas, data])


def decode_system_tx(raw: bytes, expected_type: int | None = None) -> SystemTx:
    """Strictly decode a 0x7C/0x7D envelope; re-encoding must give back the same bytes."""
    if not raw:
        raise SystemTxDecodeError("empty input")
    tx_type = raw[0]
    if tx_type not in SYSTEM_TX_TYPES:
        raise SystemTxDecodeError(f"type byte 0x{tx_type:02x} is not 0x7c or 0x7d")
    if expected_type is not None and tx_type != expected_type:
        raise SystemTxDecodeError(f"expected type 0x{expected_type:02x}, got 0x{tx_type:02x}")
    # Imported here: see mpt._decode_node (fetch workers encode, they never decode).
    import rlp
    from rlp.exceptions import DecodingError

    try:
        items = rlp.decode(raw[1:], strict=True)
    except DecodingError as exc:
        raise SystemTxDecodeError(f"invalid RLP: {exc}") from exc
    if not isinstance(items, list) or len(items) != 3:
        raise SystemTxDecodeError("payload must be an RLP list of exactly 3 items [to, gas, data]")
    to_raw, gas_raw, data = items
    if not all(isinstance(x, bytes) for x in items):
        raise SystemTxDecodeError("to, gas and data must be RLP strings")
    if len(to_raw) not in (0, 20):
        raise SystemTxDecodeError(f"to must be empty or 20 bytes, got {len(to_raw)}")
    if gas_raw[:1] == b"\x00" or len(gas_raw) > 8:
        raise SystemTxDecodeError("gas is not a canonical uint64")
    decoded = SystemTx(tx_type, to_raw or None, int.from_bytes(gas_raw, "big"), data)
    if encode_system_tx(decoded.tx_type, decoded.to_address, decoded.gas, decoded.data) != raw:
        raise SystemTxDecodeError("non-canonical encoding (re-encoding differs)")
    return decoded
