"""Hemi (op-geth) JSON-RPC replies -> immutable records (``records``). Pure: no Django, no I/O.

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
    "ValueCache",
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

# hexutil accepts upper- and lower-case digits but nothing else (no "_", "+", spaces); the
# parsers below enforce exactly that without a regex.


class HemiDecodeError(ValueError):
    """A JSON-RPC value that does not parse; ``field`` names the offending JSON key."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


# --------------------------------------------------------------------------- value parsers


def parse_quantity(value: Any, field: str, bits: int = UINT256_BITS) -> int:
    """A JSON-RPC QUANTITY (``"0x1a"``) as an int that must fit in ``bits`` bits.

    No regex (this runs a few dozen times per transaction): ``int(…, 16)`` also accepts
    signs, underscores, whitespace, a second ``0x`` and non-ASCII digits, but each of those
    - like a leading zero - makes the text longer than the minimal hex form of the number,
    so "ASCII and exactly minimal length" is the same check as ``0x(0|[1-9a-fA-F][0-9a-fA-F]*)``.
    """
    if not isinstance(value, str):
        raise HemiDecodeError(field, f"expected a hex quantity string, got {type(value).__name__}")
    digits = value[2:]
    try:
        if value[:2] != "0x" or not digits.isascii():
            raise ValueError
        number = int(digits, 16)
        if len(digits) != ((number.bit_length() + 3) >> 2 or 1):
            raise ValueError
    except ValueError:
        raise HemiDecodeError(field, f"malformed hex quantity {value[:80]!r}") from None
    if number.bit_length() > bits:
        raise HemiDecodeError(field, f"quantity {value} does not fit in uint{bits}")
    return number


def parse_data(value: Any, field: str, size: int | None = None) -> bytes:
    """A JSON-RPC DATA string (``"0x…"``, even length); ``size`` pins the byte length.

    ``bytes.fromhex`` rejects odd lengths and non-hex characters but skips whitespace; any
    skipped character makes the result shorter than half the text, which is checked.
    """
    if not isinstance(value, str):
        raise HemiDecodeError(field, f"expected a hex data string, got {type(value).__name__}")
    try:
        if value[:2] != "0x":
            raise ValueError
        raw = bytes.fromhex(value[2:])
        if 2 * len(raw) + 2 != len(value):
            raise ValueError
    except ValueError:
        raise HemiDecodeError(field, f"malformed hex data {value[:80]!r}") from None
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


class ValueCache:
    """Parsed values of the JSON strings that repeat across one block's transactions, receipts
    and logs: the block hash and number, transaction hashes and positions, addresses, topics.

    Equal strings parse to equal values, so reusing the first parse changes nothing but the
    cost; the repeats also become one object, which a fetch worker then pickles once.
    """

    __slots__ = ("addresses", "hashes", "quantities")

    def __init__(self) -> None:
        self.addresses: dict[str, bytes] = {}
        self.hashes: dict[str, bytes] = {}
        self.quantities: dict[str, int] = {}


def _memos(cache: ValueCache | None) -> tuple[dict[str, bytes] | None, dict[str, bytes] | None, dict[str, int] | None]:
    """(hashes, addresses, quantities) memo dicts, or Nones without a cache."""
    return (None, None, None) if cache is None else (cache.hashes, cache.addresses, cache.quantities)


# The helpers below are the mappers' hot path (about forty fields per transaction): a valid
# value is accepted by an inline check equivalent to parse_quantity/parse_data (see there), and
# anything else goes through those functions, which raise the precise error. The field name
# (prefix + key) is only built on that slow path. ``memo`` (one of a ValueCache's dicts, or
# None) remembers accepted strings.


def _q(
    obj: Mapping[str, Any], key: str, prefix: str, bits: int = UINT256_BITS, memo: dict[str, int] | None = None
) -> int:
    """A required quantity."""
    value = obj.get(key)
    if value.__class__ is str:
        if memo is not None:
            number = memo.get(value)
            if number is not None and number.bit_length() <= bits:
                return number
        try:
            number = int(value, 16)  # also takes the 0x prefix; the checks below pin the form
        except ValueError:
            number = -1
        if (
            number >= 0
            and value[1:2] == "x"
            and len(value) == 2 + ((number.bit_length() + 3) >> 2 or 1)
            and value.isascii()
            and number.bit_length() <= bits
        ):
            if memo is not None:
                memo[value] = number
            return number
    return parse_quantity(_req(obj, key, prefix), prefix + key, bits)


