"""Read the call target and input out of a raw (consensus-encoded) EVM transaction.

The offline evidence verifier holds only raw transaction bytes, proven against a block's
transactionsRoot; it needs the ``to`` address and calldata of any transaction type without a
node. Signatures are not checked here (nothing offline needs the sender of these calls).
"""

from __future__ import annotations

from dataclasses import dataclass

import rlp
from rlp.exceptions import DecodingError

from indexer.hemi.records import HemiLog
from indexer.hemi.rlpcodec import SystemTxDecodeError, decode_system_tx

# Position of (to, data) in each typed payload's RLP list.
_FIELDS = {
    0x01: (4, 6),  # [chainId, nonce, gasPrice, gas, to, value, data, accessList, y, r, s]
    0x02: (5, 7),  # [chainId, nonce, tip, feeCap, gas, to, value, data, accessList, y, r, s]
    0x03: (5, 7),  # blob tx: same prefix as 0x02
    0x04: (5, 7),  # set-code tx: same prefix as 0x02
    0x7E: (2, 7),  # OP deposit: [sourceHash, from, to, mint, value, gas, isSystemTx, data]
}


class RawTxError(ValueError):
    """Bytes that are not a transaction this decoder understands."""


@dataclass(frozen=True)
class RawTx:
    tx_type: int
    to: bytes | None
    data: bytes


def decode_raw_tx(raw: bytes) -> RawTx:
    if not raw:
        raise RawTxError("empty transaction")
    if raw[0] in (0x7C, 0x7D):
        try:
            system = decode_system_tx(raw)
        except SystemTxDecodeError as exc:
            raise RawTxError(str(exc)) from exc
        return RawTx(raw[0], system.to_address, system.data)
    if raw[0] >= 0xC0:  # legacy: the whole thing is an RLP list
        tx_type, payload, (to_at, data_at) = 0, raw, (3, 5)
    elif raw[0] in _FIELDS:
        tx_type, payload, (to_at, data_at) = raw[0], raw[1:], _FIELDS[raw[0]]
    else:
        raise RawTxError(f"unknown transaction type 0x{raw[0]:02x}")
    try:
        items = rlp.decode(payload, strict=True)
    except DecodingError as exc:
        raise RawTxError(f"invalid RLP: {exc}") from exc
    if not isinstance(items, list) or len(items) <= data_at:
        raise RawTxError("transaction payload has too few fields")
    to, data = items[to_at], items[data_at]
    if not isinstance(to, bytes) or len(to) not in (0, 20) or not isinstance(data, bytes):
        raise RawTxError("malformed to/data fields")
    return RawTx(tx_type, to or None, data)


@dataclass(frozen=True)
class RawReceipt:
    tx_type: int
    status: int
    logs: tuple[HemiLog, ...]  # positional fields (index, tx, block) unknown offline: None


def decode_raw_receipt(raw: bytes) -> RawReceipt:
    """``[type ||] rlp([status, cumulativeGasUsed, bloom, logs, ...])`` (deposit extras ignored)."""
    if not raw:
        raise RawTxError("empty receipt")
    tx_type, payload = (0, raw) if raw[0] >= 0xC0 else (raw[0], raw[1:])
    try:
        items = rlp.decode(payload, strict=True)
    except DecodingError as exc:
        raise RawTxError(f"invalid receipt RLP: {exc}") from exc
    if not isinstance(items, list) or len(items) < 4 or not isinstance(items[3], list):
        raise RawTxError("receipt must be a list [status, cumulativeGasUsed, bloom, logs, ...]")
    status_raw = items[0]
    if not isinstance(status_raw, bytes) or len(status_raw) > 1:
        raise RawTxError("receipt status must be 0 or 1 (pre-Byzantium state roots are not supported)")
    logs = []
    for position, entry in enumerate(items[3]):
        if not (isinstance(entry, list) and len(entry) == 3):
            raise RawTxError(f"receipt log {position} is not a list [address, topics, data]")
        address, topics, data = entry
        # RLP lists nest anywhere; every leaf here must be a byte string of the EVM's sizes, or
        # a list posing as an address or data would reach the event decoders.
        if not isinstance(address, bytes) or len(address) != 20:
            raise RawTxError(f"receipt log {position}: address must be a 20-byte string")
        if not isinstance(topics, list) or len(topics) > 4:
            raise RawTxError(f"receipt log {position}: topics must be a list of at most 4 (LOG0..LOG4)")
        if not all(isinstance(t, bytes) and len(t) == 32 for t in topics):
            raise RawTxError(f"receipt log {position}: every topic must be a 32-byte string")
        if not isinstance(data, bytes):
            raise RawTxError(f"receipt log {position}: data must be a byte string, not a list")
        logs.append(HemiLog(address, tuple(topics), data, None, None, None, None, None, False))
    return RawReceipt(tx_type, int.from_bytes(status_raw, "big"), tuple(logs))
