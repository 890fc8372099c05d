"""``manage.py btc_check``: the Bitcoin tables hold one gap-free, linked active chain up to the
cursor, and every derived row agrees with the block it claims.

What the database constraints cannot say on their own, each as one set-based statement
(``indexer.core.audit``): the cursor names the active tip; active heights have no hole from the
lowest stored one to the cursor and each links to the one below; no active block sits above the
cursor; body scans form a suffix (headers-only rows are the anchor context below the start
height, never a hole among scanned blocks); a txid is stored in at most one active block (a
deposit credited twice across a half-undone reorg would show here); a PoP output, deposit or
payout sits in its transaction's block; and the first-publication table names exactly the
earliest v1 publication on the active chain for every keystone id, never an orphaned one.

Rows of orphaned blocks are kept on purpose (``models.py``) and are not findings; only what the
active chain claims is checked.
"""

from __future__ import annotations

from indexer.bitcoin.chain import CHAIN
from indexer.bitcoin.models import (
    BitcoinBlock,
    BitcoinTransaction,
    KeystoneFirstPublication,
    PopPublication,
    TunnelDeposit,
    WithdrawalPayout,
)
from indexer.core.audit import Check, Finding, q, run, sample_of
from indexer.models import ChainCursor

# Table names come from model metadata (constants, never input), quoted by the backend.
B = q(BitcoinBlock._meta.db_table)
T = q(BitcoinTransaction._meta.db_table)
P = q(PopPublication._meta.db_table)
K = q(KeystoneFirstPublication._meta.db_table)
C = q(ChainCursor._meta.db_table)
_CURSOR_HEIGHT = f"(SELECT height FROM {C} WHERE chain = %s)"  # noqa: S608


def _same_block_as_transaction(model) -> Check:
    table = q(model._meta.db_table)
    return Check(
        f"bitcoin-{model._meta.model_name}-block",
        f"SELECT {sample_of('r.id')} FROM {table} r JOIN {T} t ON t.id = r.transaction_id"  # noqa: S608
        " WHERE r.block_id <> t.block_id",
        f"{model._meta.db_table} row(s) in another block than their transaction",
    )


def checks() -> list[Check]:
    return [
        Check(
            "bitcoin-cursor",
            f"SELECT {sample_of('c.height')} FROM {C} c WHERE c.chain = %s AND NOT EXISTS"  # noqa: S608
            f" (SELECT 1 FROM {B} b WHERE b.in_active_chain AND b.height = c.height"
            " AND b.hash_internal = c.block_hash)",
            "cursor(s) naming no active block (height shown)",
            [CHAIN],
        ),
        Check(
            "bitcoin-above-cursor",
            f"SELECT {sample_of('b.height')} FROM {B} b"  # noqa: S608
            f" WHERE b.in_active_chain AND b.height > COALESCE({_CURSOR_HEIGHT}, -1)",
            "active block(s) above the cursor (heights)",
            [CHAIN],
        ),
        Check(
            "bitcoin-gap",
            f"SELECT {sample_of('h')} FROM generate_series("  # noqa: S608
            f"(SELECT min(height) FROM {B} WHERE in_active_chain), {_CURSOR_HEIGHT}) AS h"
            f" WHERE NOT EXISTS (SELECT 1 FROM {B} b WHERE b.in_active_chain AND b.height = h)",
            "height(s) between the lowest active block and the cursor with no active block",
            [CHAIN],
        ),
        Check(
            "bitcoin-linkage",
            f"SELECT {sample_of('b.height')} FROM {B} b JOIN {B} p"  # noqa: S608
            " ON p.in_active_chain AND p.height = b.height - 1"
            " WHERE b.in_active_chain AND p.hash_internal <> b.prev_hash_internal",
            "active block(s) whose parent hash is not the active block below (heights)",
        ),
        Check(
            "bitcoin-unscanned",
            f"SELECT {sample_of('b.height')} FROM {B} b"  # noqa: S608
            " WHERE b.in_active_chain AND b.scanned_at IS NULL AND b.height >"
            f" (SELECT min(height) FROM {B} WHERE in_active_chain AND scanned_at IS NOT NULL)",
            "active block(s) without a body scan above a scanned one (heights)",
        ),
        Check(
            "bitcoin-duplicate-tx",
            f"SELECT {sample_of('d.first_id')} FROM (SELECT min(t.id) AS first_id FROM {T} t"  # noqa: S608
            f" JOIN {B} b ON b.id = t.block_id WHERE b.in_active_chain"
            " GROUP BY t.txid_internal HAVING count(*) > 1) d",
            "txid(s) stored in more than one active block (first transaction id shown)",
        ),
        _same_block_as_transaction(PopPublication),
        _same_block_as_transaction(TunnelDeposit),
        _same_block_as_transaction(WithdrawalPayout),
        Check(
            "bitcoin-first-publication",
            # Expected: per keystone id, the earliest v1 publication on the active chain (the
            # rule of ingest.upsert_first_publications and reorg's recompute).
            f"""SELECT {sample_of("coalesce(k.publication_id, e.id)")}
                  FROM (SELECT DISTINCT ON (p.keystone_id_internal)
                               p.keystone_id_internal, p.id, b.height, p.l2_block_number
                          FROM {P} p JOIN {B} b ON b.id = p.block_id AND b.in_active_chain
                          JOIN {T} t ON t.id = p.transaction_id
                         WHERE p.format = %s
                         ORDER BY p.keystone_id_internal, b.height, t.tx_index, p.vout) e
                  FULL JOIN {K} k ON k.keystone_id_internal = e.keystone_id_internal
                 WHERE e.id IS NULL OR k.id IS NULL OR k.publication_id <> e.id
                    OR k.height <> e.height OR k.l2_block_number <> e.l2_block_number""",  # noqa: S608
            "keystone id(s) whose first publication is missing, orphaned or not the earliest active one"
            " (publication ids)",
            [PopPublication.FORMAT_V1],
        ),
    ]


def check_chain() -> list[Finding]:
    """Every finding; empty means the Bitcoin tables are whole."""
    return run(checks())


def check_count() -> int:
    return len(checks())
