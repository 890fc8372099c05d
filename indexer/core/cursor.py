"""The chain cursor: how far one chain is indexed, moved only by compare-and-set.

A cursor row is ``(chain, height, block_hash)``: the last block whose rows are all written.
Writers move it in the same transaction as those rows, and only from where they found it:
:func:`advance` (and the pipelined :func:`queue_advance`) update the row only if it still holds
the expected height AND hash. The hash matters: another writer may have replaced the block at
that height with a block of another branch (a reorg handled meanwhile); moving on from a
cursor of the wrong branch would claim rows as indexed that are not.

Bitcoin stores internal-order hashes here, Hemi EVM-order ones; the chain name says which.

Every move also records a durable ``chain.changed`` work item (``indexer.core.work``) in the
same transaction, naming the lowest height whose rows changed: blocks added above the old
cursor, or orphaned above the fork a reorg rewound to. Whatever is derived from both chains
(the stored verdicts of ``explorer.verdict_store``) refreshes from those items, so no chain
change - a forward step, a reorg, a reset - can be missed by a lost message or a crash.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import connection

from indexer.core import work
from indexer.models import ChainCursor, WorkItem

# The work kind every cursor move records (handled above both chains: explorer.verdict_store).
CHAIN_CHANGED = "chain.changed"

_TABLE = ChainCursor._meta.db_table
ADVANCE_SQL = (
    f"UPDATE {_TABLE} SET height = %s, block_hash = %s, updated_at = now()"  # noqa: S608 - constant table name
    " WHERE chain = %s AND height = %s AND block_hash = %s"
)
CREATE_SQL = (
    f"INSERT INTO {_TABLE} (chain, height, block_hash, updated_at) VALUES (%s, %s, %s, now())"  # noqa: S608
    " ON CONFLICT (chain) DO NOTHING"
)
# Recorded only when the cursor really moved (the row's height and hash are the new ones now):
# a compare-and-set that lost, or a create that found a row, records nothing.
_WORK = WorkItem._meta.db_table
CHANGED_SQL = (
    f"INSERT INTO {_WORK} (kind, key, payload, state, attempts, last_error, next_attempt_at, claim_token,"  # noqa: S608
    " created_at, updated_at)"
    " SELECT %s, %s, %s::jsonb, 'pending', 0, '', now(), '', now(), now()"
    f" FROM {_TABLE} WHERE chain = %s AND height = %s AND block_hash = %s"
    " ON CONFLICT (kind, key) DO NOTHING"
)


def _changed_params(chain: str, from_height: int, new: tuple[int, bytes]) -> list[Any]:
    # A fresh key per move: the same (height, hash) can be the cursor twice (a reorg rewinding
    # to a block it once stepped onto), and each move is its own change to refresh from.
    key = f"{chain}:{new[0]}:{bytes(new[1]).hex()}:{uuid.uuid4().hex}"
    payload = json.dumps({"chain": chain, "from_height": int(from_height), "height": int(new[0])})
    return [CHAIN_CHANGED, key, payload, chain, new[0], new[1]]


def changed_from(expected: tuple[int, bytes] | None, new: tuple[int, bytes]) -> int:
    """The lowest height whose rows a move from ``expected`` to ``new`` changed: above the old
    cursor going forward, above the fork going back, the cursor's own height when it was
    replaced at the same height (or created)."""
    if expected is None or expected[0] == new[0]:
        return new[0]
    return min(expected[0], new[0]) + 1


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
        moved = cur.rowcount == 1
        if moved:
            cur.execute(CHANGED_SQL, _changed_params(chain, changed_from(expected, new), new))
        return moved


def queue_advance(cur: Any, chain: str, expected: tuple[int, bytes], new: tuple[int, bytes]) -> None:
    """:func:`advance` queued on a psycopg cursor inside a pipeline, then create the row only if
    none exists (the INSERT conflicts whenever a cursor row is there, moved or not)."""
    cur.execute(ADVANCE_SQL, [new[0], new[1], chain, expected[0], expected[1]])
    cur.execute(CREATE_SQL, [chain, new[0], new[1]])
    # Records a change only if one of the two put the row on ``new`` (see CHANGED_SQL): a run
    # that did not move the cursor (a backfill below it) records nothing here; rows it wrote
    # are found by the verdict store's periodic sweep.
    cur.execute(CHANGED_SQL, _changed_params(chain, expected[0] + 1, new))


def reset(chain: str, new: tuple[int, bytes] | None) -> None:
    """Put the cursor at ``new`` (None: delete it) - for a reorg undo that has already checked,
    under the writer lock, that the cursor is where its walk-back started."""
    old = position(chain)
    if new is None:
        ChainCursor.objects.filter(chain=chain).delete()
        if old is not None:  # everything indexed is gone: a change from the lowest height on
            payload = {"chain": chain, "from_height": 0, "height": None}
            work.add([work.Work(CHAIN_CHANGED, f"{chain}:reset:{uuid.uuid4().hex}", payload)])
    else:
        ChainCursor.objects.update_or_create(chain=chain, defaults={"height": new[0], "block_hash": new[1]})
        with connection.cursor() as cur:
            cur.execute(CHANGED_SQL, _changed_params(chain, changed_from(old, new), new))
