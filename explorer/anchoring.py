"""Anchoring: which Bitcoin publication anchors a Hemi block, and how final it is.

Matching is by keystone id, and a Hemi keystone row's id is computed by the Hemi indexer from
the full stored blocks (parent hash, previous keystone hash, state root, own hash, L1 origin), so
equal ids mean the 76 published bytes equal our canonical keystone's abbreviation byte for byte
- never a comparison of hash prefixes alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Subquery

from explorer import finality as fin
from explorer.at import At, btc_upto, hemi_exists
from indexer.bitcoin.models import BitcoinBlock, KeystoneFirstPublication, PopPublication
from indexer.hemi.models import Keystone
from indexer.keystone import KEYSTONE_PERIOD, keystone_number_for

# How many descendant keystones may anchor a block. A descendant's publication anchors its
# ancestors, and publications normally land within minutes; 100 keystones is ~8 hours of Hemi
# blocks. Past that window a block is reported as not yet anchored (pending) - conservative,
# never a false "verified" - and the query stays an index range scan on mainnet-sized tables.
DESCENDANT_WINDOW = 100


def bitcoin_tip_height(at: At | None = None) -> int | None:
    """The active chain's tip height, or the height judged at (``at``, an indexed height)."""
    if at is not None:
        return at.btc_height
    tip = BitcoinBlock.objects.active().order_by("-height").values_list("height", flat=True).first()
    return tip


def first_anchor(keystone_number: int, at: At | None = None) -> KeystoneFirstPublication | None:
    """The lowest Bitcoin publication of this keystone or of any canonical descendant.

    1. Take canonical Hemi keystones numbered >= ``keystone_number`` within DESCENDANT_WINDOW (a
       descendant commits to all its ancestors through the EVM hash chain, so its publication
       anchors them too).
    2. Join their ids to the first active-chain publication of each id.
    3. Keep the lowest Bitcoin height; ties go to the lower keystone number.

    At a position (``at``): keystones above its Hemi block and publications above its Bitcoin
    height do not exist. The first publication of an id is its lowest on the active chain, so
    when that lies above the height, no publication of the id is at or below it.
    """
    return _anchors_of(keystone_number, at).select_related("publication__transaction", "publication__block").first()


def _anchors_of(keystone_number, at: At | None = None, *, nested_number=None):
    """``first_anchor``'s candidates, best first. ``keystone_number`` is a number, or an
    expression: ``first_anchors`` passes the outer keystone row's number as seen from this
    query (``OuterRef``) and, as ``nested_number``, as seen from the keystone subquery inside
    it (``OuterRef(OuterRef)``)."""
    nested = keystone_number if nested_number is None else nested_number
    keystones = Keystone.objects.canonical().filter(
        number__gte=nested, number__lte=nested + DESCENDANT_WINDOW * KEYSTONE_PERIOD
    )
    # The l2_block_number range repeats the keystones' (an id commits to its keystone's number,
    # so only publications of those numbers can match): it lets the planner walk the few
    # publications in range by their index instead of hashing the whole table (at 1M blocks:
    # 4.7 ms -> 0.1 ms a keystone).
    anchors = KeystoneFirstPublication.objects.filter(
        l2_block_number__gte=keystone_number, l2_block_number__lte=keystone_number + DESCENDANT_WINDOW * KEYSTONE_PERIOD
    )
    if at is not None:
        keystones = keystones.filter(number__lte=at.hemi_block)
        anchors = anchors.filter(l2_block_number__lte=at.hemi_block)
    anchors = anchors.filter(keystone_id_internal__in=keystones.values("keystone_id_internal"))
    return btc_upto(anchors, at, "height").order_by("height", "l2_block_number")


def first_anchors(keystone_numbers, at: At | None = None) -> dict[int, KeystoneFirstPublication | None]:
    """``first_anchor`` of many keystone numbers in two queries: one correlated subquery over
    the canonical keystone rows of those numbers picks each one's anchor, the second reads
    them. A number without a canonical keystone row yet (the newest, or a gap in the index)
    is asked of ``first_anchor`` itself: a descendant's publication may still anchor it."""
    numbers = set(keystone_numbers)
    picked = dict(
        Keystone.objects.canonical()
        .filter(number__in={n for n in numbers if hemi_exists(n, at)})
        .annotate(
            anchor_id=Subquery(
                _anchors_of(OuterRef("number"), at, nested_number=OuterRef(OuterRef("number"))).values("pk")[:1]
            )
        )
        .values_list("number", "anchor_id")
    )
    rows = KeystoneFirstPublication.objects.filter(pk__in={a for a in picked.values() if a is not None})
    by_id = {a.pk: a for a in rows.select_related("publication__transaction__block", "publication__block")}
    out = {number: by_id.get(anchor_id) for number, anchor_id in picked.items()}
    for number in numbers - out.keys():
        out[number] = first_anchor(number, at) if hemi_exists(number, at) else None
    return out


