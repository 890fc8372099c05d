"""The partitioned layout of the three high-volume Hemi tables (README: "Scaling past one machine").

Past one PostgreSQL server's comfort (hundreds of millions of transactions and logs),
``hemi_transaction``, ``hemi_log`` and ``hemi_tokentransfer`` become range-partitioned by
``block_id``: ids are drawn in chain order, so a range of block ids is a range of blocks, and a
partition holds whole blocks (a block's rows are written in one transaction, never split).

What changes, and why each is needed (PostgreSQL requires every unique index of a partitioned
table to contain the partition key):

* primary keys become ``(id, block_id)``; ``id`` stays unique in practice (one sequence);
* unique indexes without ``block_id`` get it appended (``TokenTransfer.log``'s one-to-one);
* foreign keys *into* these tables (hVM updates, PoP payouts, tunnel rows) cannot reference
  ``id`` alone any more and are dropped; like the high-volume tables' own relations they are
  then proven by a set-wise audit instead (``integrity.py``'s checks would have to cover them);
* ids come from a sequence owned by the new table, so ``pg_get_serial_sequence`` (the bulk
  writer's id allocation) keeps working.

:func:`convert_empty` applies this to an EMPTY database (a fresh install that will grow large);
moving a populated index is a data migration not written yet. Tested at small size by
``tests/scale/test_partitioned_layout.py``: the real write path fills the partitions, the
reference audit is clean and every page and API endpoint answers.
"""

from __future__ import annotations

import re

from django.db import connection

TABLES = ("hemi_transaction", "hemi_log", "hemi_tokentransfer")
KEY = "block_id"


class NotEmpty(RuntimeError):
    """The table already holds rows: converting it in place is not supported."""


def convert_empty(block_ids_per_partition: int, partitions: int) -> list[str]:
    """Partition the three tables (empty) into ``partitions`` ranges of block ids plus a default
    partition for everything above; returns the partition names."""
    created = []
    with connection.cursor() as cur:
        for table in TABLES:
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608 - constant names
            if cur.fetchone()[0]:
                raise NotEmpty(f"{table} holds rows; convert_empty only partitions empty tables")
        cur.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f'"
            " AND confrelid = ANY(%s::regclass[])",
            [list(TABLES)],
        )
        for referencing, name in cur.fetchall():
            cur.execute(f'ALTER TABLE {referencing} DROP CONSTRAINT "{name}"')
        for table in TABLES:
            cur.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> %s",
                [table, f"{table}_pkey"],
            )
            indexes = cur.fetchall()
            cur.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'", [table]
            )
            unique_constraints = [r[0] for r in cur.fetchall()]
            old = f"{table}_unpartitioned"
            cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
            for name in unique_constraints:  # a constraint's index goes with it
                cur.execute(f'ALTER TABLE {old} DROP CONSTRAINT "{name}"')
            for name, _ in indexes:
                cur.execute(f'DROP INDEX IF EXISTS "{name}"')
            cur.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE ({KEY})")
            cur.execute(f"CREATE SEQUENCE {table}_id_seq_partitioned OWNED BY {table}.id")
            cur.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq_partitioned')")
            cur.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id, {KEY})")
            for _name, definition in indexes:
                cur.execute(_with_partition_key(definition))
            cur.execute(f"DROP TABLE {old}")
            for i in range(partitions):
                low, high = i * block_ids_per_partition, (i + 1) * block_ids_per_partition
                name = f"{table}_p{i}"
                cur.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ({low}) TO ({high})")
                created.append(name)
            cur.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
            created.append(f"{table}_default")
    from indexer.hemi import bulk

    bulk._SEQUENCES.clear()  # the ids now come from the new tables' sequences
    return created


def _with_partition_key(definition: str) -> str:
    """A UNIQUE index must contain the partition key: append it when it is missing."""
    if " UNIQUE " not in definition:
        return definition
    head, columns = re.match(r"^(.*\()(.*)\)$", definition).groups()
    if KEY in [c.strip() for c in columns.split(",")]:
        return definition
    return f"{head}{columns}, {KEY})"
