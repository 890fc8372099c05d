"""Stored transactions: the rows PoP publications, deposits and payouts hang off.

Each stored transaction keeps its raw bytes and its merkle branch so that inclusion can be
proven offline against the block header. A block full of PoP transactions needs thousands of
branches, so the tree is built once and every branch is read off its levels (log n per tx)
instead of rebuilding the tree per transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import psycopg
from django.db import connection, models

from indexer.bitcoin.decode import Block
from indexer.bitcoin.models import BitcoinTransaction

_sha256 = hashlib.sha256


class MerkleLevels:
    """All levels of a block's txid merkle tree (internal order), odd levels padded the
    Bitcoin way (last hash duplicated), so a branch is one lookup per level."""

    def __init__(self, txids_internal: Sequence[bytes]):
        if not txids_internal:
            raise ValueError("a block has at least one transaction")
        levels = [list(txids_internal)]
        sha = _sha256
        while len(levels[-1]) > 1:
            level = levels[-1]
            if len(level) & 1:
                level.append(level[-1])
            joined = b"".join(level)
            levels.append([sha(sha(joined[i : i + 64]).digest()).digest() for i in range(0, len(joined), 64)])
        self.levels = levels

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def branch(self, index: int) -> bytes:
        """Concatenated sibling hashes from the leaf up, the layout ``merkle_branch`` stores."""
        nodes = []
        for level in self.levels[:-1]:
            nodes.append(level[index ^ 1])
            index >>= 1
        return b"".join(nodes)


def insert_ignoring_conflicts(model: type[models.Model], columns: dict[str, tuple[str, list]]) -> None:
    """``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING`` for many rows at once.

    ``columns`` maps field name -> (PostgreSQL array type, values). One statement whatever the
    row count: a busy testnet3 block has thousands of PoP rows, and ``bulk_create`` spends most
    of its time building per-value SQL in Python. Must run inside the caller's transaction.
    """
    assert connection.in_atomic_block, "insert_ignoring_conflicts() must run inside transaction.atomic()"
    names = list(columns)
    lengths = {len(values) for _, values in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"column value lists differ in length: {lengths}")
    if not lengths.pop():
        return
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)
    arrays = ", ".join(f"%b::{columns[n][0]}" for n in names)  # %b: binary parameters
    connection.ensure_connection()
    # A server-side-binding psycopg cursor on Django's connection (so inside its transaction):
    # Django's default client-side binding would quote every bytea element into the SQL text,
    # which costs more than the insert itself; here the arrays travel as binary parameters.
    with psycopg.Cursor(connection.connection) as cur:
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT * FROM unnest({arrays}) ON CONFLICT DO NOTHING",  # noqa: S608
            [columns[n][1] for n in names],
            prepare=False,  # never a named prepared statement: safe behind a transaction-mode pooler
        )


def store_transactions(block_id: int, block: Block, tx_indexes: Iterable[int]) -> dict[int, int]:
    """Insert (idempotently) the given transactions of ``block``; returns {tx_index: row id}.

    Must run inside the caller's transaction. Ignoring conflicts makes a re-run (duplicate
    task delivery, reorg back onto a known block, vault rescan) a no-op, and since PostgreSQL
    does not return ids for skipped rows they are read back in one query.
    """
    wanted = sorted(set(tx_indexes))
    if not wanted:
        return {}
    tree = MerkleLevels(block.txids_internal)
    insert_ignoring_conflicts(
        BitcoinTransaction,
        {
            "block": ("bigint[]", [block_id] * len(wanted)),
            "txid_internal": ("bytea[]", [block.txids_internal[i] for i in wanted]),
            "tx_index": ("integer[]", wanted),
            # The full serialization (witness included, as nodes relay it). The txid commits to
            # the bytes without witness: verify with decode_tx(raw).txid_internal.
            "raw": ("bytea[]", [block.tx(i).raw for i in wanted]),
            "merkle_branch": ("bytea[]", [tree.branch(i) for i in wanted]),
        },
    )
    wanted_set = set(wanted)
    rows = BitcoinTransaction.objects.filter(block_id=block_id).values_list("tx_index", "id")
    return {index: pk for index, pk in rows if index in wanted_set}
