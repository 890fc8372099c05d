"""Immutable records produced by ``mappers.py`` from Hemi JSON-RPC replies (pure, no Django).

Hashes and addresses are raw bytes in natural EVM order; amounts are Python ints (uint256,
stored as ``DecimalField(78, 0)``); optional fork/OP fields are None when the node omitted them.

Why ``NamedTuple`` and not a frozen dataclass: the ingest builds three records per transaction
(transaction, receipt, log) and each has up to 29 fields. A frozen dataclass sets every field
through ``object.__setattr__``; building one with 29 fields cost about 9 us, a named tuple
built from positional arguments about 1 us (``mappers`` does that on its hot path). The
records keep the properties that matter: immutable, hashable, field access by name,
``_replace`` for a modified copy, and compact pickling (by position) between processes.
"""

from __future__ import annotations

from typing import NamedTuple

LEGACY_TX = 0x00
ACCESS_LIST_TX = 0x01
DYNAMIC_FEE_TX = 0x02
BLOB_TX = 0x03
SET_CODE_TX = 0x04
BTC_ATTRIBUTES_TX = 0x7C
POP_PAYOUT_TX = 0x7D
DEPOSIT_TX = 0x7E
SYSTEM_TX_TYPES = frozenset({BTC_ATTRIBUTES_TX, POP_PAYOUT_TX})
KNOWN_TX_TYPES = frozenset(
    {
        LEGACY_TX,
        ACCESS_LIST_TX,
        DYNAMIC_FEE_TX,
        BLOB_TX,
        SET_CODE_TX,
        BTC_ATTRIBUTES_TX,
        POP_PAYOUT_TX,
        DEPOSIT_TX,
    }
)



# The mint/burn counterparty of token transfers; never a holder or a real sender.
ZERO_ADDRESS = bytes(20)
# Sender of 0x7C and 0x7D transactions, hardcoded in op-geth's signer.
HEMI_SYSTEM_SENDER = bytes.fromhex("88" * 20)


class HemiLog(NamedTuple):
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes
    log_index: int | None
    transaction_index: int | None
    transaction_hash: bytes | None
    block_hash: bytes | None
    block_number: int | None
    removed: bool


class AccessListEntry(NamedTuple):
    address: bytes
    storage_keys: tuple[bytes, ...]


class Authorization(NamedTuple):
    """One EIP-7702 authorization tuple (``authorizationList`` item)."""

    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int


class HemiTransaction(NamedTuple):
    hash: bytes
    tx_type: int
    from_address: bytes
    to_address: bytes | None  # None = contract creation (or a system tx with nil ``to``)
    nonce: int
    gas: int
    value: int
    input: bytes
    gas_price: int | None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    chain_id: int | None = None
    access_list: tuple[AccessListEntry, ...] | None = None
    max_fee_per_blob_gas: int | None = None
    blob_versioned_hashes: tuple[bytes, ...] | None = None
    authorization_list: tuple[Authorization, ...] | None = None
    v: int | None = None
    r: int | None = None
    s: int | None = None
    y_parity: int | None = None
    # OP deposit (0x7E) fields.
    source_hash: bytes | None = None
    mint: int | None = None
    is_system_tx: bool = False
    deposit_receipt_version: int | None = None
    # Position in the chain (absent for pending transactions).
    block_hash: bytes | None = None
    block_number: int | None = None
    transaction_index: int | None = None

    @property
    def is_deposit(self) -> bool:
        return self.tx_type == DEPOSIT_TX

    @property
    def is_hemi_system_tx(self) -> bool:
        return self.tx_type in SYSTEM_TX_TYPES


class Withdrawal(NamedTuple):
    index: int
    validator_index: int
    address: bytes
    amount_gwei: int


class HemiBlock(NamedTuple):
    hash: bytes
    parent_hash: bytes
    sha3_uncles: bytes
    miner: bytes
    state_root: bytes
    transactions_root: bytes
    receipts_root: bytes
    logs_bloom: bytes
    difficulty: int
    number: int
    gas_limit: int
    gas_used: int
    timestamp: int
    extra_data: bytes
    mix_hash: bytes
    nonce: bytes  # 8 bytes, an RLP string in the header (not an integer)
    # Fork fields: None exactly when the RPC JSON does not carry the key.
    base_fee_per_gas: int | None
    withdrawals_root: bytes | None
    blob_gas_used: int | None
    excess_blob_gas: int | None
    parent_beacon_block_root: bytes | None
    requests_hash: bytes | None
    size: int | None
    transaction_hashes: tuple[bytes, ...]
    # None when the block was fetched with hashes only (eth_getBlockBy*(…, false)).
    transactions: tuple[HemiTransaction, ...] | None
    uncles: tuple[bytes, ...]
    withdrawals: tuple[Withdrawal, ...] | None


class HemiReceipt(NamedTuple):
    transaction_hash: bytes
    transaction_index: int
    block_hash: bytes
    block_number: int
    tx_type: int
    from_address: bytes
    to_address: bytes | None
    contract_address: bytes | None
    status: int | None  # post-Byzantium
    root: bytes | None  # pre-Byzantium post-state root (never on Hemi, kept for completeness)
    cumulative_gas_used: int
    gas_used: int
    effective_gas_price: int | None
    logs_bloom: bytes
    logs: tuple[HemiLog, ...]
    blob_gas_used: int | None = None
    blob_gas_price: int | None = None
    # OP-stack / Hemi extras.
    deposit_nonce: int | None = None
    deposit_receipt_version: int | None = None
    pop_payout_nonce: int | None = None
    btc_attributes_deposited_nonce: int | None = None
    l1_fee: int | None = None
    l1_gas_used: int | None = None
    l1_gas_price: int | None = None
    l1_blob_base_fee: int | None = None
    l1_base_fee_scalar: int | None = None
    l1_blob_base_fee_scalar: int | None = None
    # Pre-Ecotone op-geth prints the scalar as a decimal string ("0.684"); keep the text,
    # never a float.
    l1_fee_scalar_text: str | None = None
