"""Hemi (op-geth) JSON-RPC replies -> frozen dataclasses. Pure: no Django, no I/O.

Every value is parsed strictly, the way go-ethereum's ``hexutil`` parses it: quantities are
``0x``-prefixed hex without leading zeros, byte strings are ``0x``-prefixed even-length hex of
the expected size. Anything else raises :class:`HemiDecodeError` naming the JSON field, so a
node or proxy that returns something odd is noticed instead of stored as a guess.

Amounts (wei, uint256) stay Python ints; the DB stores them as ``DecimalField(78, 0)``.
Hashes and addresses are raw bytes in their natural EVM order (never reversed).

Hemi-specific transaction types (op-geth, see spec §5.2/§5.3):

* ``0x7E`` OP-stack deposit: ``sourceHash``, ``mint``, ``isSystemTx`` (omitted when false);
* ``0x7C`` Bitcoin attributes deposited and ``0x7D`` PoP payout: envelope ``[to, gas, data]``,
  sender ``0x8888…8888``, no signature; the JSON ``nonce`` is filled from the receipt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from indexer.hemi.records import (  # re-exported so callers need one import
    ACCESS_LIST_TX,
    BLOB_TX,
    BTC_ATTRIBUTES_TX,
    DEPOSIT_TX,
    DYNAMIC_FEE_TX,
    HEMI_SYSTEM_SENDER,
    KNOWN_TX_TYPES,
    LEGACY_TX,
    POP_PAYOUT_TX,
    SET_CODE_TX,
    SYSTEM_TX_TYPES,
    AccessListEntry,
    Authorization,
    HemiBlock,
    HemiLog,
    HemiReceipt,
    HemiTransaction,
    Withdrawal,
)

__all__ = [
    "ACCESS_LIST_TX",
    "BLOB_TX",
    "BTC_ATTRIBUTES_TX",
    "DEPOSIT_TX",
    "DYNAMIC_FEE_TX",
    "HEMI_SYSTEM_SENDER",
    "KNOWN_TX_TYPES",
    "LEGACY_TX",
    "POP_PAYOUT_TX",
    "SET_CODE_TX",
    "SYSTEM_TX_TYPES",
    "AccessListEntry",
    "Authorization",
    "HemiBlock",
    "HemiDecodeError",
    "HemiLog",
    "HemiReceipt",
    "HemiTransaction",
    "Withdrawal",
    "map_block",
    "map_log",
    "map_receipt",
    "map_transaction",
    "parse_address",
    "parse_data",
    "parse_hash",
    "parse_quantity",
]

UINT64_BITS = 64
UINT256_BITS = 256

# hexutil accepts upper- and lower-case digits but nothing else (no "_", "+", spaces).
_QUANTITY_RE = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)")
_DATA_RE = re.compile(r"0x(?:[0-9a-fA-F]{2})*")


class HemiDecodeError(ValueError):
    """A JSON-RPC value that does not parse; ``field`` names the offending JSON key."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


# --------------------------------------------------------------------------- value parsers


def parse_quantity(value: Any, field: str, bits: int = UINT256_BITS) -> int:
    """A JSON-RPC QUANTITY (``"0x1a"``) as an int that must fit in ``bits`` bits."""
    if not isinstance(value, str):
        raise HemiDecodeError(field, f"expected a hex quantity string, got {type(value).__name__}")
    if not _QUANTITY_RE.fullmatch(value):
        raise HemiDecodeError(field, f"malformed hex quantity {value[:80]!r}")
    number = int(value[2:], 16)
    if number.bit_length() > bits:
        raise HemiDecodeError(field, f"quantity {value} does not fit in uint{bits}")
    return number


def parse_data(value: Any, field: str, size: int | None = None) -> bytes:
    """A JSON-RPC DATA string (``"0x…"``, even length); ``size`` pins the byte length."""
    if not isinstance(value, str):
        raise HemiDecodeError(field, f"expected a hex data string, got {type(value).__name__}")
    if not _DATA_RE.fullmatch(value):
        raise HemiDecodeError(field, f"malformed hex data {value[:80]!r}")
    raw = bytes.fromhex(value[2:])
    if size is not None and len(raw) != size:
        raise HemiDecodeError(field, f"expected {size} bytes, got {len(raw)}")
    return raw


def parse_hash(value: Any, field: str) -> bytes:
    return parse_data(value, field, 32)


def parse_address(value: Any, field: str) -> bytes:
    return parse_data(value, field, 20)