def _opt_quantity(
    obj: Mapping[str, Any], key: str, prefix: str, bits: int = UINT256_BITS, memo: dict[str, int] | None = None
) -> int | None:
    return None if obj.get(key) is None else _q(obj, key, prefix, bits, memo)


def _data_fast(value: Any, size: int | None) -> bytes | None:
    """The bytes of a well-formed DATA string of the right size, else None."""
    if value.__class__ is str and value[:2] == "0x":
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            return None
        if 2 * len(raw) + 2 == len(value) and (size is None or len(raw) == size):
            return raw
    return None


def _d(
    obj: Mapping[str, Any], key: str, prefix: str, size: int | None = None, memo: dict[str, bytes] | None = None
) -> bytes:
    """A required DATA field (``size`` bytes when given; ``memo`` holds values of that size only)."""
    value = obj.get(key)
    if memo is not None and value.__class__ is str:
        raw = memo.get(value)
        if raw is None:
            raw = _data_fast(value, size)
            if raw is not None:
                memo[value] = raw
    else:
        raw = _data_fast(value, size)
    return raw if raw is not None else parse_data(_req(obj, key, prefix), prefix + key, size)


def _opt_hash(obj: Mapping[str, Any], key: str, prefix: str, memo: dict[str, bytes] | None = None) -> bytes | None:
    return None if obj.get(key) is None else _d(obj, key, prefix, 32, memo)


def _hash_items(values: list[Any], field: str, memo: dict[str, bytes] | None = None) -> tuple[bytes, ...]:
    """A list of 32-byte hashes (topics, storage keys, blob hashes); ``field[i]`` names a bad one."""
    out = []
    for i, value in enumerate(values):
        raw = memo.get(value) if memo is not None and value.__class__ is str else None
        if raw is None:
            raw = _data_fast(value, 32)
            if raw is None:
                raw = parse_hash(value, f"{field}[{i}]")
            elif memo is not None:
                memo[value] = raw
        out.append(raw)
    return tuple(out)


