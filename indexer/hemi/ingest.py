"""Write one verified Hemi block, and every row derived from it, in one short transaction.

``verify.prepare_block`` is pure (maps and verifies, no DB); ``write_block`` writes. The split
keeps CPU-heavy verification outside the transaction, so locks are held only while rows are
written. Nothing here does network I/O: metadata reads for new tokens and vaults are enqueued
with ``on_commit`` (``tasks.py``), where they read and then write in their own transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import transaction

from indexer.hemi import block_extras, bulk, derived, tokens_ingest
from indexer.hemi.block_extras import MissingPrevKeystone
from indexer.hemi.events import TokenTransfer as Transfer
from indexer.hemi.models import Address, Block, Log, TokenTransfer, Transaction
from indexer.hemi.records import HemiBlock, HemiLog
from indexer.hemi.sqlutil import HEMI_WRITE_LOCK
from indexer.hemi.verify import BlockRejected, PreparedBlock, anvil_impersonated_hash, l1_origin_of, prepare_block
from indexer.models import ChainCursor

logger = logging.getLogger(__name__)

CHAIN = "hemi"
__all__ = [
    "BlockRejected",
    "IngestConfig",
    "IngestResult",
    "MissingPrevKeystone",
    "PreparedBlock",
    "ReorgDetected",
    "anvil_impersonated_hash",
    "ingest_block",
    "l1_origin_of",
    "prepare_block",
    "write_block",
]


class ReorgDetected(Exception):
    """The block does not extend the stored canonical chain: its parent (or its height) differs."""

    def __init__(self, number: int, reason: str) -> None:
        self.number = number
        super().__init__(f"hemi block {number}: {reason}")


@dataclass(frozen=True)
class IngestConfig:
    """Per-network facts the writer needs, resolved once per sync run (not per block)."""

    tunnel_manager: bytes | None
    # Devnet only: accept anvil's hash for impersonated transactions (verify.anvil_impersonated_hash).
    accept_impersonated: bool = False

    @classmethod
    def from_network(cls, network: Any = None) -> IngestConfig:
        if network is None:
            from hemiscope import networks

            network = networks.current()
        manager = network.tunnel_manager_address
        return cls(
            tunnel_manager=bytes.fromhex(manager[2:]) if manager else None,
            accept_impersonated=network.name == "devnet",
        )


@dataclass
class IngestResult:
    number: int
    hash: bytes
    status: str  # "inserted" | "exists" | "reinstated"
    tx_count: int = 0
    log_count: int = 0
    new_token_ids: list[int] = field(default_factory=list)
    new_vault_indexes: list[int] = field(default_factory=list)


def ingest_block(
    block_json: Any,
    receipts_json: Any,
    *,
    prev_keystone_hash: bytes | None = None,
    config: IngestConfig | None = None,
    enqueue: bool = True,
) -> IngestResult:
    """Verify and store one block (see ``verify.prepare_block`` and :func:`write_block`)."""
    config = config or IngestConfig.from_network()
    prepared = prepare_block(block_json, receipts_json, accept_impersonated=config.accept_impersonated)
    return write_block(prepared, prev_keystone_hash=prev_keystone_hash, config=config, enqueue=enqueue)


def write_block(
    prepared: PreparedBlock,
    *,
    prev_keystone_hash: bytes | None = None,
    config: IngestConfig | None = None,
    enqueue: bool = True,
) -> IngestResult:
    """Store a verified block; idempotent.

    1. Before the transaction (pure Python, no locks held): lay out every row of the block.
    2. Under the Hemi writer lock: a block already stored as canonical is a no-op (except
       that the cursor may advance onto it).
    3. The parent must be the stored canonical block at number - 1 (when we have one), and no
       other canonical block may hold this number; otherwise :class:`ReorgDetected`.
    4. A block stored as orphaned is reinstated (the chain switched back to it).
    5. Otherwise insert the block, its transactions, logs, first-seen addresses, token
       transfers with balance deltas, hVM updates, PoP payouts, tunnel events, vaults and
       keystone, then move the cursor - all in this one transaction, so balance deltas are
       applied exactly once, when the block row is new.
    """
    config = config or IngestConfig.from_network()
    block = prepared.block
    rows = BlockRows.of(prepared)
    # One transaction per block: the rows and the cursor that covers them commit together.
    with transaction.atomic():
        existing, ids = _open(block, rows)
        if existing is not None and existing[1]:
            _advance_cursor(block)
            return IngestResult(block.number, block.hash, "exists")
        if existing is not None:
            from indexer.hemi.reorg import reinstate_block

            reinstate_block(existing[0])
            result = IngestResult(block.number, block.hash, "reinstated")
            result.new_vault_indexes = block_extras.reinstate_vaults(existing[0], block.number, config.tunnel_manager)
            _advance_cursor(block)
        else:
            result = _insert_block(prepared, rows, ids, prev_keystone_hash, config)
        if enqueue:
            _enqueue_followups(result)
    return result


@dataclass
class BlockRows:
    """What a new block writes besides its block and transaction rows, worked out up front."""

    log_pairs: list[tuple[int, HemiLog]]  # (transaction position, log) in log order
    transfers: list[tuple[Transfer, int]]  # (decoded transfer, position in log_pairs)
    seen: dict[bytes, bool]  # address -> known to be a contract

    @classmethod
    def of(cls, prepared: PreparedBlock) -> BlockRows:
        txs = prepared.block.transactions or ()
        log_pairs = [(i, log) for i, r in enumerate(prepared.receipts) for log in r.logs]
        transfers = []
        for pos, (_i, log) in enumerate(log_pairs):
            try:
                t = derived.events.decode_transfer(log)
            except derived.events.EventDecodeError:
                continue  # a Transfer-named event of some other shape is not a token transfer
            if t is not None:
                transfers.append((t, pos))
        seen: dict[bytes, bool] = {}
        for tx, r in zip(txs, prepared.receipts, strict=True):
            seen.setdefault(tx.from_address, False)
            if tx.to_address is not None:
                seen.setdefault(tx.to_address, False)
            if r.contract_address is not None:
                seen[r.contract_address] = True
        for _, log in log_pairs:
            seen[log.address] = True  # only contracts emit logs
        for t, _ in transfers:
            seen.setdefault(t.from_address, False)
            seen.setdefault(t.to_address, False)
        seen.pop(bytes(20), None)
        return cls(log_pairs, transfers, seen)


_ID_MODELS = (Block, Transaction, Log, TokenTransfer)


def _open(block: HemiBlock, rows: BlockRows) -> tuple[tuple[int, bool] | None, list[list[int]]]:
    """Lock, check links and draw ids - one round trip; returns (existing, ids per _ID_MODELS).

    ``synchronous_commit = off`` for this transaction only: a server crash may lose the last
    few hundred milliseconds of committed blocks, but never half a block, and the cursor is
    lost with them - the next run re-fetches them from the chain, which is the source of
    truth. Waiting for a WAL flush per block would otherwise dominate ingest time. The lock
    wait is bounded: a loud error instead of a pile-up. The pipeline keeps the order, so the
    writer lock is held before anything is read.
    """
    counts = [1, len(block.transactions or ()), len(rows.log_pairs), len(rows.transfers)]
    cur, links, ids = bulk.cursor(), bulk.cursor(), bulk.cursor()
    with bulk.pipeline():
        cur.execute("SELECT set_config('lock_timeout', '30000', true), set_config('synchronous_commit', 'off', true)")
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [HEMI_WRITE_LOCK])
        links.execute(_LINKS_SQL, [block.hash, block.number, block.number - 1])
        bulk.allocate_ids(ids, _ID_MODELS, counts)
    return _check_links(block, links.fetchall()), bulk.fetch_ids(ids)


_LINKS_SQL = (
    f"SELECT id, number, hash, canonical FROM {Block._meta.db_table}"  # noqa: S608 - constant table name
    " WHERE hash = %b OR (canonical AND number IN (%s, %s))"
)


def _check_links(block: HemiBlock, rows: list[tuple]) -> tuple[int, bool] | None:
    """(id, canonical) of this block if stored; raises ReorgDetected if it does not fit.

    ``rows`` are the stored blocks with this hash and the canonical ones at this height and
    its parent's.
    """
    existing = None
    for row_id, number, row_hash, canonical in rows:
        row_hash = bytes(row_hash)
        if row_hash == block.hash:
            existing = (row_id, canonical)
        elif canonical and number == block.number:
            raise ReorgDetected(block.number, f"stored canonical block 0x{row_hash.hex()} differs")
        elif canonical and number == block.number - 1 and row_hash != block.parent_hash:
            raise ReorgDetected(
                block.number, f"parent 0x{block.parent_hash.hex()} is not the stored 0x{row_hash.hex()}"
            )
    return existing


def _advance_cursor(block: HemiBlock) -> None:
    """Move the cursor onto ``block`` when it extends the cursor (or there is none yet)."""
    cur = bulk.cursor()
    with bulk.pipeline():
        _queue_cursor_advance(cur, block)


_CURSOR_TABLE = ChainCursor._meta.db_table
_CURSOR_MOVE_SQL = (
    f"UPDATE {_CURSOR_TABLE} SET height = %s, block_hash = %b, updated_at = now()"  # noqa: S608
    " WHERE chain = %s AND height = %s AND block_hash = %b"
)
_CURSOR_CREATE_SQL = (
    f"INSERT INTO {_CURSOR_TABLE} (chain, height, block_hash, updated_at) VALUES (%s, %s, %b, now())"  # noqa: S608
    " ON CONFLICT (chain) DO NOTHING"
)


def _queue_cursor_advance(cur: Any, block: HemiBlock) -> None:
    """The cursor means "everything up to here is stored"; a backfill of an older range or a
    block ahead of a gap must not move it. Compare-and-set, then create only if none exists
    (the INSERT conflicts whenever a cursor row is there, moved or not)."""
    cur.execute(_CURSOR_MOVE_SQL, [block.number, block.hash, CHAIN, block.number - 1, block.parent_hash])
    cur.execute(_CURSOR_CREATE_SQL, [CHAIN, block.number, block.hash])


_BLOCK_SQL = bulk.insert_row_sql(Block, (
    ("id", "bigint"), ("number", "bigint"), ("hash", "bytea"), ("parent_hash", "bytea"), ("timestamp", "bigint"),
    ("miner", "bytea"), ("state_root", "bytea"), ("transactions_root", "bytea"), ("receipts_root", "bytea"),
    ("gas_used", "bigint"), ("gas_limit", "bigint"), ("base_fee_per_gas", "numeric"), ("header_rlp", "bytea"),
    ("tx_count", "integer"), ("l1_origin_number", "bigint"), ("canonical", "boolean"),
    ("created_at", "timestamptz"),
))  # fmt: skip
_TX_SQL = bulk.insert_sql(Transaction, (
    ("id", "bigint"), ("block_id", "bigint"), ("hash", "bytea"), ("index", "integer"), ("type", "smallint"),
    ("sender", "bytea"), ("to", "bytea"), ("value", "numeric"), ("nonce", "numeric"), ("gas", "numeric"),
    ("gas_price", "numeric"), ("max_fee_per_gas", "numeric"), ("max_priority_fee_per_gas", "numeric"),
    ("input", "bytea"), ("raw", "bytea"), ("receipt_raw", "bytea"), ("status", "smallint"), ("gas_used", "numeric"),
    ("cumulative_gas_used", "numeric"), ("effective_gas_price", "numeric"), ("contract_address", "bytea"),
    ("canonical", "boolean"),
))  # fmt: skip
_LOG_SQL = bulk.insert_sql(Log, (
    ("id", "bigint"), ("transaction_id", "bigint"), ("block_id", "bigint"), ("log_index", "integer"),
    ("address", "bytea"), ("topic0", "bytea"), ("topic1", "bytea"), ("topic2", "bytea"), ("topic3", "bytea"),
    ("data", "bytea"), ("canonical", "boolean"),
))  # fmt: skip
_ADDRESS_TABLE = Address._meta.db_table
# First-seen rows; a later sighting only lowers first_seen_block or sets is_contract. The
# WHERE clause skips no-op updates, so busy addresses are not rewritten every block.
_ADDRESS_SQL = (
    f"INSERT INTO {_ADDRESS_TABLE} (address, first_seen_block, is_contract)"  # noqa: S608 - constant table name
    " SELECT a, %s, c FROM unnest(%b::bytea[], %b::boolean[]) AS t(a, c)"
    f" ON CONFLICT (address) DO UPDATE SET"
    f" first_seen_block = LEAST({_ADDRESS_TABLE}.first_seen_block, EXCLUDED.first_seen_block),"
    f" is_contract = {_ADDRESS_TABLE}.is_contract OR EXCLUDED.is_contract"
    f" WHERE EXCLUDED.first_seen_block < {_ADDRESS_TABLE}.first_seen_block"
    f" OR (EXCLUDED.is_contract AND NOT {_ADDRESS_TABLE}.is_contract)"
)


def _insert_block(
    prepared: PreparedBlock,
    rows: BlockRows,
    ids: list[list[int]],
    prev_keystone_hash: bytes | None,
    config: IngestConfig,
) -> IngestResult:
    """Every row of a new block and the cursor: one pipelined round trip, then the rare extras."""
    block, receipts = prepared.block, prepared.receipts
    txs = block.transactions or ()
    (block_id,), tx_ids, log_ids, transfer_ids = ids
    log_pairs, transfers = rows.log_pairs, rows.transfers
    n_tx = len(txs)
    block_row = (block_id, block.number, block.hash, block.parent_hash, block.timestamp, block.miner,
                 block.state_root, block.transactions_root, block.receipts_root, block.gas_used, block.gas_limit,
                 block.base_fee_per_gas, prepared.header_rlp, n_tx, prepared.l1_origin_number, True, _now())
    tx_rows = [
        (tx_id, block_id, tx.hash, i, tx.tx_type, tx.from_address, tx.to_address, tx.value, tx.nonce, tx.gas,
         tx.gas_price, tx.max_fee_per_gas, tx.max_priority_fee_per_gas, tx.input, raw, raw_receipt, r.status,
         r.gas_used, r.cumulative_gas_used, r.effective_gas_price, r.contract_address, True)
        for i, (tx_id, tx, r, raw, raw_receipt) in enumerate(
            zip(tx_ids, txs, receipts, prepared.raw_txs, prepared.raw_receipts, strict=True))
    ]  # fmt: skip
    log_rows = [
        (log_id, tx_ids[i], block_id, log.log_index, log.address, *(log.topics + (None,) * (4 - len(log.topics))),
         log.data, True)
        for log_id, (i, log) in zip(log_ids, log_pairs, strict=True)
    ]  # fmt: skip
    result = IngestResult(block.number, block.hash, "inserted", tx_count=n_tx, log_count=len(log_pairs))
    addresses = sorted(rows.seen)
    cur, tokens_cur, transfers_cur, balances_cur = bulk.cursor(), bulk.cursor(), bulk.cursor(), bulk.cursor()
    with bulk.pipeline():
        cur.execute(_BLOCK_SQL, block_row)
        cur.execute(_TX_SQL, bulk.columns_of(tx_rows, 22))
        cur.execute(_LOG_SQL, bulk.columns_of(log_rows, 11))
        if transfers:
            first_seen: dict[bytes, str] = {}
            for t, _ in transfers:
                first_seen.setdefault(t.token, t.standard)
            tokens_ingest.queue_ensure_tokens(tokens_cur, first_seen, block.number)
            tokens_ingest.queue_transfers(
                transfers_cur,
                [(transfer_id, log_ids[pos], t.token, block_id, t.from_address, t.to_address, t.value, t.token_id)
                 for transfer_id, (t, pos) in zip(transfer_ids, transfers, strict=True)],
            )  # fmt: skip
            deltas = tokens_ingest.deltas_of((t.token, t.from_address, t.to_address, t.value) for t, _ in transfers)
            tokens_ingest.queue_balance_deltas(balances_cur, deltas)
        if addresses:
            cur.execute(_ADDRESS_SQL, [block.number, addresses, [rows.seen[a] for a in addresses]])
        _queue_cursor_advance(cur, block)
    if transfers:
        result.new_token_ids = [row[0] for row in tokens_cur.fetchall()]
        # The transfer and balance rows join the token table by address: each must find its token.
        if transfers_cur.rowcount != len(transfers) or balances_cur.rowcount != len(deltas):
            raise RuntimeError(f"block {block.number}: token rows missing while writing transfers")
    block_extras.insert_system_rows(prepared, block_id, tx_ids)
    result.new_vault_indexes = block_extras.insert_tunnel_rows(
        prepared, block_id, tx_ids, log_pairs, log_ids, config.tunnel_manager
    )
    block_extras.insert_keystone(prepared, block_id, prev_keystone_hash)
    return result


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def _enqueue_followups(result: IngestResult) -> None:
    """Metadata and custody reads run after commit, in tasks that do their own transaction.

    ``robust=True``: a broker outage must not turn a committed block into an error; the
    periodic sweep in ``tasks.follow_tip`` re-enqueues tokens still lacking metadata.
    """
    if not (result.new_token_ids or result.new_vault_indexes):
        return
    from indexer.hemi import tasks

    for token_id in result.new_token_ids:
        transaction.on_commit(partial(tasks.read_token_metadata.delay, token_id), robust=True)
    for index in result.new_vault_indexes:
        transaction.on_commit(partial(tasks.read_vault.delay, index), robust=True)
