"""Set-based referential-integrity audit for the Hemi relations that have no database FK constraint.

Why this exists: the three high-volume ingest tables (transactions, logs, token transfers) carry
no FOREIGN KEY constraint in PostgreSQL (``db_constraint=False`` in ``models.py``). A constraint is
enforced by a per-row RI trigger that probes the parent's index for every inserted row, which
cost ~40% of the database's CPU on the ingest hot path. Dropping it is sound because the only
writer of these rows is the ingest, which writes a block's rows in one transaction with ids it
drew from the sequences itself - but "sound by construction" still has to be checkable. This
module is that check: one anti-join per unconstrained relation proves that no row points at a
missing parent, plus the consistency the FK never checked (a log sits in its transaction's block,
a transfer in its log's block).

Every check is a single statement, so it reads one snapshot of both tables: rows the ingest is
committing concurrently are seen together with their parents or not at all (rows are never
deleted; reorgs only flip ``canonical``). Run it with ``manage.py hemi_check``, which also runs
:func:`check_chain`: the canonical chain has no gap or broken link up to the cursor, and no row
is canonical in an orphaned block (or the reverse).
"""

from __future__ import annotations

import dataclasses

from django.apps import apps
from django.db import connection, models

from indexer.core import audit
from indexer.hemi.models import Block, Log, TokenTransfer

SAMPLE_SIZE = 5

# (model, field that must agree, relation it must agree through): a log's block is its
# transaction's block; a transfer's block is its log's block.
CONSISTENT_BLOCKS: tuple[tuple[type[models.Model], str, str], ...] = (
    (Log, "block", "transaction"),
    (TokenTransfer, "block", "log"),
)


@dataclasses.dataclass(frozen=True)
class Dangling:
    """``count`` rows of ``table`` whose ``column`` is wrong; ``sample_ids`` are the first few ids."""

    table: str
    column: str
    count: int
    sample_ids: tuple[int, ...]
    problem: str  # e.g. "point to no hemi_block.id", "differs from hemi_transaction.block_id via transaction_id"

    def __str__(self) -> str:
        ids = ", ".join(str(i) for i in self.sample_ids)
        return f"{self.table}.{self.column}: {self.count} row(s) {self.problem} (ids {ids})"


def unconstrained_relations() -> list[models.ForeignKey]:
    """Every Hemi foreign key (or one-to-one) without a database constraint - all of them get audited."""
    return [
        field
        for model in apps.get_app_config("hemi").get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.ForeignKey) and field.concrete and not field.db_constraint
    ]


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _count_and_sample(model: type[models.Model]) -> str:
    pk = _q(model._meta.pk.column)
    return f"SELECT count(*), (array_agg(c.{pk} ORDER BY c.{pk}))[1:{SAMPLE_SIZE}]"


# Table and column names come from model _meta (constants, never input), quoted by the backend.


def _reference_sql(field: models.ForeignKey) -> str:
    """Anti-join: child rows whose (non-null) column matches no parent row."""
    child, parent = field.model._meta, field.related_model._meta
    column, target = _q(field.column), _q(field.target_field.column)
    return (
        f"{_count_and_sample(field.model)} FROM {_q(child.db_table)} c"
        f" LEFT JOIN {_q(parent.db_table)} p ON p.{target} = c.{column}"
        f" WHERE c.{column} IS NOT NULL AND p.{target} IS NULL"
    )


def _consistency_sql(model: type[models.Model], field_name: str, via_name: str) -> tuple[str, str, str]:
    """Rows whose ``field`` differs from the same field on the row ``via`` points to (dangling ``via``
    rows are left to the reference check)."""
    meta = model._meta
    field, via = meta.get_field(field_name), meta.get_field(via_name)
    parent = via.related_model._meta
    parent_field = parent.get_field(field_name)
    sql = (
        f"{_count_and_sample(model)} FROM {_q(meta.db_table)} c"
        f" JOIN {_q(parent.db_table)} p"
        f" ON p.{_q(via.target_field.column)} = c.{_q(via.column)}"
        f" WHERE p.{_q(parent_field.column)} IS DISTINCT FROM c.{_q(field.column)}"
    )
    return sql, field.column, f"differs from {parent.db_table}.{parent_field.column} via {via.column}"


