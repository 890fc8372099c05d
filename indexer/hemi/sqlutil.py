"""Small raw-SQL helpers for the Hemi writers (multi-row upserts the ORM cannot express).

Table names come from model ``_meta`` (constants, never user input), values always travel as
query parameters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection

# One key for "a writer of Hemi rows": every ingest/reorg transaction takes it, so two
# processes (the beat-scheduled follower and a backfill, or a duplicate task delivery) never
# interleave their parent-hash checks and inserts.
HEMI_WRITE_LOCK = int.from_bytes(hashlib.sha256(b"hemiscope:hemi:write").digest()[:8], "big", signed=True)
# Held for a whole follow_tip run (session level) so overlapping scheduled runs skip.
HEMI_FOLLOW_LOCK = int.from_bytes(hashlib.sha256(b"hemiscope:hemi:follow").digest()[:8], "big", signed=True)


def lock_hemi_writes(timeout_ms: int = 30_000) -> None:
    """Take the transaction-level writer lock; give up loudly instead of queueing forever."""
    with connection.cursor() as cur:
        cur.execute(f"SET LOCAL lock_timeout = {int(timeout_ms)}")
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [HEMI_WRITE_LOCK])


def try_session_lock(key: int) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [key])
        return bool(cur.fetchone()[0])


def release_session_lock(key: int) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", [key])


def chunked(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