def _req(obj: Mapping[str, Any], key: str, prefix: str) -> Any:
    if key not in obj or obj[key] is None:
        raise HemiDecodeError(prefix + key, "missing required field")
    return obj[key]


def _opt_quantity(obj: Mapping[str, Any], key: str, prefix: str, bits: int = UINT256_BITS) -> int | None:
    value = obj.get(key)
    return None if value is None else parse_quantity(value, prefix + key, bits)


def _opt_hash(obj: Mapping[str, Any], key: str, prefix: str) -> bytes | None:
    value = obj.get(key)
    return None if value is None else parse_hash(value, prefix + key)


def _expect_mapping(obj: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise HemiDecodeError(field, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _expect_list(obj: Any, field: str) -> list[Any]:
    if not isinstance(obj, list):
        raise HemiDecodeError(field, f"expected a JSON array, got {type(obj).__name__}")
    return obj


# --------------------------------------------------------------------------- mappers


def map_log(obj: Any, prefix: str = "") -> HemiLog:
    obj = _expect_mapping(obj, prefix.rstrip(".") or "log")
    topics_raw = _expect_list(_req(obj, "topics", prefix), prefix + "topics")
    if len(topics_raw) > 4:
        raise HemiDecodeError(prefix + "topics", f"a log has at most 4 topics, got {len(topics_raw)}")
    removed = obj.get("removed", False)
    if not isinstance(removed, bool):
        raise HemiDecodeError(prefix + "removed", "expected a boolean")
    return HemiLog(
        address=parse_address(_req(obj, "address", prefix), prefix + "address"),
        topics=tuple(parse_hash(t, f"{prefix}topics[{i}]") for i, t in enumerate(topics_raw)),
        data=parse_data(_req(obj, "data", prefix), prefix + "data"),
        log_index=_opt_quantity(obj, "logIndex", prefix, UINT64_BITS),
        transaction_index=_opt_quantity(obj, "transactionIndex", prefix, UINT64_BITS),
        transaction_hash=_opt_hash(obj, "transactionHash", prefix),
        block_hash=_opt_hash(obj, "blockHash", prefix),
        block_number=_opt_quantity(obj, "blockNumber", prefix, UINT64_BITS),
        removed=removed,
    )


def _map_access_list(value: Any, field: str) -> tuple[AccessListEntry, ...]:
    entries = []
    for i, item in enumerate(_expect_list(value, field)):
        item = _expect_mapping(item, f"{field}[{i}]")
        keys = _expect_list(_req(item, "storageKeys", f"{field}[{i}]."), f"{field}[{i}].storageKeys")
        entries.append(
            AccessListEntry(
                address=parse_address(_req(item, "address", f"{field}[{i}]."), f"{field}[{i}].address"),
                storage_keys=tuple(
                    parse_hash(k, f"{field}[{i}].storageKeys[{j}]") for j, k in enumerate(keys)
                ),
            )
        )
    return tuple(entries)


def _map_authorizations(value: Any, field: str) -> tuple[Authorization, ...]:
    out = []
    for i, item in enumerate(_expect_list(value, field)):
        p = f"{field}[{i}]."
        item = _expect_mapping(item, p.rstrip("."))
        out.append(
            Authorization(
                chain_id=parse_quantity(_req(item, "chainId", p), p + "chainId"),
                address=parse_address(_req(item, "address", p), p + "address"),
                nonce=parse_quantity(_req(item, "nonce", p), p + "nonce", UINT64_BITS),
                y_parity=parse_quantity(_req(item, "yParity", p), p + "yParity", 8),
                r=parse_quantity(_req(item, "r", p), p + "r"),
                s=parse_quantity(_req(item, "s", p), p + "s"),
            )
        )
    return tuple(out)


def _y_parity(obj: Mapping[str, Any], prefix: str) -> int:
    """Typed transactions carry ``yParity``; older nodes only ``v``. If both exist they must agree."""
    y = _opt_quantity(obj, "yParity", prefix)
    v = _opt_quantity(obj, "v", prefix)
    if y is None and v is None:
        raise HemiDecodeError(prefix + "yParity", "missing required field (neither yParity nor v)")
    if y is not None and v is not None and y != v:
        raise HemiDecodeError(prefix + "yParity", f"yParity {y} disagrees with v {v}")
    parity = y if y is not None else v
    assert parity is not None
    if parity not in (0, 1):
        raise HemiDecodeError(prefix + "yParity", f"must be 0 or 1, got {parity}")
    return parity


def _to_address(obj: Mapping[str, Any], prefix: str, *, required: bool) -> bytes | None:
    value = obj.get("to")
    if value is None:
        if required:
            raise HemiDecodeError(
                prefix + "to", "this transaction type cannot create contracts; 'to' is null"
            )
        return None
    return parse_address(value, prefix + "to")


def map_transaction(obj: Any, prefix: str = "") -> HemiTransaction:
    """Map one ``eth_getTransactionBy*`` object (or a block's full transaction entry)."""
    obj = _expect_mapping(obj, prefix.rstrip(".") or "transaction")
    tx_type = parse_quantity(_req(obj, "type", prefix), prefix + "type", 8) if "type" in obj else LEGACY_TX
    if tx_type not in KNOWN_TX_TYPES:
        raise HemiDecodeError(prefix + "type", f"unsupported transaction type 0x{tx_type:02x}")

    def q(key: str, bits: int = UINT256_BITS) -> int:
        return parse_quantity(_req(obj, key, prefix), prefix + key, bits)

    common: dict[str, Any] = {
        "hash": parse_hash(_req(obj, "hash", prefix), prefix + "hash"),
        "tx_type": tx_type,
        "from_address": parse_address(_req(obj, "from", prefix), prefix + "from"),
        "gas": q("gas", UINT64_BITS),
        "input": parse_data(_req(obj, "input", prefix), prefix + "input"),
        "gas_price": _opt_quantity(obj, "gasPrice", prefix),
        "block_hash": _opt_hash(obj, "blockHash", prefix),
        "block_number": _opt_quantity(obj, "blockNumber", prefix, UINT64_BITS),
        "transaction_index": _opt_quantity(obj, "transactionIndex", prefix, UINT64_BITS),
    }

    if tx_type == DEPOSIT_TX:
        is_system = obj.get("isSystemTx", False)
        if not isinstance(is_system, bool):
            raise HemiDecodeError(prefix + "isSystemTx", "expected a boolean")
        return HemiTransaction(
            **common,
            to_address=_to_address(obj, prefix, required=False),
            # op-geth prints the deposit nonce from the receipt; pending deposits may lack it.
            nonce=_opt_quantity(obj, "nonce", prefix, UINT64_BITS) or 0,
            value=q("value"),
            source_hash=parse_hash(_req(obj, "sourceHash", prefix), prefix + "sourceHash"),
            mint=_opt_quantity(obj, "mint", prefix),
            is_system_tx=is_system,
            deposit_receipt_version=_opt_quantity(obj, "depositReceiptVersion", prefix, UINT64_BITS),
        )

    if tx_type in SYSTEM_TX_TYPES:
        if common["from_address"] != HEMI_SYSTEM_SENDER:
            raise HemiDecodeError(prefix + "from", f"type 0x{tx_type:02x} must come from 0x8888…8888")
        value = _opt_quantity(obj, "value", prefix) or 0
        if value != 0:
            # The envelope has no value field; a non-zero value means the JSON is not what it claims.
            raise HemiDecodeError(prefix + "value", f"type 0x{tx_type:02x} carries no value, got {value}")
        return HemiTransaction(
            **common,
            to_address=_to_address(obj, prefix, required=False),
            nonce=_opt_quantity(obj, "nonce", prefix, UINT64_BITS) or 0,
            value=0,
        )

    signed: dict[str, Any] = {
        "nonce": q("nonce", UINT64_BITS),
        "value": q("value"),
        "r": q("r"),
        "s": q("s"),
    }
    if tx_type == LEGACY_TX:
        return HemiTransaction(
            **common,
            **signed,
            to_address=_to_address(obj, prefix, required=False),
            v=q("v"),
            chain_id=_opt_quantity(obj, "chainId", prefix),
        )

    y_parity = _y_parity(obj, prefix)
    typed: dict[str, Any] = {
        **signed,
        "chain_id": q("chainId"),
        "access_list": _map_access_list(_req(obj, "accessList", prefix), prefix + "accessList"),
        "y_parity": y_parity,
        "v": y_parity,
    }
    if tx_type == ACCESS_LIST_TX:
        if common["gas_price"] is None:
            raise HemiDecodeError(prefix + "gasPrice", "missing required field")
        return HemiTransaction(**common, **typed, to_address=_to_address(obj, prefix, required=False))

    typed["max_fee_per_gas"] = q("maxFeePerGas")
    typed["max_priority_fee_per_gas"] = q("maxPriorityFeePerGas")
    if tx_type == DYNAMIC_FEE_TX:
        return HemiTransaction(**common, **typed, to_address=_to_address(obj, prefix, required=False))
    if tx_type == BLOB_TX:
        hashes = _expect_list(_req(obj, "blobVersionedHashes", prefix), prefix + "blobVersionedHashes")
        return HemiTransaction(
            **common,
            **typed,
            to_address=_to_address(obj, prefix, required=True),
            max_fee_per_blob_gas=q("maxFeePerBlobGas"),
            blob_versioned_hashes=tuple(
                parse_hash(h, f"{prefix}blobVersionedHashes[{i}]") for i, h in enumerate(hashes)
            ),
        )
    # SET_CODE_TX
    return HemiTransaction(
        **common,
        **typed,
        to_address=_to_address(obj, prefix, required=True),
        authorization_list=_map_authorizations(
            _req(obj, "authorizationList", prefix), prefix + "authorizationList"
        ),
    )


def _map_withdrawal(obj: Any, p: str) -> Withdrawal:
    obj = _expect_mapping(obj, p.rstrip("."))
    return Withdrawal(
        index=parse_quantity(_req(obj, "index", p), p + "index", UINT64_BITS),
        validator_index=parse_quantity(_req(obj, "validatorIndex", p), p + "validatorIndex", UINT64_BITS),
        address=parse_address(_req(obj, "address", p), p + "address"),
        amount_gwei=parse_quantity(_req(obj, "amount", p), p + "amount", UINT64_BITS),
    )


def map_block(obj: Any) -> HemiBlock:
    """Map an ``eth_getBlockBy*`` reply (full transactions or hashes only).

    Full transaction entries must point back at this block (blockHash, blockNumber and a
    transactionIndex equal to their position); a mismatch raises instead of being stored.
    """
    obj = _expect_mapping(obj, "block")

    def q(key: str, bits: int = UINT64_BITS) -> int:
        return parse_quantity(_req(obj, key, ""), key, bits)

    def h(key: str) -> bytes:
        return parse_hash(_req(obj, key, ""), key)

    block_hash = h("hash")
    number = q("number")
    txs_raw = _expect_list(_req(obj, "transactions", ""), "transactions")
    transactions: tuple[HemiTransaction, ...] | None
    if not txs_raw:
        # An empty block reads the same with and without full objects: nothing is missing.
        transactions, tx_hashes = (), ()
    elif all(isinstance(t, str) for t in txs_raw):
        transactions = None
        tx_hashes = tuple(parse_hash(t, f"transactions[{i}]") for i, t in enumerate(txs_raw))
    elif all(isinstance(t, Mapping) for t in txs_raw):
        transactions = tuple(map_transaction(t, f"transactions[{i}].") for i, t in enumerate(txs_raw))
        for i, tx in enumerate(transactions):
            if tx.block_hash != block_hash or tx.block_number != number or tx.transaction_index != i:
                raise HemiDecodeError(f"transactions[{i}]", "does not point back at this block and position")
        tx_hashes = tuple(tx.hash for tx in transactions)
    else:
        raise HemiDecodeError("transactions", "mixes hashes and transaction objects")

    withdrawals_raw = obj.get("withdrawals")
    withdrawals = None
    if withdrawals_raw is not None:
        items = _expect_list(withdrawals_raw, "withdrawals")
        withdrawals = tuple(_map_withdrawal(w, f"withdrawals[{i}].") for i, w in enumerate(items))
    uncles = _expect_list(obj.get("uncles", []), "uncles")

    return HemiBlock(
        hash=block_hash,
        parent_hash=h("parentHash"),
        sha3_uncles=h("sha3Uncles"),
        miner=parse_address(_req(obj, "miner", ""), "miner"),
        state_root=h("stateRoot"),
        transactions_root=h("transactionsRoot"),
        receipts_root=h("receiptsRoot"),
        logs_bloom=parse_data(_req(obj, "logsBloom", ""), "logsBloom", 256),
        difficulty=q("difficulty", UINT256_BITS),
        number=number,
        gas_limit=q("gasLimit"),
        gas_used=q("gasUsed"),
        timestamp=q("timestamp"),
        extra_data=parse_data(_req(obj, "extraData", ""), "extraData"),
        mix_hash=h("mixHash"),
        nonce=parse_data(_req(obj, "nonce", ""), "nonce", 8),
        base_fee_per_gas=_opt_quantity(obj, "baseFeePerGas", "", UINT256_BITS),
        withdrawals_root=_opt_hash(obj, "withdrawalsRoot", ""),
        blob_gas_used=_opt_quantity(obj, "blobGasUsed", "", UINT64_BITS),
        excess_blob_gas=_opt_quantity(obj, "excessBlobGas", "", UINT64_BITS),
        parent_beacon_block_root=_opt_hash(obj, "parentBeaconBlockRoot", ""),
        requests_hash=_opt_hash(obj, "requestsHash", ""),
        size=_opt_quantity(obj, "size", "", UINT64_BITS),
        transaction_hashes=tx_hashes,
        transactions=transactions,
        uncles=tuple(parse_hash(u, f"uncles[{i}]") for i, u in enumerate(uncles)),
        withdrawals=withdrawals,
    )


def map_receipt(obj: Any) -> HemiReceipt:
    """Map an ``eth_getTransactionReceipt`` reply (or one item of ``eth_getBlockReceipts``)."""
    obj = _expect_mapping(obj, "receipt")
    p = ""

    def q(key: str, bits: int = UINT64_BITS) -> int:
        return parse_quantity(_req(obj, key, p), key, bits)

    status = _opt_quantity(obj, "status", p, UINT64_BITS)
    root = obj.get("root")
    root_bytes = None if root in (None, "0x") else parse_hash(root, "root")
    if status is None and root_bytes is None:
        raise HemiDecodeError("status", "missing both status and root")
    if status is not None and status not in (0, 1):
        raise HemiDecodeError("status", f"must be 0 or 1, got {status}")
    contract = obj.get("contractAddress")
    scalar_text = obj.get("l1FeeScalar")
    if scalar_text is not None and not isinstance(scalar_text, str):
        raise HemiDecodeError("l1FeeScalar", "expected a string")
    logs = _expect_list(_req(obj, "logs", p), "logs")
    tx_type = parse_quantity(obj["type"], "type", 8) if "type" in obj else LEGACY_TX
    if tx_type not in KNOWN_TX_TYPES:
        raise HemiDecodeError("type", f"unsupported receipt type 0x{tx_type:02x}")
    return HemiReceipt(
        transaction_hash=parse_hash(_req(obj, "transactionHash", p), "transactionHash"),
        transaction_index=q("transactionIndex"),
        block_hash=parse_hash(_req(obj, "blockHash", p), "blockHash"),
        block_number=q("blockNumber"),
        tx_type=tx_type,
        from_address=parse_address(_req(obj, "from", p), "from"),
        to_address=None if obj.get("to") is None else parse_address(obj["to"], "to"),
        contract_address=None if contract is None else parse_address(contract, "contractAddress"),
        status=status,
        root=root_bytes,
        cumulative_gas_used=q("cumulativeGasUsed"),
        gas_used=q("gasUsed"),
        effective_gas_price=_opt_quantity(obj, "effectiveGasPrice", p),
        logs_bloom=parse_data(_req(obj, "logsBloom", p), "logsBloom", 256),
        logs=tuple(map_log(log, f"logs[{i}].") for i, log in enumerate(logs)),
        blob_gas_used=_opt_quantity(obj, "blobGasUsed", p, UINT64_BITS),
        blob_gas_price=_opt_quantity(obj, "blobGasPrice", p),
        deposit_nonce=_opt_quantity(obj, "depositNonce", p, UINT64_BITS),
        deposit_receipt_version=_opt_quantity(obj, "depositReceiptVersion", p, UINT64_BITS),
        pop_payout_nonce=_opt_quantity(obj, "popPayoutNonce", p, UINT64_BITS),
        btc_attributes_deposited_nonce=_opt_quantity(obj, "btcAttributesDepositedNonce", p, UINT64_BITS),
        l1_fee=_opt_quantity(obj, "l1Fee", p),
        l1_gas_used=_opt_quantity(obj, "l1GasUsed", p),
        l1_gas_price=_opt_quantity(obj, "l1GasPrice", p),
        l1_blob_base_fee=_opt_quantity(obj, "l1BlobBaseFee", p),
        l1_base_fee_scalar=_opt_quantity(obj, "l1BaseFeeScalar", p),
        l1_blob_base_fee_scalar=_opt_quantity(obj, "l1BlobBaseFeeScalar", p),
        l1_fee_scalar_text=scalar_text,
    )