def check_count() -> int:
    """How many relations ``check_references`` audits (the consistency rules ride on two of them)."""
    return len(unconstrained_relations())


def check_references() -> list[Dangling]:
    """Every dangling or inconsistent reference, one entry per failed check; empty means all is well."""
    checks: list[tuple[str, str, str, str]] = []  # (sql, table, column, problem)
    for field in unconstrained_relations():
        target = f"{field.related_model._meta.db_table}.{field.target_field.column}"
        checks.append((_reference_sql(field), field.model._meta.db_table, field.column, f"point to no {target}"))
    for model, field_name, via_name in CONSISTENT_BLOCKS:
        sql, column, problem = _consistency_sql(model, field_name, via_name)
        checks.append((sql, model._meta.db_table, column, problem))
    found: list[Dangling] = []
    with connection.cursor() as cur:
        for sql, table, column, problem in checks:
            cur.execute(sql)
            count, sample = cur.fetchone()
            if count:
                found.append(Dangling(table, column, count, tuple(sample), problem))
    return found


# --- The canonical chain itself (``indexer.core.audit`` checks) --------------------------------


def chain_checks() -> list[audit.Check]:
    """The canonical chain up to the cursor is whole and linked, and every derived row's
    ``canonical`` flag is its block's (a reorg marks a block and its rows in one transaction;
    a half-done undo would leave canonical rows in an orphaned block, or the reverse)."""
    from indexer.hemi.chain import CHAIN
    from indexer.hemi.reorg import DERIVED_MODELS
    from indexer.models import ChainCursor

    blocks, cursors = _q(Block._meta.db_table), _q(ChainCursor._meta.db_table)
    cursor_height = f"(SELECT height FROM {cursors} WHERE chain = %s)"  # noqa: S608
    out = [
        audit.Check(
            "hemi-cursor",
            f"SELECT {audit.sample_of('c.height')} FROM {cursors} c WHERE c.chain = %s AND NOT EXISTS"  # noqa: S608
            f" (SELECT 1 FROM {blocks} b WHERE b.canonical AND b.number = c.height AND b.hash = c.block_hash)",
            "cursor(s) naming no canonical block (height shown)",
            [CHAIN],
        ),
        audit.Check(
            "hemi-gap",
            f"SELECT {audit.sample_of('n')} FROM generate_series("  # noqa: S608
            f"(SELECT min(number) FROM {blocks} WHERE canonical), {cursor_height}) AS n"
            f" WHERE NOT EXISTS (SELECT 1 FROM {blocks} b WHERE b.canonical AND b.number = n)",
            "number(s) between the lowest canonical block and the cursor with no canonical block",
            [CHAIN],
        ),
        audit.Check(
            "hemi-linkage",
            f"SELECT {audit.sample_of('b.number')} FROM {blocks} b JOIN {blocks} p"  # noqa: S608
            " ON p.canonical AND p.number = b.number - 1 WHERE b.canonical AND p.hash <> b.parent_hash",
            "canonical block(s) whose parent hash is not the canonical block below (numbers)",
        ),
    ]
    for model in DERIVED_MODELS:
        table = _q(model._meta.db_table)
        out.append(
            audit.Check(
                f"hemi-{model._meta.model_name}-canonical",
                f"SELECT {audit.sample_of('r.id')} FROM {table} r JOIN {blocks} b ON b.id = r.block_id"  # noqa: S608
                " WHERE r.canonical <> b.canonical",
                f"{model._meta.db_table} row(s) whose canonical flag differs from their block's (ids)",
            )
        )
    return out


def check_chain() -> list[audit.Finding]:
    return audit.run(chain_checks())
