"""The pipelined write path: its statements are prepared (the bulk tables go by COPY), Django's
connection is left as it was, and the schema keeps one index per lookup (no single-column twin of a composite)."""

from __future__ import annotations

import pytest
from django.db import connection

from indexer.hemi import ingest, sync
from indexer.hemi.models import Block, Log, TokenTransfer, Transaction

from .conftest import DevChain

pytestmark = pytest.mark.django_db
DEVNET = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)


def test_ingest_statements_are_prepared_but_djangos_queries_are_not(chain: DevChain, rpc) -> None:
    a = chain.accounts
    chain.mine([{"from": a[0], "to": a[1], "value": 1, "gasPrice": hex(3 * 10**9)}])
    chain.mine([{"from": a[1], "to": a[2], "value": 2, "gasPrice": hex(3 * 10**9)}])
    state = sync.follow_tip(rpc, network=chain.network(), config=DEVNET)
    assert state.blocks >= 2
    assert Block.objects.canonical().count() == Block.objects.count() == chain.tip() + 1
    assert connection.connection.prepare_threshold is None  # Django's setting, restored
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cur.fetchall()]
    # Blocks go in by a prepared INSERT (transactions, logs and transfers by COPY).
    assert any(s.startswith(f"INSERT INTO {Block._meta.db_table}") for s in prepared)
    assert not any("pg_prepared_statements" in s for s in prepared)


def test_no_foreign_key_column_has_an_index_its_composite_already_gives() -> None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            [[Transaction._meta.db_table, Log._meta.db_table, TokenTransfer._meta.db_table, "hemi_tokenbalance"]],
        )
        defs = cur.fetchall()
    single = {(table, d.split("(", 1)[1].rstrip(")")) for table, d in defs if "," not in d.split("(", 1)[1]}
    assert (Transaction._meta.db_table, "block_id") not in single
    assert (Log._meta.db_table, "block_id") not in single
    assert (TokenTransfer._meta.db_table, "token_id") not in single
    assert ("hemi_tokenbalance", "token_id") not in single
    # ... while the lookups they served still have an index that leads with the column.
    leading = {(table, d.split("(", 1)[1].split(",")[0].rstrip(")")) for table, d in defs}
    for table, column in [(Transaction._meta.db_table, "block_id"), (Log._meta.db_table, "block_id"),
                          (TokenTransfer._meta.db_table, "token_id"), ("hemi_tokenbalance", "token_id")]:  # fmt: skip
        assert (table, column) in leading
