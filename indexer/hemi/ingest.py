"""Write verified Hemi blocks, and every row derived from them, in short transactions.

``verify.prepare_block`` (maps and verifies) and ``layout.lay_out`` (rows without ids) are
pure; this module writes: one block (:func:`write_layout`) or a run of new consecutive blocks
(:func:`write_run`) per transaction. The split keeps CPU-heavy work outside the transaction
(and, in a backfill, in worker processes), so locks are held only while rows are written.
Nothing here does network I/O: metadata reads for new tokens and vault custody reads are
recorded as durable work items (``indexer.core.work``) in the block's own transaction, and the
caller's ``after_commit`` callback (a Celery nudge, an inline drain, or nothing) runs once the
transaction has committed. This module knows nothing of Celery.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import transaction

from indexer.core import cursor as chain_cursor
from indexer.core import work
from indexer.hemi import block_extras, bulk, layout, tokens_ingest
from indexer.hemi.block_extras import MissingPrevKeystone
from indexer.hemi.chain import CHAIN, TOKEN_METADATA, VAULT_CUSTODY, WRITER
from indexer.hemi.events import TokenTransfer as TokenTransferEvent
from indexer.hemi.layout import BlockLayout
from indexer.hemi.models import Address, Block, BlockIntegrityIssue, Log, Token, TokenTransfer, Transaction
from indexer.hemi.reorg import reinstate_block
from indexer.hemi.verify import BlockRejected, PreparedBlock, anvil_impersonated_hash, l1_origin_of, prepare_block

logger = logging.getLogger(__name__)

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
    "write_layout",
    "write_run",
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
    # HEMI_VERIFY_STRICT: a failed re-hash check stops the sync (True) or flags the block (False).
    verify_strict: bool = True

    @classmethod
    def from_network(cls, network: Any = None) -> IngestConfig:
        if network is None:
            from hemiscope import networks

            network = networks.current()
        manager = network.tunnel_manager_address
        return cls(
            tunnel_manager=bytes.fromhex(manager[2:]) if manager else None,
            accept_impersonated=network.name == "devnet",
            verify_strict=network.verify_strict,
        )


@dataclass
class IngestResult:
    number: int
    hash: bytes
    status: str  # "inserted" | "exists" | "reinstated"
    tx_count: int = 0
    log_count: int = 0
    new_token_ids: list[int] = field(default_factory=list)
    new_vaults: list[tuple[int, bytes]] = field(default_factory=list)  # (index, address)


# Called once the transaction that wrote these blocks has committed (never on rollback).
AfterCommit = Callable[[list[IngestResult]], None]


def ingest_block(
    block_json: Any,
    receipts_json: Any,
    *,
    prev_keystone_hash: bytes | None = None,
    config: IngestConfig | None = None,
    after_commit: AfterCommit | None = None,
) -> IngestResult:
    """Verify and store one block (see ``verify.prepare_block`` and :func:`write_block`)."""
    config = config or IngestConfig.from_network()
    prepared = prepare_block(
        block_json, receipts_json, accept_impersonated=config.accept_impersonated, strict=config.verify_strict
    )
    return write_block(prepared, prev_keystone_hash=prev_keystone_hash, config=config, after_commit=after_commit)


def write_block(
    prepared: PreparedBlock,
    *,
    prev_keystone_hash: bytes | None = None,
    config: IngestConfig | None = None,
    after_commit: AfterCommit | None = None,
) -> IngestResult:
    """Store a verified block; idempotent (see :func:`write_layout`)."""
    rows = layout.lay_out(prepared)
    return write_layout(rows, prev_keystone_hash=prev_keystone_hash, config=config, after_commit=after_commit)


def write_layout(
    rows: BlockLayout,
    *,
    prev_keystone_hash: bytes | None = None,
    config: IngestConfig | None = None,
    after_commit: AfterCommit | None = None,
) -> IngestResult:
    """Store one block, laid out (``layout.lay_out``) before the transaction; idempotent.

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
    # One transaction per block: the rows and the cursor that covers them commit together.
    with transaction.atomic():
        stored, ids = _open([rows])
        existing = _check_links(rows, stored)
        if existing is not None and existing[1]:
            _advance_cursor(rows)
            return IngestResult(rows.number, rows.hash, "exists")
        if existing is not None:
            reinstate_block(existing[0])
            result = IngestResult(rows.number, rows.hash, "reinstated")
            result.new_vaults = block_extras.reinstate_vaults(existing[0], rows.number, config.tunnel_manager)
            _advance_cursor(rows)
        else:
            (result,) = _insert_run([(rows, prev_keystone_hash)], ids, config)
        _record_followups([result], after_commit)
    return result


class _RunDoesNotFit(Exception):
    """Raised inside :func:`write_run`'s transaction to roll it back (nothing was written)."""


