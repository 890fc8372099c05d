"""The evidence bundle download, computed once per chain state instead of once per click.

Building a bundle walks both chains (hundreds of rows, Merkle-Patricia proofs); the download
button must not let an anonymous client repeat that at will. What a bundle depends on:

1. the mint's transaction and the Hemi block holding it (a Hemi reorg of the mint changes its
   block hash) - both in the key;
2. the active Bitcoin chain up to its tip: the claims name the tip while the publication is not
   yet superfinal, and any Bitcoin reorg changes the tip hash - tip height and hash in the key,
   so a new Bitcoin block invalidates the entry;
3. the canonical Hemi chain up to the anchoring keystone block: checked on every hit with one
   indexed query (that block still canonical with the hash the bundle names). The mint block
   and everything between are its ancestors, so a matching hash vouches for them too.

"Not available yet" answers are cached briefly (``UNAVAILABLE_SECONDS``): they can end without
either tip moving (a vault rescan finds the deposit in an old block). A cache outage only costs
the recomputation.
"""

from __future__ import annotations

import json
import logging

from django.core.cache import cache

from explorer import evidence
from indexer.bitcoin.models import BitcoinBlock
from indexer.hemi.models import Block, DepositConfirmation

log = logging.getLogger(__name__)

BUNDLE_SECONDS = 3600
UNAVAILABLE_SECONDS = 15


def cache_key(mint: DepositConfirmation) -> str:
    # Row ids as well as hashes: rows written again (a reorg undone and redone, a database
    # restored or rebuilt) are other rows, and never inherit an entry.
    tip = BitcoinBlock.objects.active().order_by("-height").values_list("id", "height", "hash_internal").first()
    tip_part = f"{tip[0]}:{tip[1]}:{bytes(tip[2]).hex()}" if tip else "none"
    mint_part = f"{mint.pk}:{bytes(mint.transaction.hash).hex()}:{bytes(mint.block.hash).hex()}"
    return f"evidence:v1:{mint_part}:{tip_part}"


def _hemi_anchor_still_canonical(data: bytes) -> bool:
    claims = json.loads(data)["claims"]
    number = claims["anchoring_keystone_number"]
    block_hash = bytes.fromhex(claims["hemi_last_block_hash"][2:])
    return Block.objects.canonical().filter(number=number, hash=block_hash).exists()


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception as exc:  # the cache being down must not take the download with it
        log.warning("evidence cache unavailable", extra={"error": type(exc).__name__})
        return None


def _cache_set(key: str, value, timeout: int) -> None:
    try:
        cache.set(key, value, timeout)
    except Exception as exc:
        log.warning("evidence cache unavailable", extra={"error": type(exc).__name__})


def export_bytes(mint: DepositConfirmation) -> bytes:
    """``evidence.export_bytes(mint)``, served from the cache while its chain positions hold.

    Raises ``evidence.EvidenceUnavailable`` as the export does (possibly from the cache).
    """
    if not mint.canonical:
        raise evidence.EvidenceUnavailable("the mint is not on the canonical Hemi chain")
    key = cache_key(mint)
    entry = _cache_get(key)
    if entry is not None:
        if "unavailable" in entry:
            raise evidence.EvidenceUnavailable(entry["unavailable"])
        if _hemi_anchor_still_canonical(entry["bundle"]):
            return entry["bundle"]
    try:
        data = evidence.export_bytes(mint)
    except evidence.EvidenceUnavailable as exc:
        _cache_set(key, {"unavailable": str(exc)}, UNAVAILABLE_SECONDS)
        raise
    _cache_set(key, {"bundle": data}, BUNDLE_SECONDS)
    return data
