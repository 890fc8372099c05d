"""What live pages poll first: one cheap stamp of everything the indexers have written.

A polling page sends the stamp it was rendered at (``?since=``); while the stamp is the same,
nothing it shows can have changed and the poll is answered with an empty 204 after this one
query, instead of re-running the page's queries (a tunnel page judges 25 mints live).
"""

from __future__ import annotations

import hashlib

from django.db import connection

from indexer.bitcoin.models import TunnelDeposit, VaultScript, WithdrawalPayout
from indexer.hemi.models import Vault
from indexer.models import ChainCursor, IndexerAlert, WorkItem


def _stamp_sql() -> str:
    cursors = ChainCursor._meta.db_table
    # Each chain's cursor (height + hash) is saved in the same transaction as the rows it
    # covers, so it moves with every block, reorg or walk-back. Vault rescans add deposits and
    # payouts to blocks already behind the cursor: the newest id of those tables (a backward
    # primary-key probe each) catches them.
    newest = [
        f"(SELECT max(id) FROM {model._meta.db_table})"  # noqa: S608 - table names from our models
        for model in (TunnelDeposit, WithdrawalPayout, VaultScript, Vault)
    ]
    # Verdicts say "pending (...)" while durable follow-up work is open: the open items (the
    # partial index work_item_open) change when work is added, finished or given up.
    work = f"(SELECT count(*) || ':' || coalesce(max(id), 0) FROM {WorkItem._meta.db_table}"  # noqa: S608
    work += " WHERE state IN ('pending', 'running'))"
    # An indexer that refuses its node stops moving its cursor: its alert rows say so instead.
    refused = f"(SELECT count(*) || ':' || coalesce(max(id), 0) FROM {IndexerAlert._meta.db_table}"  # noqa: S608
    refused += " WHERE cleared_at IS NULL)"
    return (
        f"SELECT (SELECT string_agg(chain || ':' || height || ':' || encode(block_hash, 'hex'), ','"  # noqa: S608
        f" ORDER BY chain) FROM {cursors}), " + ", ".join([*newest, work, refused])
    )


def data_stamp() -> str:
    """A short digest that changes whenever indexed data may have changed (1 query)."""
    with connection.cursor() as cur:
        cur.execute(_stamp_sql())
        row = cur.fetchone()
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:16]
