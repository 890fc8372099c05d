"""Lay out the rows of a verified Hemi block (pure: no Django, no I/O).

``verify.prepare_block`` turns JSON into checked records; :func:`lay_out` turns those records
into the plain row tuples the writer inserts. Only what needs the database is left to the
writer (``ingest.py``): row ids, the foreign keys made of them, ``canonical`` and timestamps.

Why a separate step: in a long backfill the fetch worker processes run it, and rows travel
to the writer as tuples of bytes and ints. Pickling those is C work; rebuilding record
objects on the writer's side (one Python ``__init__`` per transaction, receipt and log) cost
ten times more than sending the rows (measured: 0.02 s vs 0.22 s to unpickle 200 blocks of
50 transfers). The records themselves travel only with the few blocks that have
Hemi-specific rows to derive (:func:`needs_extras`).

The column order of every row is fixed by the ``*_COLUMNS`` tuples here; ``ingest.py`` builds
its INSERT statements from the same tuples.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.hemi import events
from indexer.hemi.hvm import UPDATE_HVM_STATE_SELECTOR
from indexer.hemi.records import SYSTEM_TX_TYPES, ZERO_ADDRESS
from indexer.hemi.verify import IntegrityIssue, PreparedBlock
from indexer.keystone import is_keystone_number

# (column, PostgreSQL type) of each row tuple, in order.
BLOCK_COLUMNS = (
    ("number", "bigint"), ("hash", "bytea"), ("parent_hash", "bytea"), ("timestamp", "bigint"), ("miner", "bytea"),
    ("state_root", "bytea"), ("transactions_root", "bytea"), ("receipts_root", "bytea"), ("gas_used", "bigint"),
    ("gas_limit", "bigint"), ("base_fee_per_gas", "numeric"), ("header_rlp", "bytea"), ("tx_count", "integer"),
    ("l1_origin_number", "bigint"),
)  # fmt: skip
TX_COLUMNS = (
    ("hash", "bytea"), ("index", "integer"), ("type", "smallint"), ("sender", "bytea"), ("to", "bytea"),
    ("value", "numeric"), ("nonce", "numeric"), ("gas", "numeric"), ("gas_price", "numeric"),
    ("max_fee_per_gas", "numeric"), ("max_priority_fee_per_gas", "numeric"), ("input", "bytea"), ("raw", "bytea"),
    ("receipt_raw", "bytea"), ("status", "smallint"), ("gas_used", "numeric"), ("cumulative_gas_used", "numeric"),
    ("effective_gas_price", "numeric"), ("contract_address", "bytea"), ("l1_fee", "numeric"),
    ("l1_gas_used", "numeric"), ("l1_gas_price", "numeric"), ("l1_blob_base_fee", "numeric"),
    ("l1_base_fee_scalar", "numeric"), ("l1_blob_base_fee_scalar", "numeric"), ("l1_fee_scalar_text", "text"),
)  # fmt: skip
# A log row starts with the position of its transaction in the block (the writer turns it
# into the transaction's id).
LOG_COLUMNS = (
    ("log_index", "integer"), ("address", "bytea"), ("topic0", "bytea"), ("topic1", "bytea"), ("topic2", "bytea"),
    ("topic3", "bytea"), ("data", "bytea"),
)  # fmt: skip

# Logs whose rows ``block_extras.insert_tunnel_rows`` may derive (when the emitter is the manager).
TUNNEL_TOPICS = frozenset({
    events.DEPOSIT_CONFIRMED_TOPIC, events.WITHDRAWAL_INITIATED_TOPIC, events.WITHDRAWAL_CHALLENGE_SUCCESS_TOPIC,
    events.VAULT_CREATED_TOPIC,
})  # fmt: skip


@dataclass(frozen=True)
class BlockLayout:
    """Everything the writer inserts for one new block, except ids."""

    number: int
    hash: bytes
    parent_hash: bytes
    block_row: tuple  # BLOCK_COLUMNS
    tx_rows: list[tuple]  # TX_COLUMNS
    log_rows: list[tuple]  # (transaction position, *LOG_COLUMNS), in log order
    transfers: list[tuple[int, events.TokenTransfer]]  # (position in log_rows, Transfer) in log order
    seen: dict[bytes, bool]  # every address the block touches -> known to be a contract
    # The verified records, only when the block has hVM/PoP/tunnel/keystone rows to derive.
    extras: PreparedBlock | None
    # Re-hash checks the block failed (lenient verification): stored with it, flagged.
    integrity: tuple[IntegrityIssue, ...] = ()


def needs_extras(prepared: PreparedBlock) -> bool:
    """Whether ``block_extras`` could derive any row from this block.

    Keep in step with ``block_extras``: a keystone number (keystone row); a 0x7C/0x7D system
    transaction or an ``updateHvmState`` call (hVM and PoP payout rows, or a refusal); a log
    with a tunnel event topic (tunnel rows, if the emitter is the configured manager).
    """
    block = prepared.block
    if is_keystone_number(block.number):
        return True
    for tx in block.transactions or ():
        if tx.tx_type in SYSTEM_TX_TYPES or tx.input[:4] == UPDATE_HVM_STATE_SELECTOR:
            return True
    return any(log.topics and log.topics[0] in TUNNEL_TOPICS for r in prepared.receipts for log in r.logs)


def lay_out(prepared: PreparedBlock) -> BlockLayout:
    """The rows of a verified block (see the module docstring)."""
    block, receipts = prepared.block, prepared.receipts
    txs = block.transactions or ()
    block_row = (
        block.number, block.hash, block.parent_hash, block.timestamp, block.miner, block.state_root,
        block.transactions_root, block.receipts_root, block.gas_used, block.gas_limit, block.base_fee_per_gas,
        prepared.header_rlp, len(txs), prepared.l1_origin_number,
    )  # fmt: skip
    tx_rows = [
        (tx.hash, i, tx.tx_type, tx.from_address, tx.to_address, tx.value, tx.nonce, tx.gas, tx.gas_price,
         tx.max_fee_per_gas, tx.max_priority_fee_per_gas, tx.input, raw, raw_receipt, r.status, r.gas_used,
         r.cumulative_gas_used, r.effective_gas_price, r.contract_address, r.l1_fee, r.l1_gas_used, r.l1_gas_price,
         r.l1_blob_base_fee, r.l1_base_fee_scalar, r.l1_blob_base_fee_scalar, r.l1_fee_scalar_text)
        for i, (tx, r, raw, raw_receipt) in enumerate(
            zip(txs, receipts, prepared.raw_txs, prepared.raw_receipts, strict=True))
    ]  # fmt: skip
    log_rows = []
    transfers = []
    seen: dict[bytes, bool] = {}
    for i, (tx, r) in enumerate(zip(txs, receipts, strict=True)):
        seen.setdefault(tx.from_address, False)
        if tx.to_address is not None:
            seen.setdefault(tx.to_address, False)
        if r.contract_address is not None:
            seen[r.contract_address] = True
        for log in r.logs:
            topics = log.topics + (None,) * (4 - len(log.topics))
            log_rows.append((i, log.log_index, log.address, *topics, log.data))
            seen[log.address] = True  # only contracts emit logs
            try:
                t = events.decode_transfer(log)
            except events.EventDecodeError:
                continue  # a Transfer-named event of some other shape is not a token transfer
            if t is not None:
                transfers.append((len(log_rows) - 1, t))
                seen.setdefault(t.from_address, False)
                seen.setdefault(t.to_address, False)
    seen.pop(ZERO_ADDRESS, None)
    return BlockLayout(
        number=block.number,
        hash=block.hash,
        parent_hash=block.parent_hash,
        block_row=block_row,
        tx_rows=tx_rows,
        log_rows=log_rows,
        transfers=transfers,
        seen=seen,
        extras=prepared if needs_extras(prepared) else None,
        integrity=prepared.integrity,
    )
