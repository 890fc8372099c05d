"""Fast bulk writes for the Hemi ingest path: pipelined statements, arrays in, few round trips.

Why not ``bulk_create`` (or Django cursors at all) here: profiling an ingest of 50-transfer
blocks showed the write time going to Django's per-value preparation, psycopg's client-side
quoting of every array element into the SQL text, and ~20 sequential round trips per block
(BEGIN, lock, checks, id allocation, two per COPY, upserts, cursor, commit). Here:

* statements run on a plain psycopg cursor over Django's connection: parameters are bound
  server side (binary arrays, no quoting) and, after a few executions, prepared;
* a whole block's rows go in as one ``INSERT … SELECT FROM unnest(array, array, …)`` per
  table - a handful of parameters whatever the row count, constant SQL text;
* statements are sent in psycopg pipeline mode, so a block needs about three round trips
  (open + lock + checks + ids; every insert + the cursor; commit) instead of one per statement;
* ids come from the tables' own sequences (so child rows reference parents before anything
  is inserted, and ids stay unique under concurrent writers).

All of it runs inside the caller's transaction (Django's connection), never its own, and
database errors surface as Django's (``connection.wrap_database_errors``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from django.db import connection, models
from psycopg.adapt import PyFormat

from indexer.core.locks import require_direct_connection

_SEQUENCES: dict[str, str] = {}

# The dumper psycopg uses for ``bytes`` values (its C one). COPY looks dumpers up by column type
# instead (``set_types``), and for bytea that finds the DB-API ``Binary`` dumper, a Python class
# that also unwraps ``psycopg.Binary``: 3-4x the cost per value, over 100k values per backfill
# batch. The ingest only ever writes ``bytes``, so its COPY cursors use the C one.
_BYTES_DUMPER = psycopg.adapters.get_dumper(bytes, PyFormat.BINARY)


class _PreparingCursor(psycopg.Cursor):
    """Prepares every statement it runs, once per connection (psycopg keeps the cache).

    Django turns psycopg's automatic preparation off for its connection (for the sake of
    transaction-mode poolers), and psycopg then ignores ``prepare=True`` too; so preparation is
    switched on for the moment this cursor sends a statement, and off again for Django. The
    ingest statements are few, constant and run for every block: preparing them cut the
    server's CPU per block by about a fifth (parse and plan of wide ``unnest`` inserts).
    """

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        conn = self.connection
        saved, conn.prepare_threshold = conn.prepare_threshold, 0
        try:
            return super().execute(query, params, **kwargs)
        finally:
            conn.prepare_threshold = saved


def cursor() -> psycopg.Cursor:
    """A server-side-binding, preparing cursor on Django's connection (Django's bind client side)."""
    require_direct_connection("the Hemi ingest's prepared statements")
    return _PreparingCursor(connection.connection)


@contextlib.contextmanager
def pipeline() -> Iterator[None]:
    """Queue the statements run inside; they are sent together and synced on exit.

    A cursor's results can be read after the block (or earlier, which forces a sync).
    Nothing here may run Django queries: those go through Django's cursors and are not meant
    to interleave with a pipeline.
    """
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def _sequence(model: type[models.Model]) -> str:
    table = model._meta.db_table
    if table not in _SEQUENCES:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            _SEQUENCES[table] = cur.fetchone()[0]
    return _SEQUENCES[table]


def allocate_ids(cur: psycopg.Cursor, models_: Sequence[type[models.Model]], counts: Sequence[int]) -> None:
    """Queue one query for fresh primary keys: ``counts[i]`` of them for ``models_[i]``.

    The SQL depends only on the models (constant, so it gets prepared); read the result with
    :func:`fetch_ids`. Ids drawn for a block that turns out to be stored already are simply
    skipped - sequences have gaps anyway.
    """
    parts = ", ".join("ARRAY(SELECT nextval(%s::regclass) FROM generate_series(1, %s))" for _ in models_)
    params: list[Any] = []
    for model, n in zip(models_, counts, strict=True):
        params += [_sequence(model), n]
    cur.execute("SELECT " + parts, params)


def fetch_ids(cur: psycopg.Cursor) -> list[list[int]]:
    row = cur.fetchone()
    assert row is not None
    return [list(ids) for ids in row]


def insert_sql(model: type[models.Model], columns: Sequence[tuple[str, str]]) -> str:
    """``INSERT INTO table (columns) SELECT * FROM unnest(%b::type[], …)`` for ``(name, type)``.

    Column names are quoted ("to" and "index" are SQL keywords); arrays travel in binary.
    """
    names = ", ".join(f'"{name}"' for name, _ in columns)
    arrays = ", ".join(f"%b::{sql_type}[]" for _, sql_type in columns)
    return f"INSERT INTO {model._meta.db_table} ({names}) SELECT * FROM unnest({arrays})"  # noqa: S608


def copy_sql(model: type[models.Model], columns: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """``COPY table (columns) FROM STDIN (FORMAT BINARY)`` and the column types, for :func:`copy_rows`."""
    names = ", ".join(f'"{name}"' for name, _ in columns)
    return f"COPY {model._meta.db_table} ({names}) FROM STDIN (FORMAT BINARY)", [t for _, t in columns]


def copy_rows(sql: str, types: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Binary COPY of ``rows`` (tuples in ``types`` order) inside the caller's transaction.

    One round trip for any number of rows; the server stores them in multi-row batches.
    Not inside a pipeline (COPY cannot be pipelined). No rows: no round trip.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    cur = cursor()
    cur.adapters.register_dumper(None, _BYTES_DUMPER)  # this cursor only (copy on write)
    with connection.wrap_database_errors, cur.copy(sql) as copy:
        copy.set_types(types)
        copy.write_row(first)
        for row in rows:
            copy.write_row(row)


def columns_of(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Row tuples -> one list per column (psycopg dumps a list as an array, a tuple as a row)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]

