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

from django.db import connection, transaction

from indexer.hemi import block_extras, bulk, derived, tokens_ingest
from indexer.hemi.block_extras import MissingPrevKeystone
from indexer.hemi.models import Address, Block, Log, TokenTransfer, Transaction
from indexer.hemi.records import HemiBlock
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

    1. Under the Hemi writer lock: a block already stored as canonical is a no-op (except
       that the cursor may advance onto it).
    2. The parent must be the stored canonical block at number - 1 (when we have one), and no
       other canonical block may hold this number; otherwise :class:`ReorgDetected`.
    3. A block stored as orphaned is reinstated (the chain switched back to it).
    4. Otherwise insert the block, its transactions, logs, first-seen addresses, token
       transfers with balance deltas, hVM updates, PoP payouts, tunnel events, vaults and
       keystone, then move the cursor - all in this one transaction, so balance deltas are
       applied exactly once, when the block row is new.
    """
    config = config or IngestConfig.from_network()
    block = prepared.block
    # One transaction per block: the rows and the cursor that covers them commit together.
    with transaction.atomic():
        _lock()
        existing = _check_links(block)
        if existing is not None and existing[1]:
            _advance_cursor(block)
            return IngestResult(block.number, block.hash, "exists")
        if existing is not None:
            from indexer.hemi.reorg import reinstate_block

            reinstate_block(existing[0])
            result = IngestResult(block.number, block.hash, "reinstated")
            result.new_vault_indexes = block_extras.reinstate_vaults(existing[0], block.number, config.tunnel_manager)
        else:
            result = _insert_block(prepared, prev_keystone_hash, config)
        _advance_cursor(block)
        if enqueue:
            _enqueue_followups(result)
    return result


def _lock() -> None:
    """The Hemi writer lock (transaction-scoped) and commit mode: one round trip, constant SQL.

    ``synchronous_commit = off`` for this transaction only: a server crash may lose the last
    few hundred milliseconds of committed blocks, but never half a block, and the cursor is
    lost with them - the next run re-fetches them from the chain, which is the source of
    truth. Waiting for a WAL flush per block would otherwise dominate ingest time.
    """
    with connection.cursor() as cur:
        # Constants only (no input): a bounded wait, then a loud error instead of a pile-up.
        cur.execute(
            "SET LOCAL lock_timeout = 30000; SET LOCAL synchronous_commit = off;"
            f" SELECT pg_advisory_xact_lock({HEMI_WRITE_LOCK})"
        )


def _check_links(block: HemiBlock) -> tuple[int, bool] | None:
    """(id, canonical) of this block if stored; raises ReorgDetected if it does not fit.

    One query reads the block by hash and the canonical blocks at its height and its parent's.
    """
    rows = bulk.execute(
        f"SELECT id, number, hash, canonical FROM {Block._meta.db_table}"  # noqa: S608 - constant table name
        " WHERE hash = %s OR (canonical AND number IN (%s, %s))",
        [block.hash, block.number, block.number - 1],
    )
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
    """Move the cursor onto ``block`` when it extends the cursor (or there is none yet).

    The cursor means "everything up to here is stored"; a backfill of an older range or a
    block ahead of a gap must not move it. Compare-and-set in one UPDATE.
    """
    moved = ChainCursor.objects.filter(chain=CHAIN, height=block.number - 1, block_hash=block.parent_hash).update(
        height=block.number, block_hash=block.hash
    )
    if not moved and not ChainCursor.objects.filter(chain=CHAIN).exists():
        ChainCursor.objects.create(chain=CHAIN, height=block.number, block_hash=block.hash)


_TX_COLUMNS = (
    "id", "block_id", "hash", "index", "type", "sender", "to", "value", "nonce", "gas", "gas_price",
    "max_fee_per_gas", "max_priority_fee_per_gas", "input", "raw", "receipt_raw", "status", "gas_used",
    "cumulative_gas_used", "effective_gas_price", "contract_address", "canonical",
)  # fmt: skip
_LOG_COLUMNS = ("id", "transaction_id", "block_id", "log_index", "address", "topic0", "topic1", "topic2", "topic3",
                "data", "canonical")  # fmt: skip
_TRANSFER_COLUMNS = ("id", "log_id", "token_id", "block_id", "sender", "recipient", "value", "nft_id", "canonical")


def _q(columns: tuple[str, ...]) -> list[str]:
    return [f'"{c}"' for c in columns]  # "to" and "index" are SQL keywords


def _insert_block(prepared: PreparedBlock, prev_keystone_hash: bytes | None, config: IngestConfig) -> IngestResult:
    block, receipts = prepared.block, prepared.receipts
    txs = block.transactions or ()
    log_pairs = [(i, log) for i, r in enumerate(receipts) for log in r.logs]
    transfers = []  # (decoded transfer, position in log_pairs)
    for pos, (_i, log) in enumerate(log_pairs):
        try:
            t = derived.events.decode_transfer(log)
        except derived.events.EventDecodeError:
            continue  # a Transfer-named event of some other shape is not a token transfer
        if t is not None:
            transfers.append((t, pos))
    block_id, tx_ids, log_ids, transfer_ids = bulk.allocate_ids(
        [(Block, 1), (Transaction, len(txs)), (Log, len(log_pairs)), (TokenTransfer, len(transfers))]
    )
    block_id = block_id[0]
    bulk.copy_rows(Block, _q(("id", "number", "hash", "parent_hash", "timestamp", "miner", "state_root",
                              "transactions_root", "receipts_root", "gas_used", "gas_limit", "base_fee_per_gas",
                              "header_rlp", "tx_count", "l1_origin_number", "canonical", "created_at")),
                   [(block_id, block.number, block.hash, block.parent_hash, block.timestamp, block.miner,
                     block.state_root, block.transactions_root, block.receipts_root, block.gas_used, block.gas_limit,
                     block.base_fee_per_gas, prepared.header_rlp, len(txs), prepared.l1_origin_number, True,
                     _now())])  # fmt: skip
    bulk.copy_rows(Transaction, _q(_TX_COLUMNS), (
        (tx_id, block_id, tx.hash, i, tx.tx_type, tx.from_address, tx.to_address, tx.value, tx.nonce, tx.gas,
         tx.gas_price, tx.max_fee_per_gas, tx.max_priority_fee_per_gas, tx.input, raw, raw_receipt, r.status,
         r.gas_used, r.cumulative_gas_used, r.effective_gas_price, r.contract_address, True)
        for i, (tx_id, tx, r, raw, raw_receipt) in enumerate(
            zip(tx_ids, txs, receipts, prepared.raw_txs, prepared.raw_receipts, strict=True))
    ))  # fmt: skip
    bulk.copy_rows(Log, _q(_LOG_COLUMNS), (
        (log_id, tx_ids[i], block_id, log.log_index, log.address, *(log.topics + (None,) * (4 - len(log.topics))),
         log.data, True)
        for log_id, (i, log) in zip(log_ids, log_pairs, strict=True)
    ))  # fmt: skip
    result = IngestResult(block.number, block.hash, "inserted", tx_count=len(txs), log_count=len(log_pairs))

    seen: dict[bytes, bool] = {}  # address -> known to be a contract
    for tx, r in zip(txs, receipts, strict=True):
        seen.setdefault(tx.from_address, False)
        if tx.to_address is not None:
            seen.setdefault(tx.to_address, False)
        if r.contract_address is not None:
            seen[r.contract_address] = True
    for _, log in log_pairs:
        seen[log.address] = True  # only contracts emit logs
    if transfers:
        first_seen: dict[bytes, tuple[str, int]] = {}
        for t, _ in transfers:
            first_seen.setdefault(t.token, (t.standard, block.number))
            seen.setdefault(t.from_address, False)
            seen.setdefault(t.to_address, False)
        token_ids, result.new_token_ids = tokens_ingest.ensure_tokens(first_seen)
        rows = [
            (transfer_id, log_ids[pos], token_ids[t.token], block_id, t.from_address, t.to_address, t.value,
             t.token_id, True)
            for transfer_id, (t, pos) in zip(transfer_ids, transfers, strict=True)
        ]  # fmt: skip
        bulk.copy_rows(TokenTransfer, _q(_TRANSFER_COLUMNS), rows)
        tokens_ingest.apply_balance_deltas(tokens_ingest.deltas_of(
            (token_ids[t.token], t.from_address, t.to_address, t.value) for t, _ in transfers))  # fmt: skip
    seen.pop(bytes(20), None)
    _upsert_addresses(seen, block.number)
    block_extras.insert_system_rows(prepared, block_id, tx_ids)
    result.new_vault_indexes = block_extras.insert_tunnel_rows(
        prepared, block_id, tx_ids, log_pairs, log_ids, config.tunnel_manager
    )
    block_extras.insert_keystone(prepared, block_id, prev_keystone_hash)
    return result


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def _upsert_addresses(seen: dict[bytes, bool], number: int) -> None:
    """First-seen rows; a later sighting only lowers first_seen_block or sets is_contract.

    The WHERE clause skips no-op updates, so busy addresses are not rewritten every block.
    """
    if not seen:
        return
    table = Address._meta.db_table
    addresses = sorted(seen)
    bulk.execute(
        f"INSERT INTO {table} (address, first_seen_block, is_contract)"  # noqa: S608 - constant table name
        " SELECT a, %s, c FROM unnest(%s::bytea[], %s::boolean[]) AS t(a, c)"
        f" ON CONFLICT (address) DO UPDATE SET"
        f" first_seen_block = LEAST({table}.first_seen_block, EXCLUDED.first_seen_block),"
        f" is_contract = {table}.is_contract OR EXCLUDED.is_contract"
        f" WHERE EXCLUDED.first_seen_block < {table}.first_seen_block"
        f" OR (EXCLUDED.is_contract AND NOT {table}.is_contract)",
        [number, addresses, [seen[a] for a in addresses]],
    )


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
