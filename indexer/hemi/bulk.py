"""Fast bulk writes for the Hemi ingest path: id allocation, COPY, and array upserts.

Why not ``bulk_create``: profiling an ingest of 50-transfer blocks showed about two thirds of
the write time in Django's per-value preparation and psycopg's client-side parsing of
multi-thousand-placeholder INSERTs. Here:

* ids come from the tables' own sequences in one round trip (so child rows can reference
  parents before anything is inserted, and ids stay unique under concurrent writers);
* rows go in with ``COPY … FROM STDIN`` (psycopg's C dumpers, no SQL text per row);
* upserts pass one array per column to ``unnest`` - a handful of parameters whatever the
  row count - so the query text stays small and constant.

All of it runs inside the caller's transaction (Django's connection), never its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models

_SEQUENCES: dict[str, str] = {}


def _sequence(model: type[models.Model]) -> str:
    table = model._meta.db_table
    if table not in _SEQUENCES:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            _SEQUENCES[table] = cur.fetchone()[0]
    return _SEQUENCES[table]


def allocate_ids(counts: Sequence[tuple[type[models.Model], int]]) -> list[list[int]]:
    """``n`` fresh primary keys for each ``(model, n)``, in one query."""
    wanted = [(model, n) for model, n in counts]
    if not any(n for _, n in wanted):
        return [[] for _ in wanted]
    parts = [
        "ARRAY(SELECT nextval(%s::regclass) FROM generate_series(1, %s))" for _ in wanted
    ]
    params: list[Any] = []
    for model, n in wanted:
        params += [_sequence(model), n]
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(parts), params)
        row = cur.fetchone()
    return [list(ids) for ids in row]


def copy_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``COPY table (columns) FROM STDIN`` with ``rows`` (ints for numeric, bytes for bytea)."""
    table = model._meta.db_table
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as wrapper:
        with wrapper.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)


def execute(sql: str, params: Sequence[Any]) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []
