"""The chain cursor: how far one chain is indexed, moved only by compare-and-set.

A cursor row is ``(chain, height, block_hash)``: the last block whose rows are all written.
Writers move it in the same transaction as those rows, and only from where they found it:
:func:`advance` (and the pipelined :func:`queue_advance`) update the row only if it still holds
the expected height AND hash. The hash matters: another writer may have replaced the block at
that height with a block of another branch (a reorg handled meanwhile); moving on from a
cursor of the wrong branch would claim rows as indexed that are not.

Bitcoin stores internal-order hashes here, Hemi EVM-order ones; the chain name says which.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from indexer.models import ChainCursor

_TABLE = ChainCursor._meta.db_table
ADVANCE_SQL = (
    f"UPDATE {_TABLE} SET height = %s, block_hash = %s, updated_at = now()"  # noqa: S608 - constant table name
    " WHERE chain = %s AND height = %s AND block_hash = %s"
)
CREATE_SQL = (
    f"INSERT INTO {_TABLE} (chain, height, block_hash, updated_at) VALUES (%s, %s, %s, now())"  # noqa: S608
    " ON CONFLICT (chain) DO NOTHING"
)


def get(chain: str) -> ChainCursor | None:
    return ChainCursor.objects.filter(chain=chain).first()


def position(chain: str) -> tuple[int, bytes] | None:
    row = ChainCursor.objects.filter(chain=chain).values_list("height", "block_hash").first()
    return None if row is None else (row[0], bytes(row[1]))


def advance(chain: str, expected: tuple[int, bytes] | None, new: tuple[int, bytes]) -> bool:
    """Move the cursor from ``expected`` (None: there is no cursor yet) to ``new``; False if it
    was not where expected (nothing changed). Call inside the writer's transaction."""
    with connection.cursor() as cur:
        if expected is None:
            cur.execute(CREATE_SQL, [chain, new[0], new[1]])
        else:
            cur.execute(ADVANCE_SQL, [new[0], new[1], chain, expected[0], expected[1]])
        return cur.rowcount == 1


def queue_advance(cur: Any, chain: str, expected: tuple[int, bytes], new: tuple[int, bytes]) -> None:
    """:func:`advance` queued on a psycopg cursor inside a pipeline, then create the row only if
    none exists (the INSERT conflicts whenever a cursor row is there, moved or not)."""
    cur.execute(ADVANCE_SQL, [new[0], new[1], chain, expected[0], expected[1]])
    cur.execute(CREATE_SQL, [chain, new[0], new[1]])


def reset(chain: str, new: tuple[int, bytes] | None) -> None:
    """Put the cursor at ``new`` (None: delete it) - for a reorg undo that has already checked,
    under the writer lock, that the cursor is where its walk-back started."""
    if new is None:
        ChainCursor.objects.filter(chain=chain).delete()
    else:
        ChainCursor.objects.update_or_create(chain=chain, defaults={"height": new[0], "block_hash": new[1]})