def write_run(
    items: Sequence[tuple[BlockLayout, bytes | None]],
    *,
    config: IngestConfig | None = None,
    after_commit: AfterCommit | None = None,
) -> list[IngestResult] | None:
    """Store consecutive new blocks ``(layout, prev_keystone_hash)`` in one transaction.

    The backfill and tip-following path: a run of blocks that are all new and extend the
    stored chain is written with one statement per table and one commit, instead of one
    transaction per block (per-statement and per-commit costs were a third of the database's
    ingest CPU at 50 transactions a block). The rows, the derived rows and the cursor move
    together, exactly as :func:`write_layout` does for one block.

    Returns None, having written nothing, when the run is anything else - a block already
    stored, a parent that is not the stored tip, blocks that do not chain. The caller then
    writes the blocks one by one with :func:`write_layout`, which tells those cases apart
    (exists, reinstated, :class:`ReorgDetected`).
    """
    if not items:
        return []
    config = config or IngestConfig.from_network()
    blocks = [rows for rows, _ in items]
    if not _chains(blocks):
        return None
    try:
        with transaction.atomic():
            stored, ids = _open(blocks)
            if not _run_extends_stored_chain(blocks, stored):
                raise _RunDoesNotFit
            results = _insert_run(items, ids, config)
            _record_followups(results, after_commit)
    except _RunDoesNotFit:
        return None
    return results


def _chains(blocks: Sequence[BlockLayout]) -> bool:
    """Consecutive numbers, each block the child of the one before."""
    return all(
        child.number == parent.number + 1 and child.parent_hash == parent.hash
        for parent, child in itertools.pairwise(blocks)
    )


_ID_MODELS = (Block, Transaction, Log, TokenTransfer)


def _open(blocks: Sequence[BlockLayout]) -> tuple[list[tuple], list[list[int]]]:
    """Lock, read the stored blocks the run must fit, draw ids - one round trip.

    Returns the stored blocks that have one of the run's hashes or are canonical between the
    first block's parent and the last block, and fresh ids per ``_ID_MODELS`` for the run.

    ``synchronous_commit = off`` for this transaction only: a server crash may lose the last
    few hundred milliseconds of committed blocks, but never half a block, and the cursor is
    lost with them - the next run re-fetches them from the chain, which is the source of
    truth. Waiting for a WAL flush per commit would otherwise dominate ingest time. The lock
    wait is bounded: a loud error instead of a pile-up. The pipeline keeps the order, so the
    writer lock is held before anything is read.
    """
    counts = [
        len(blocks),
        sum(len(b.tx_rows) for b in blocks),
        sum(len(b.log_rows) for b in blocks),
        sum(len(b.transfers) for b in blocks),
    ]
    cur, links, ids = bulk.cursor(), bulk.cursor(), bulk.cursor()
    with bulk.pipeline():
        cur.execute("SELECT set_config('synchronous_commit', 'off', true)")
        WRITER.queue(cur)
        links.execute(_LINKS_SQL, [[b.hash for b in blocks], blocks[0].number - 1, blocks[-1].number])
        bulk.allocate_ids(ids, _ID_MODELS, counts)
    return links.fetchall(), bulk.fetch_ids(ids)


_LINKS_SQL = (
    f"SELECT id, number, hash, canonical FROM {Block._meta.db_table}"  # noqa: S608 - constant table name
    " WHERE hash = ANY(%b::bytea[]) OR (canonical AND number BETWEEN %s AND %s)"
)


def _check_links(block: BlockLayout, rows: list[tuple]) -> tuple[int, bool] | None:
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


def _run_extends_stored_chain(blocks: Sequence[BlockLayout], rows: list[tuple]) -> bool:
    """None of the run is stored, no canonical block holds its heights, and its first block's
    parent is the stored canonical block below it (or nothing is stored there)."""
    parent_number = blocks[0].number - 1
    for _row_id, number, row_hash, canonical in rows:
        if not canonical or number != parent_number or bytes(row_hash) != blocks[0].parent_hash:
            return False
    return True


def _advance_cursor(block: BlockLayout) -> None:
    """Move the cursor onto ``block`` when it extends the cursor (or there is none yet)."""
    cur = bulk.cursor()
    with bulk.pipeline():
        _queue_cursor_advance(cur, block, block)


def _queue_cursor_advance(cur: Any, first: BlockLayout, last: BlockLayout) -> None:
    """The cursor means "everything up to here is stored"; a backfill of an older range or a
    run ahead of a gap must not move it. Compare-and-set (the cursor must sit on ``first``'s
    parent), then create only if none exists (the INSERT conflicts whenever a cursor row is
    there, moved or not)."""
    chain_cursor.queue_advance(cur, CHAIN, (first.number - 1, first.parent_hash), (last.number, last.hash))


_BLOCK_SQL = bulk.insert_sql(
    Block, (("id", "bigint"), *layout.BLOCK_COLUMNS, ("canonical", "boolean"), ("created_at", "timestamptz"))
)
_TX_COPY, _TX_TYPES = bulk.copy_sql(
    Transaction, (("id", "bigint"), ("block_id", "bigint"), *layout.TX_COLUMNS, ("canonical", "boolean"))
)
_LOG_COPY, _LOG_TYPES = bulk.copy_sql(
    Log,
    (("id", "bigint"), ("transaction_id", "bigint"), ("block_id", "bigint"), *layout.LOG_COLUMNS,
     ("canonical", "boolean")),
)  # fmt: skip
_ADDRESS_TABLE = Address._meta.db_table
# First-seen rows; a later sighting only lowers first_seen_block or sets is_contract. The
# WHERE clause skips no-op updates, so busy addresses are not rewritten every block. Each
# address appears once per statement (ON CONFLICT may not touch a row twice).
_ADDRESS_SQL = (
    f"INSERT INTO {_ADDRESS_TABLE} (address, first_seen_block, is_contract)"  # noqa: S608 - constant table name
    " SELECT * FROM unnest(%b::bytea[], %b::bigint[], %b::boolean[])"
    f" ON CONFLICT (address) DO UPDATE SET"
    f" first_seen_block = LEAST({_ADDRESS_TABLE}.first_seen_block, EXCLUDED.first_seen_block),"
    f" is_contract = {_ADDRESS_TABLE}.is_contract OR EXCLUDED.is_contract"
    f" WHERE EXCLUDED.first_seen_block < {_ADDRESS_TABLE}.first_seen_block"
    f" OR (EXCLUDED.is_contract AND NOT {_ADDRESS_TABLE}.is_contract)"
)


