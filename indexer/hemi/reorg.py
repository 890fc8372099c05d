"""Hemi reorg handling: find the fork point over RPC, then undo the orphaned branch in one transaction.

Orphaned rows are marked (``canonical=False``, blocks also get ``orphaned_at``), never
deleted, because users may have linked to them. Derived state that only makes sense on the
canonical chain - token balances and the vault list - is recomputed instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from indexer.core import cursor as chain_cursor
from indexer.core.errors import ReorgTooDeep, WrongChain
from indexer.hemi import identity, tokens_ingest
from indexer.hemi.chain import CHAIN, WRITER
from indexer.hemi.models import (
    Block,
    DepositConfirmation,
    HvmUpdate,
    Keystone,
    Log,
    PopPayout,
    TokenTransfer,
    Transaction,
    Vault,
    WithdrawalChallenge,
    WithdrawalInitiation,
)
from indexer.hemi.rpc import HemiRpc

logger = logging.getLogger(__name__)

# Walk-back batch: hashes compared per RPC round trip.
WALK_BATCH = 32
# The deepest reorg undone automatically is settings.HEMI_MAX_REORG_DEPTH (10 000 by default):
# Hemi is an OP-stack rollup whose unsafe-head reorgs are short; anything deeper more likely
# means a node on another network or reset, which needs an operator, not an automatic undo.

# Every row type that carries ``canonical`` and a ``block`` foreign key.
DERIVED_MODELS = (
    Transaction,
    Log,
    TokenTransfer,
    Keystone,
    HvmUpdate,
    PopPayout,
    DepositConfirmation,
    WithdrawalInitiation,
    WithdrawalChallenge,
)


class CursorMoved(RuntimeError):
    """Another writer moved the cursor while we walked back; walk again from where it is now."""


# A walk-back that keeps finding the cursor moved under it (another writer busy with the same
# reorg) stops after this many tries: the other writer is doing the work.
MAX_WALKS = 3


@dataclass(frozen=True)
class ForkPoint:
    number: int  # highest height where the stored canonical block equals the node's
    hash: bytes | None  # that block's hash; None when the fork is below everything stored


@dataclass(frozen=True)
class ReorgReport:
    fork: ForkPoint
    orphaned_blocks: int
    balances_recomputed: int


def find_fork_point(rpc: HemiRpc, from_number: int, stored_top: int | None = None) -> ForkPoint:
    """Walk back from ``from_number`` to the highest block the node and the DB agree on.

    1. Read the stored canonical hashes for a window of heights (newest first).
    2. Ask the node for its block hashes at the same heights in one batch.
    3. The first height (going down) where both agree is the fork point; if the window has
       none, move the window down and repeat - but never below ``stored_top`` (our highest
       canonical block) minus ``HEMI_MAX_REORG_DEPTH``: a fork there would orphan more blocks
       than allowed, and :class:`ReorgTooDeep` is raised before anything is written.
    4. A node that shares no block with ours down to the first stored one is on another
       chain (``WrongChain``): stored blocks are never all orphaned.
    """
    lowest = Block.objects.canonical().order_by("number").values_list("number", flat=True).first()
    if lowest is None:
        return ForkPoint(from_number, None)
    limit = settings.HEMI_MAX_REORG_DEPTH
    stored_top = from_number if stored_top is None else stored_top
    floor = max(lowest, stored_top - limit)  # the lowest fork that orphans at most `limit` blocks
    top = min(from_number, stored_top)
    while top >= floor:
        bottom = max(floor, top - WALK_BATCH + 1)
        stored = dict(
            Block.objects.canonical()
            .filter(number__gte=bottom, number__lte=top)
            .values_list("number", "hash")
        )
        heights = list(range(top, bottom - 1, -1))
        node_tip = rpc.block_number()
        asked = [h for h in heights if h <= node_tip]
        node_hashes = rpc.block_hashes(asked) if asked else {}
        for h in heights:
            if h in stored and h in node_hashes and bytes(stored[h]) == node_hashes[h]:
                return ForkPoint(h, node_hashes[h])
        top = bottom - 1
    if floor > lowest:
        raise ReorgTooDeep(
            f"the Hemi node's chain leaves ours more than {limit} blocks below our tip {stored_top}: a reorg "
            f"deeper than HEMI_MAX_REORG_DEPTH={limit}. Refusing to undo it (nothing was orphaned). If the reorg is "
            f"real, raise HEMI_MAX_REORG_DEPTH and the next run undoes it; else point HEMI_RPC_URL at another node"
        )
    raise WrongChain(f"the Hemi node shares no block with the indexed chain down to block {lowest}")


def orphan_above(fork: ForkPoint, seen: tuple[int, bytes] | None = None) -> ReorgReport:
    """Mark everything above the fork point as orphaned, in one transaction.

    ``seen`` is the cursor (height, hash) the walk-back started from: if another writer moved
    the cursor since - even to another block at the same height - :class:`CursorMoved` is
    raised and nothing is written (the fork point may be stale). None skips the check.

    1. Take the Hemi writer lock (no ingest can interleave); compare-and-set the cursor from
       ``seen`` to the fork point.
    2. Mark the canonical blocks above ``fork.number`` orphaned, and every row derived from them.
    3. Recompute the balance of every (token, holder) named by an orphaned transfer from the
       canonical transfers that remain.
    4. Drop vault rows created above the fork (they are re-derived when the new branch's
       VaultCreated logs are ingested; the orphaned logs stay).
    """
    # One transaction: a half-undone reorg would leave balances and the cursor inconsistent.
    with transaction.atomic():
        WRITER.acquire()
        if seen is not None and fork.hash is not None:
            if not chain_cursor.advance(CHAIN, seen, (fork.number, fork.hash)):
                raise CursorMoved(f"hemi cursor moved from {seen[0]} during the walk-back")
        elif seen is not None and chain_cursor.position(CHAIN) != seen:
            raise CursorMoved(f"hemi cursor moved from {seen[0]} during the walk-back")
        block_ids = list(Block.objects.canonical().filter(number__gt=fork.number).values_list("id", flat=True))
        now = timezone.now()
        Block.objects.filter(id__in=block_ids).update(canonical=False, orphaned_at=now)
        for model in DERIVED_MODELS:
            model.objects.filter(block_id__in=block_ids, canonical=True).update(canonical=False)
        pairs = tokens_ingest.touched_pairs(
            TokenTransfer.objects.filter(block_id__in=block_ids).values_list("token_id", "sender", "recipient")
        )
        recomputed = tokens_ingest.recompute_balances(pairs)
        Vault.objects.filter(created_in_block__gt=fork.number).delete()
        if seen is None or fork.hash is None:
            chain_cursor.reset(CHAIN, None if fork.hash is None else (fork.number, fork.hash))
    report = ReorgReport(fork, len(block_ids), recomputed)
    logger.warning(
        "hemi reorg: orphaned blocks above the fork point",
        extra={"fork_number": fork.number, "orphaned_blocks": len(block_ids), "balances_recomputed": recomputed},
    )
    return report


def handle_reorg(rpc: HemiRpc, suspect_number: int, *, network: Any = None) -> ReorgReport:
    """Find the fork at or below ``suspect_number`` and orphan the stored branch above it.

    First the node's identity (``identity.verify``): a node on another chain would look like
    a reorg below everything stored. The walk-back reads the node outside any transaction; if
    the cursor moved meanwhile (another writer handled a reorg), walk again from the new
    state, a bounded number of times.
    """
    if network is None:
        from hemiscope import networks

        network = networks.current()
    identity.verify(rpc, network)
    for attempt in range(MAX_WALKS):
        seen = chain_cursor.position(CHAIN)
        top = Block.objects.canonical().order_by("-number").values_list("number", flat=True).first()
        start = min(suspect_number, top) if top is not None else suspect_number
        fork = find_fork_point(rpc, start, top)
        try:
            return orphan_above(fork, seen)
        except CursorMoved:
            if attempt + 1 >= MAX_WALKS:
                raise
            logger.info("hemi cursor moved during the reorg walk-back; walking again")
    raise AssertionError("unreachable")


def reinstate_block(block_id: int) -> None:
    """Make an orphaned block canonical again (the chain switched back to it).

    Called from ``ingest.write_block`` inside its transaction, after the parent check: the
    block and its derived rows become canonical and the balances it touches are recomputed.
    The caller re-creates vault rows from the block's VaultCreated logs.
    """
    Block.objects.filter(id=block_id).update(canonical=True, orphaned_at=None)
    for model in DERIVED_MODELS:
        model.objects.filter(block_id=block_id).update(canonical=True)
    pairs = tokens_ingest.touched_pairs(
        TokenTransfer.objects.filter(block_id=block_id).values_list("token_id", "sender", "recipient")
    )
    tokens_ingest.recompute_balances(pairs)
