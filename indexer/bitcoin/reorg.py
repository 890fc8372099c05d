"""Reorgs: find where the source's chain leaves ours, and undo our side in one transaction.

Before anything is undone, three checks, each a named refusal that writes nothing:
the source is on our chain at all (``identity.verify``, ``WrongChain``); the fork is at most
``BITCOIN_MAX_REORG_DEPTH`` blocks below our tip (``ReorgTooDeep``); and the source's branch
above the fork carries at least as much proof of work as ours (``LessWorkChain``) - a node
restarted on a shorter chain, or a lagging replica on a stale branch, is never followed.

Blocks that leave the active chain are marked, not deleted (``in_active_chain=False``,
``orphaned_at``): their PoP publications and deposits stay queryable with the flag, because
an auditor may have linked to them. Rows of orphaned blocks are simply ignored by every
"active" query (first publications, vault outpoints), so re-ingesting the new branch needs no
further undo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from indexer.bitcoin import identity
from indexer.bitcoin.chain import CHAIN, WRITER
from indexer.bitcoin.decode import decode_header
from indexer.bitcoin.headers import NETWORKS, ChainParams, HeaderRejected, branch_work
from indexer.bitcoin.models import BitcoinBlock, KeystoneFirstPublication, PopPublication
from indexer.bitcoin.source import BitcoinSource
from indexer.core import cursor as chain_cursor
from indexer.core.errors import Refusal, ReorgTooDeep, TransientError, WrongChain

log = logging.getLogger(__name__)

# The deepest reorg undone automatically is settings.BITCOIN_MAX_REORG_DEPTH (1000 by default).
# Mainnet has not seen one deeper than a few blocks since 2013 and testnet3's worst are in the
# dozens; anything deeper is far more likely a wrong node (another network, a node still
# syncing a different branch) and must stop us loudly.
WALK_WINDOW = 32  # source hashes fetched per batched request while walking back
WORK_WINDOW = 500  # source headers fetched per request while summing the branch's work


class ReorgError(RuntimeError):
    """A reorg walk that cannot start (no cursor, nothing stored)."""


class LessWorkChain(Refusal):
    """The source's branch above the fork has less proof of work than ours: not followed."""

    code = "less-work"


class BranchChanged(TransientError):
    """The source's chain changed while we read its branch (its headers stopped linking)."""


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

    The walk stops ``BITCOIN_MAX_REORG_DEPTH`` blocks below our tip: a fork deeper than that
    would orphan more blocks than allowed (:class:`ReorgTooDeep`). A source that shares no
    block with ours at all is on another chain (``WrongChain``).
    """
    source_tip = source.tip_height()
    lowest = BitcoinBlock.objects.active().order_by("height").values_list("height", flat=True).first()
    if lowest is None:
        raise ReorgError("no stored blocks to walk back through")
    limit = settings.BITCOIN_MAX_REORG_DEPTH
    floor = max(lowest, tip_height - limit)  # the lowest fork that orphans at most `limit` blocks
    high = tip_height
    while high >= floor:
        low = max(floor, high - WALK_WINDOW + 1)
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
    if floor > lowest:
        raise ReorgTooDeep(
            f"the Bitcoin source's chain leaves ours more than {limit} blocks below our tip {tip_height}: a reorg "
            f"deeper than BITCOIN_MAX_REORG_DEPTH={limit}. Refusing to undo it (nothing was orphaned). If the reorg "
            f"is real, raise BITCOIN_MAX_REORG_DEPTH and the next run undoes it; else check the node"
        )
    raise WrongChain(f"the Bitcoin source's chain shares no block with ours down to height {lowest}")


def source_branch_work(
    source: BitcoinSource, fork_height: int, fork_hash: bytes, enough: int, params: ChainParams
) -> int:
    """Proof of work of the source's chain above the fork, summed from its headers (each
    linked and meeting its target), read WORK_WINDOW at a time and stopped as soon as it
    passes ``enough`` (only "more or less than ours" matters)."""
    tip = source.tip_height()
    total, parent, height = 0, fork_hash, fork_height + 1
    while height <= tip and total <= enough:
        last = min(tip, height + WORK_WINDOW - 1)
        hashes = source.block_hashes(range(height, last + 1))
        headers = [decode_header(raw) for raw in source.raw_headers(hashes)]
        try:
            total += branch_work(headers, parent, params)
        except HeaderRejected as exc:
            if exc.reason == "bad-prevblk":
                raise BranchChanged(f"the source's chain changed while its branch was read: {exc}") from exc
            raise WrongChain(f"the Bitcoin source serves headers without their proof of work: {exc}") from exc
        parent, height = hashes[-1], last + 1
    return total


def require_more_work(*, ours: int, theirs: int, fork_height: int, node: str) -> None:
    """Refuse a reorg onto a branch with less work than ours (equal work: the node chose its
    branch first, and it is the node's view we follow)."""
    if theirs < ours:
        raise LessWorkChain(
            f"the Bitcoin source ({node}) offers a branch with less work than ours above height {fork_height} "
            f"(its work {theirs:#x}, ours {ours:#x}): refusing to reorg onto it. A restarted node on a new, "
            f"shorter chain, or a replica on a stale branch? Nothing was orphaned; the next run checks again"
        )


def _stored_chainwork(hash_internal: bytes) -> int:
    work = BitcoinBlock.objects.filter(hash_internal=hash_internal).values_list("chainwork", flat=True).get()
    return int(work)


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


def rewind(
    source: BitcoinSource, *, bitcoin_network: str | None = None, start_height: int | None = None
) -> ReorgResult:
    """Undo our side of a reorg; the caller then ingests the new branch block by block.

    0. The source must be on our chain (``identity.verify``; ``bitcoin_network`` and
       ``start_height`` default to the current network's).
    1. Walk back through the source (``find_fork``) to the highest height where its chain and
       ours agree: the fork point, at most ``BITCOIN_MAX_REORG_DEPTH`` below our tip. Then its
       branch above the fork must have at least our work (``require_more_work``). Network
       I/O, so before any transaction.
    2. In ONE transaction under the writer lock, after checking the cursor did not move
       meanwhile: mark every active block above the fork ``in_active_chain=False,
       orphaned_at=now()`` (rows are kept),
    3. recompute KeystoneFirstPublication for every keystone id published in those blocks
       (next best publication on the active chain, or no row),
    4. (first, as a compare-and-set) move the cursor to the fork point.
    """
    if bitcoin_network is None or start_height is None:
        from hemiscope import networks

        network = networks.current()
        bitcoin_network = bitcoin_network or network.bitcoin_network
        start_height = network.bitcoin_start_height if start_height is None else start_height
    seen = chain_cursor.position(CHAIN)
    if seen is None:
        raise ReorgError("no cursor: nothing to rewind")
    seen_height, seen_hash = seen
    identity.verify(source, bitcoin_network, start_height)
    fork_height, fork_hash = find_fork(source, seen_height, seen_hash)
    ours = _stored_chainwork(seen_hash) - _stored_chainwork(fork_hash)
    theirs = source_branch_work(source, fork_height, fork_hash, ours, NETWORKS[bitcoin_network])
    require_more_work(ours=ours, theirs=theirs, fork_height=fork_height, node=source.name)
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