def _insert_run(
    items: Sequence[tuple[BlockLayout, bytes | None]], ids: list[list[int]], config: IngestConfig
) -> list[IngestResult]:
    """Every row of a run of new blocks and the cursor, then the rare per-block extras (in
    block order, so a keystone finds its predecessor in the run).

    1. Give every row its id and foreign keys (ids drawn by ``_open``).
    2. Merge what the blocks share: first sight of tokens and addresses (earliest block),
       balance deltas (summed).
    3. One pipeline: the block rows, new tokens, the token ids. Then one binary COPY each for
       transactions, logs and transfers. One more pipeline: balance deltas, first-seen
       addresses, the cursor move.
    4. Per block with extras: hVM updates, PoP payouts, tunnel rows, keystone; per block that
       failed a re-hash check (lenient verification), its integrity issues.
    """
    block_ids, all_tx_ids, all_log_ids, all_transfer_ids = ids
    tx_rows: list[tuple] = []
    log_rows: list[tuple] = []
    transfers: list[tuple[int, int, int, TokenTransferEvent]] = []  # (id, log id, block id, transfer)
    token_first_seen: dict[bytes, tuple[int, str]] = {}  # address -> (first block, standard)
    seen: dict[bytes, tuple[int, bool]] = {}  # address -> (first block, is a contract)
    per_block: list[tuple[list[int], list[int]]] = []  # (tx ids, log ids) of each block
    results = []
    tx_at = log_at = transfer_at = 0
    for (rows, _), block_id in zip(items, block_ids, strict=True):
        n_tx, n_log = len(rows.tx_rows), len(rows.log_rows)
        tx_ids = all_tx_ids[tx_at : tx_at + n_tx]
        log_ids = all_log_ids[log_at : log_at + n_log]
        transfer_ids = all_transfer_ids[transfer_at : transfer_at + len(rows.transfers)]
        tx_at, log_at, transfer_at = tx_at + n_tx, log_at + n_log, transfer_at + len(rows.transfers)
        per_block.append((tx_ids, log_ids))
        tx_rows += [(tx_id, block_id, *row, True) for tx_id, row in zip(tx_ids, rows.tx_rows, strict=True)]
        log_rows += [
            (log_id, tx_ids[row[0]], block_id, *row[1:], True)  # row[0]: the transaction's position
            for log_id, row in zip(log_ids, rows.log_rows, strict=True)
        ]
        for transfer_id, (log_position, t) in zip(transfer_ids, rows.transfers, strict=True):
            transfers.append((transfer_id, log_ids[log_position], block_id, t))
            token_first_seen.setdefault(t.token, (rows.number, t.standard))
        for address, is_contract in rows.seen.items():
            known = seen.get(address)
            if known is None:
                seen[address] = (rows.number, is_contract)
            elif is_contract and not known[1]:
                seen[address] = (known[0], True)
        results.append(IngestResult(rows.number, rows.hash, "inserted", tx_count=n_tx, log_count=n_log))
    first, last = items[0][0], items[-1][0]
    created = _now()
    block_columns = bulk.columns_of([rows.block_row for rows, _ in items], len(layout.BLOCK_COLUMNS))
    cur, new_tokens_cur, token_ids_cur = bulk.cursor(), bulk.cursor(), bulk.cursor()
    with bulk.pipeline():
        cur.execute(_BLOCK_SQL, [block_ids, *block_columns, [True] * len(items), [created] * len(items)])
        if transfers:
            tokens_ingest.queue_ensure_tokens(new_tokens_cur, token_first_seen)
            tokens_ingest.queue_token_ids(token_ids_cur, list(token_first_seen))
    # Transactions, logs and transfers - thousands of rows per run - go in by binary COPY:
    # PostgreSQL inserts those in multi-row batches, at a fraction of the server CPU of an
    # INSERT ... SELECT FROM unnest(...) (measured: ~5x less for 10k transaction rows).
    bulk.copy_rows(_TX_COPY, _TX_TYPES, tx_rows)
    bulk.copy_rows(_LOG_COPY, _LOG_TYPES, log_rows)
    if transfers:
        by_number = {r.number: r for r in results}
        for token_id, first_seen_block in new_tokens_cur.fetchall():
            by_number[first_seen_block].new_token_ids.append(token_id)
        token_ids = {bytes(address): token_id for address, token_id in token_ids_cur.fetchall()}
        if len(token_ids) != len(token_first_seen):
            raise RuntimeError(f"blocks {first.number}..{last.number}: token rows missing while writing transfers")
        tokens_ingest.copy_transfers(
            (transfer_id, log_id, token_ids[t.token], block_id, t.from_address, t.to_address, t.value, t.token_id)
            for transfer_id, log_id, block_id, t in transfers
        )
    addresses = sorted(seen)
    with bulk.pipeline():
        if transfers:
            deltas = tokens_ingest.deltas_of((token_ids[t.token], t.from_address, t.to_address, t.value)
                                             for _, _, _, t in transfers)  # fmt: skip
            tokens_ingest.queue_balance_deltas(cur, deltas)
        if addresses:
            cur.execute(_ADDRESS_SQL, [addresses, [seen[a][0] for a in addresses], [seen[a][1] for a in addresses]])
        _queue_cursor_advance(cur, first, last)
    for (rows, prev_keystone_hash), block_id, (tx_ids, log_ids), result in zip(
        items, block_ids, per_block, results, strict=True
    ):
        prepared = rows.extras
        if prepared is None:
            continue
        block_extras.insert_system_rows(prepared, block_id, tx_ids)
        log_pairs = [(i, log) for i, r in enumerate(prepared.receipts) for log in r.logs]
        result.new_vaults = block_extras.insert_tunnel_rows(
            prepared, block_id, tx_ids, log_pairs, log_ids, config.tunnel_manager
        )
        block_extras.insert_keystone(prepared, block_id, prev_keystone_hash)
    flagged = [
        BlockIntegrityIssue(
            block_id=block_id, check_name=i.check, expected=i.expected, found=i.found, tx_index=i.tx_index
        )
        for (rows, _), block_id in zip(items, block_ids, strict=True)
        for i in rows.integrity
    ]
    if flagged:
        BlockIntegrityIssue.objects.bulk_create(flagged)
        logger.warning(
            "hemi blocks stored with failed integrity checks (HEMI_VERIFY_STRICT is off)",
            extra={"blocks": sorted({rows.number for rows, _ in items if rows.integrity}), "issues": len(flagged)},
        )
    return results


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def _record_followups(results: list[IngestResult], after_commit: AfterCommit | None) -> None:
    """Inside the block's transaction: a work item per new token (metadata) and new vault
    (custody), so they exist exactly when the rows that need them do; then hand the results
    to ``after_commit`` once the transaction commits (``robust``: a failing nudge must not
    turn a committed block into an error - the work is in the table anyway).

    A vault item is re-armed if it was done before: a reorg that drops and re-creates the
    vault row (reinstated block) leaves the row without custody until it is read again.
    """
    tokens = [t for r in results for t in r.new_token_ids]
    vaults = [v for r in results for v in r.new_vaults]
    if not (tokens or vaults):
        return
    if tokens:
        addresses = dict(Token.objects.filter(id__in=tokens).values_list("id", "address"))
        work.add(work.Work(TOKEN_METADATA, "0x" + bytes(addresses[t]).hex(), {"token_id": t}) for t in tokens)
    if vaults:
        work.add((work.Work(VAULT_CUSTODY, "0x" + bytes(a).hex(), {"index": i}) for i, a in vaults), rearm=True)
    if after_commit is not None:
        transaction.on_commit(partial(after_commit, results), robust=True)
