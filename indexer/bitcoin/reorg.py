"""Reorgs: find where the source's chain leaves ours, and undo our side in one transaction.

Blocks that leave the active chain are marked, not deleted (``in_active_chain=False``,
``orphaned_at``): their PoP publications and deposits stay queryable with the flag, because
an auditor may have linked to them. Rows of orphaned blocks are simply ignored by every
"active" query (first publications, vault outpoints), so re-ingesting the new branch needs no
further undo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from indexer.bitcoin.chain import CHAIN, WRITER
from indexer.bitcoin.models import BitcoinBlock, KeystoneFirstPublication, PopPublication
from indexer.bitcoin.source import BitcoinSource
from indexer.core import cursor as chain_cursor

log = logging.getLogger(__name__)

# Deepest reorg we undo automatically. Mainnet has not seen one deeper than a few blocks since
# 2013 and testnet3's worst are in the dozens; anything deeper is far more likely a wrong node
# (another network, a node still syncing a different branch) and must stop us loudly.
MAX_REORG_DEPTH = 1000
WALK_WINDOW = 32  # source hashes fetched per batched request while walking back


class ReorgError(RuntimeError):
    """A reorg that cannot be undone automatically (too deep, or below the first stored block)."""


class CursorMoved(RuntimeError):
    """Another writer moved the cursor while we walked back; walk again from the new tip."""


@dataclass(frozen=True)
class ReorgResult:
    fork_height: int
    fork_hash_internal: bytes
    orphaned_blocks: int
    keystones_recomputed: int


def find_fork(source: BitcoinSource, tip_height: int, tip_hash: bytes) -> tuple[int, bytes]:
    """Highest height at which our active chain and the source's agree: (height, our hash).

    Walks down from ``tip_height`` in windows of WALK_WINDOW, comparing the source's
    ``getblockhash(h)`` (one batched request per window) with our stored active hash. Heights
    above the source's tip count as disagreement. bcoin keeps stale blocks readable with
    positive confirmations, so comparing hashes by height is the only reliable staleness test.
    """
    source_tip = source.tip_height()
    lowest = BitcoinBlock.objects.active().order_by("height").values_list("height", flat=True).first()
    if lowest is None:
        raise ReorgError("no stored blocks to walk back through")
    high = tip_height
    while high >= lowest:
        if tip_height - high >= MAX_REORG_DEPTH:
            raise ReorgError(f"reorg deeper than {MAX_REORG_DEPTH} blocks below {tip_height}: refusing to undo it")
        low = max(lowest, high - WALK_WINDOW + 1)
        ours = dict(
            BitcoinBlock.objects.active().filter(height__range=(low, high)).values_list("height", "hash_internal")
        )
        asked = [h for h in range(low, high + 1) if h <= source_tip]
        theirs = dict(zip(asked, source.block_hashes(asked), strict=True))
        for height in range(high, low - 1, -1):
            mine = ours.get(height)
            if mine is not None and theirs.get(height) == bytes(mine):
                return height, bytes(mine)
        high = low - 1
    raise ReorgError(f"the source's chain shares no block with ours down to height {lowest}")


def recompute_first_publications(keystone_ids: list[bytes]) -> int:
    """Rebuild KeystoneFirstPublication for these ids from the active chain: the earliest
    active v1 publication (height, tx index, vout) wins; ids with none lose their row."""
    if not keystone_ids:
        return 0
    kfp = KeystoneFirstPublication._meta.db_table
    pub = PopPublication._meta.db_table
    blk = BitcoinBlock._meta.db_table
    tx = PopPublication._meta.get_field("transaction").related_model._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {kfp} WHERE keystone_id_internal = ANY(%s)", [keystone_ids])  # noqa: S608
        cur.execute(
            f"""
            INSERT INTO {kfp} (keystone_id_internal, publication_id, height, l2_block_number)
            SELECT DISTINCT ON (p.keystone_id_internal) p.keystone_id_internal, p.id, b.height, p.l2_block_number
              FROM {pub} p JOIN {blk} b ON b.id = p.block_id JOIN {tx} t ON t.id = p.transaction_id
             WHERE b.in_active_chain AND p.format = %s AND p.keystone_id_internal = ANY(%s)
             ORDER BY p.keystone_id_internal, b.height, t.tx_index, p.vout
            """,  # noqa: S608 - table names from model metadata, values are parameters
            [PopPublication.FORMAT_V1, keystone_ids],
        )
    return len(keystone_ids)


def rewind(source: BitcoinSource) -> ReorgResult:
    """Undo our side of a reorg; the caller then ingests the new branch block by block.

    1. Walk back through the source (``find_fork``) to the highest height where its chain and
       ours agree: the fork point. Network I/O, so before any transaction.
    2. In ONE transaction under the writer lock, after checking the cursor did not move
       meanwhile: mark every active block above the fork ``in_active_chain=False,
       orphaned_at=now()`` (rows are kept),
    3. recompute KeystoneFirstPublication for every keystone id published in those blocks
       (next best publication on the active chain, or no row),
    4. (first, as a compare-and-set) move the cursor to the fork point.
    """
    seen = chain_cursor.position(CHAIN)
    if seen is None:
        raise ReorgError("no cursor: nothing to rewind")
    seen_height, seen_hash = seen
    fork_height, fork_hash = find_fork(source, seen_height, seen_hash)
    # Why one transaction: the orphan marks, the first-publication table and the cursor must
    # change together, or a crash would leave first publications pointing at orphaned blocks.
    with transaction.atomic():
        WRITER.acquire()
        # Compare-and-set first: if another writer moved the cursor during the walk-back, our
        # fork point may be stale and nothing here may be written.
        if not chain_cursor.advance(CHAIN, seen, (fork_height, fork_hash)):
            raise CursorMoved(f"cursor moved from {seen_height} during the walk-back")
        orphaned = BitcoinBlock.objects.active().filter(height__gt=fork_height)
        block_ids = list(orphaned.values_list("id", flat=True))
        keystone_ids = [
            bytes(k)
            for k in PopPublication.objects.filter(block_id__in=block_ids)
            .values_list("keystone_id_internal", flat=True)
            .distinct()
        ]
        BitcoinBlock.objects.filter(id__in=block_ids).update(in_active_chain=False, orphaned_at=timezone.now())
        recomputed = recompute_first_publications(keystone_ids)
    log.warning(
        "bitcoin reorg undone",
        extra={
            "fork_height": fork_height,
            "fork_hash": fork_hash[::-1].hex(),
            "old_tip_height": seen_height,
            "orphaned_blocks": len(block_ids),
            "keystones_recomputed": recomputed,
        },
    )
    return ReorgResult(fork_height, fork_hash, len(block_ids), recomputed)