_LOOK_UP = object()


def block_finality(
    block_number: int, *, tip_height=_LOOK_UP, keystone_produced: bool | None = None, at: At | None = None
) -> fin.Finality:
    """Finality of one Hemi block (at the tips, or at ``at``). A caller judging many blocks
    passes the Bitcoin tip it already read (and ``keystone_produced`` when it holds the keystone
    row) to skip those lookups, or calls ``block_finalities``."""
    keystone_number = keystone_number_for(block_number)
    if not hemi_exists(keystone_number, at):
        keystone_produced = False  # the keystone block lies above the position
    if keystone_produced is None:
        keystone_produced = Keystone.objects.canonical().filter(number=keystone_number).exists()
    anchor = first_anchor(keystone_number, at) if keystone_produced else None
    tip = bitcoin_tip_height(at) if tip_height is _LOOK_UP else tip_height
    return _finality(block_number, keystone_produced, anchor, tip)


def block_finalities(block_numbers, at: At | None = None) -> dict[int, fin.Finality]:
    """``block_finality`` of many Hemi blocks in four queries (the Bitcoin tip, which of their
    keystones are produced, and those keystones' anchors): block number -> finality."""
    numbers = set(block_numbers)
    keystones = {keystone_number_for(n) for n in numbers}
    produced = set(
        Keystone.objects.canonical()
        .filter(number__in={k for k in keystones if hemi_exists(k, at)})
        .values_list("number", flat=True)
    )
    anchors = first_anchors(produced, at) if produced else {}
    tip = bitcoin_tip_height(at)
    return {
        n: _finality(n, keystone_number_for(n) in produced, anchors.get(keystone_number_for(n)), tip) for n in numbers
    }


def _finality(block_number: int, keystone_produced: bool, anchor, tip_height: int | None) -> fin.Finality:
    return fin.finality(
        block_number=block_number,
        keystone_number=keystone_number_for(block_number),
        keystone_produced=keystone_produced,
        publication_height=anchor.height if anchor else None,
        anchoring_keystone_number=anchor.l2_block_number if anchor else None,
        tip_height=tip_height,
    )


@dataclass(frozen=True)
class AlternateKeystoneAlert:
    """A Bitcoin publication naming a keystone number we know, with different contents."""

    publication: PopPublication
    canonical_keystone: Keystone


def alternate_chain_alerts(numbers=None, limit: int = 100, at: At | None = None) -> list[AlternateKeystoneAlert]:
    """Publications whose L2 number matches a canonical keystone but whose bytes do not.

    Anyone can publish any 76 bytes, so these are not proof of a fork - but a publication that
    conflicts with our canonical chain must be shown, never silently ignored. ``numbers``
    restricts the search to those keystone numbers (what one page needs); None scans all. At a
    position (``at``), only publications and keystones at or below it.
    """
    candidates = btc_upto(
        PopPublication.objects.filter(block__in_active_chain=True, format=PopPublication.FORMAT_V1), at
    )
    keystones = Keystone.objects.canonical()
    if at is not None:
        keystones = keystones.filter(number__lte=at.hemi_block)
    if numbers is not None:
        candidates = candidates.filter(l2_block_number__in=list(numbers))
    # Conflicting: our canonical keystone of the publication's number has another id. One
    # correlated EXISTS on the canonical-number index, not NOT IN over every keystone id (a
    # hash of the whole keystone table per page: 18 ms at 1M blocks, growing with the chain).
    other = keystones.filter(number=OuterRef("l2_block_number")).exclude(
        keystone_id_internal=OuterRef("keystone_id_internal")
    )
    # Ordered by ``height + 0``, not ``height``: for ORDER BY height LIMIT n the planner walks
    # the Bitcoin blocks' height index hoping to stop early - all 20 000 of them when nothing
    # conflicts (38 ms at 1M blocks). An expression it cannot read from an index makes it
    # find the few candidates by their l2_block_number first and sort those.
    conflicting = (
        candidates.filter(Exists(other))
        .select_related("transaction", "block")
        .order_by(F("block__height") + 0, "block__height", "transaction__tx_index", "vout")[:limit]
    )
    canonical = {
        k.number: k for k in Keystone.objects.canonical().filter(number__in={p.l2_block_number for p in conflicting})
    }
    return [AlternateKeystoneAlert(p, canonical[p.l2_block_number]) for p in conflicting]


def publications_of(keystone: Keystone):
    """Every Bitcoin publication of exactly this keystone, first (active chain) first."""
    return (
        PopPublication.objects.filter(keystone_id_internal=keystone.keystone_id_internal)
        .select_related("transaction", "block")
        .order_by(F("block__in_active_chain").desc(), "block__height", "transaction__tx_index", "vout")
    )