def _expect_mapping(obj: Any, field: str) -> Mapping[str, Any]:
    if obj.__class__ is dict:  # what json gives; isinstance against the Mapping ABC costs more
        return obj
    if not isinstance(obj, Mapping):
        raise HemiDecodeError(field, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _expect_list(obj: Any, field: str) -> list[Any]:
    if not isinstance(obj, list):
        raise HemiDecodeError(field, f"expected a JSON array, got {type(obj).__name__}")
    return obj


# --------------------------------------------------------------------------- mappers


def map_log(obj: Any, prefix: str = "", cache: ValueCache | None = None) -> HemiLog:
    """Map one log object; ``cache`` shares parsed repeats within a block (see ValueCache)."""
    hashes, addresses, quantities = _memos(cache)
    obj = _expect_mapping(obj, prefix.rstrip(".") or "log")
    topics_raw = _expect_list(_req(obj, "topics", prefix), prefix + "topics")
    if len(topics_raw) > 4:
        raise HemiDecodeError(prefix + "topics", f"a log has at most 4 topics, got {len(topics_raw)}")
    removed = obj.get("removed", False)
    if not isinstance(removed, bool):
        raise HemiDecodeError(prefix + "removed", "expected a boolean")
    # Positional, in HemiLog's field order (see records: keywords cost more than the parsing).
    return HemiLog(
        _d(obj, "address", prefix, 20, addresses),
        _hash_items(topics_raw, prefix + "topics", hashes),
        _d(obj, "data", prefix),
        _opt_quantity(obj, "logIndex", prefix, UINT64_BITS),
        _opt_quantity(obj, "transactionIndex", prefix, UINT64_BITS, quantities),
        _opt_hash(obj, "transactionHash", prefix, hashes),
        _opt_hash(obj, "blockHash", prefix, hashes),
        _opt_quantity(obj, "blockNumber", prefix, UINT64_BITS, quantities),
        removed,
    )


def _map_access_list(value: Any, field: str) -> tuple[AccessListEntry, ...]:
    entries = []
    for i, item in enumerate(_expect_list(value, field)):
        item = _expect_mapping(item, f"{field}[{i}]")
        keys = _expect_list(_req(item, "storageKeys", f"{field}[{i}]."), f"{field}[{i}].storageKeys")
        entries.append(
            AccessListEntry(
                address=_d(item, "address", f"{field}[{i}].", 20),
                storage_keys=_hash_items(keys, f"{field}[{i}].storageKeys"),
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


def _y_parity(obj: Mapping[str, Any], prefix: str, memo: dict[str, int] | None = None) -> int:
    """Typed transactions carry ``yParity``; older nodes only ``v``. If both exist they must agree."""
    y = _opt_quantity(obj, "yParity", prefix, UINT256_BITS, memo)
    v = _opt_quantity(obj, "v", prefix, UINT256_BITS, memo)
    if y is None and v is None:
        raise HemiDecodeError(prefix + "yParity", "missing required field (neither yParity nor v)")
    if y is not None and v is not None and y != v:
        raise HemiDecodeError(prefix + "yParity", f"yParity {y} disagrees with v {v}")
    parity = y if y is not None else v
    assert parity is not None
    if parity not in (0, 1):
        raise HemiDecodeError(prefix + "yParity", f"must be 0 or 1, got {parity}")
    return parity


def _to_address(
    obj: Mapping[str, Any], prefix: str, *, required: bool, memo: dict[str, bytes] | None = None
) -> bytes | None:
    value = obj.get("to")
    if value is None:
        if required:
            raise HemiDecodeError(
                prefix + "to", "this transaction type cannot create contracts; 'to' is null"
            )
        return None
    return _d(obj, "to", prefix, 20, memo)


def map_transaction(obj: Any, prefix: str = "", cache: ValueCache | None = None) -> HemiTransaction:
    """Map one ``eth_getTransactionBy*`` object (or a block's full transaction entry)."""
    hashes, addresses, quantities = _memos(cache)
    obj = _expect_mapping(obj, prefix.rstrip(".") or "transaction")
    tx_type = _q(obj, "type", prefix, 8, quantities) if "type" in obj else LEGACY_TX
    if tx_type not in KNOWN_TX_TYPES:
        raise HemiDecodeError(prefix + "type", f"unsupported transaction type 0x{tx_type:02x}")

    tx_hash = _d(obj, "hash", prefix, 32, hashes)
    from_address = _d(obj, "from", prefix, 20, addresses)
    gas = _q(obj, "gas", prefix, UINT64_BITS, quantities)
    data = _d(obj, "input", prefix)
    gas_price = _opt_quantity(obj, "gasPrice", prefix, UINT256_BITS, quantities)
    block_hash = _opt_hash(obj, "blockHash", prefix, hashes)
    block_number = _opt_quantity(obj, "blockNumber", prefix, UINT64_BITS, quantities)
    transaction_index = _opt_quantity(obj, "transactionIndex", prefix, UINT64_BITS, quantities)

    if tx_type == DEPOSIT_TX:
        is_system = obj.get("isSystemTx", False)
        if not isinstance(is_system, bool):
            raise HemiDecodeError(prefix + "isSystemTx", "expected a boolean")
        return HemiTransaction(
            hash=tx_hash, tx_type=tx_type, from_address=from_address, gas=gas, input=data, gas_price=gas_price,
            block_hash=block_hash, block_number=block_number, transaction_index=transaction_index,
            to_address=_to_address(obj, prefix, memo=addresses, required=False),
            # op-geth prints the deposit nonce from the receipt; pending deposits may lack it.
            nonce=_opt_quantity(obj, "nonce", prefix, UINT64_BITS) or 0,
            value=_q(obj, "value", prefix),
            source_hash=parse_hash(_req(obj, "sourceHash", prefix), prefix + "sourceHash"),
            mint=_opt_quantity(obj, "mint", prefix),
            is_system_tx=is_system,
            deposit_receipt_version=_opt_quantity(obj, "depositReceiptVersion", prefix, UINT64_BITS),
        )

    if tx_type in SYSTEM_TX_TYPES:
        if from_address != HEMI_SYSTEM_SENDER:
            raise HemiDecodeError(prefix + "from", f"type 0x{tx_type:02x} must come from 0x8888…8888")
        value = _opt_quantity(obj, "value", prefix) or 0
        if value != 0:
            # The envelope has no value field; a non-zero value means the JSON is not what it claims.
            raise HemiDecodeError(prefix + "value", f"type 0x{tx_type:02x} carries no value, got {value}")
        return HemiTransaction(
            hash=tx_hash, tx_type=tx_type, from_address=from_address, gas=gas, input=data, gas_price=gas_price,
            block_hash=block_hash, block_number=block_number, transaction_index=transaction_index,
            to_address=_to_address(obj, prefix, memo=addresses, required=False),
            nonce=_opt_quantity(obj, "nonce", prefix, UINT64_BITS) or 0,
            value=0,
        )

    # Signed transactions (legacy and 0x01-0x04), the bulk of every block: one positional
    # construction (see records), with None for what the type does not have.
    nonce = _q(obj, "nonce", prefix, UINT64_BITS)
    value = _q(obj, "value", prefix, UINT256_BITS, quantities)
    r = _q(obj, "r", prefix)
    s = _q(obj, "s", prefix)
    max_fee = max_tip = access_list = blob_fee = blob_hashes = authorizations = None
    if tx_type == LEGACY_TX:
        to_address = _to_address(obj, prefix, memo=addresses, required=False)
        v = _q(obj, "v", prefix, UINT256_BITS, quantities)
        chain_id = _opt_quantity(obj, "chainId", prefix, UINT256_BITS, quantities)
        y_parity = None
    else:
        y_parity = v = _y_parity(obj, prefix, quantities)
        chain_id = _q(obj, "chainId", prefix, UINT256_BITS, quantities)
        access_list = _map_access_list(_req(obj, "accessList", prefix), prefix + "accessList")
        if tx_type == ACCESS_LIST_TX:
            if gas_price is None:
                raise HemiDecodeError(prefix + "gasPrice", "missing required field")
        else:
            max_fee = _q(obj, "maxFeePerGas", prefix, UINT256_BITS, quantities)
            max_tip = _q(obj, "maxPriorityFeePerGas", prefix, UINT256_BITS, quantities)
        # Blob and set-code transactions cannot create contracts.
        to_address = _to_address(obj, prefix, memo=addresses, required=tx_type in (BLOB_TX, SET_CODE_TX))
        if tx_type == BLOB_TX:
            blob_fee = _q(obj, "maxFeePerBlobGas", prefix)
            listed = _expect_list(_req(obj, "blobVersionedHashes", prefix), prefix + "blobVersionedHashes")
            blob_hashes = _hash_items(listed, prefix + "blobVersionedHashes")
        elif tx_type == SET_CODE_TX:
            authorizations = _map_authorizations(_req(obj, "authorizationList", prefix), prefix + "authorizationList")
    return HemiTransaction(
        tx_hash, tx_type, from_address, to_address, nonce, gas, value, data, gas_price,
        max_fee, max_tip, chain_id, access_list, blob_fee, blob_hashes, authorizations,
        v, r, s, y_parity,
        None, None, False, None,  # source_hash, mint, is_system_tx, deposit_receipt_version
        block_hash, block_number, transaction_index,
    )  # fmt: skip


def _map_withdrawal(obj: Any, p: str) -> Withdrawal:
    obj = _expect_mapping(obj, p.rstrip("."))
    return Withdrawal(
        index=parse_quantity(_req(obj, "index", p), p + "index", UINT64_BITS),
        validator_index=parse_quantity(_req(obj, "validatorIndex", p), p + "validatorIndex", UINT64_BITS),
        address=parse_address(_req(obj, "address", p), p + "address"),
        amount_gwei=parse_quantity(_req(obj, "amount", p), p + "amount", UINT64_BITS),
    )


def map_block(obj: Any, cache: ValueCache | None = None) -> HemiBlock:
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
    if cache is not None:  # every transaction, receipt and log repeats these two
        cache.hashes[obj["hash"]] = block_hash
        cache.quantities[obj["number"]] = number
    txs_raw = _expect_list(_req(obj, "transactions", ""), "transactions")
    transactions: tuple[HemiTransaction, ...] | None
    if not txs_raw:
        # An empty block reads the same with and without full objects: nothing is missing.
        transactions, tx_hashes = (), ()
    elif all(isinstance(t, str) for t in txs_raw):
        transactions = None
        tx_hashes = tuple(parse_hash(t, f"transactions[{i}]") for i, t in enumerate(txs_raw))
    elif all(isinstance(t, Mapping) for t in txs_raw):
        transactions = tuple(map_transaction(t, f"transactions[{i}].", cache) for i, t in enumerate(txs_raw))
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


# Optional receipt fields (blob, OP-stack deposit, Hemi system tx, L1 fee), in HemiReceipt's
# field order, with the bits each must fit in.
_RECEIPT_EXTRAS = (
    ("blobGasUsed", UINT64_BITS), ("blobGasPrice", UINT256_BITS), ("depositNonce", UINT64_BITS),
    ("depositReceiptVersion", UINT64_BITS), ("popPayoutNonce", UINT64_BITS),
    ("btcAttributesDepositedNonce", UINT64_BITS), ("l1Fee", UINT256_BITS), ("l1GasUsed", UINT256_BITS),
    ("l1GasPrice", UINT256_BITS), ("l1BlobBaseFee", UINT256_BITS), ("l1BaseFeeScalar", UINT256_BITS),
    ("l1BlobBaseFeeScalar", UINT256_BITS),
)  # fmt: skip


def map_receipt(obj: Any, cache: ValueCache | None = None) -> HemiReceipt:
    """Map an ``eth_getTransactionReceipt`` reply (or one item of ``eth_getBlockReceipts``)."""
    hashes, addresses, quantities = _memos(cache)
    obj = _expect_mapping(obj, "receipt")
    p = ""
    get = obj.get

    status = _opt_quantity(obj, "status", p, UINT64_BITS, quantities)
    root = get("root")
    root_bytes = None if root in (None, "0x") else parse_hash(root, "root")
    if status is None and root_bytes is None:
        raise HemiDecodeError("status", "missing both status and root")
    if status is not None and status not in (0, 1):
        raise HemiDecodeError("status", f"must be 0 or 1, got {status}")
    contract = get("contractAddress")
    scalar_text = get("l1FeeScalar")
    if scalar_text is not None and not isinstance(scalar_text, str):
        raise HemiDecodeError("l1FeeScalar", "expected a string")
    logs = _expect_list(_req(obj, "logs", p), "logs")
    tx_type = _q(obj, "type", p, 8, quantities) if "type" in obj else LEGACY_TX
    if tx_type not in KNOWN_TX_TYPES:
        raise HemiDecodeError("type", f"unsupported receipt type 0x{tx_type:02x}")
    extras = [_opt_quantity(obj, key, p, bits) for key, bits in _RECEIPT_EXTRAS]
    # Positional, in HemiReceipt's field order (see records).
    return HemiReceipt(
        _d(obj, "transactionHash", p, 32, hashes),
        _q(obj, "transactionIndex", p, UINT64_BITS, quantities),
        _d(obj, "blockHash", p, 32, hashes),
        _q(obj, "blockNumber", p, UINT64_BITS, quantities),
        tx_type,
        _d(obj, "from", p, 20, addresses),
        None if get("to") is None else _d(obj, "to", p, 20, addresses),
        None if contract is None else _d(obj, "contractAddress", p, 20, addresses),
        status,
        root_bytes,
        _q(obj, "cumulativeGasUsed", p, UINT64_BITS),
        _q(obj, "gasUsed", p, UINT64_BITS, quantities),
        _opt_quantity(obj, "effectiveGasPrice", p, UINT256_BITS, quantities),
        _d(obj, "logsBloom", p, 256),
        tuple([map_log(log, f"logs[{i}].", cache) for i, log in enumerate(logs)]),
        *extras,
        scalar_text,
    )
