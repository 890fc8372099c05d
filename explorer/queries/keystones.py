"""Keystones: the list with finality, one keystone with its Bitcoin publications and alerts,
and the batch finality that block lists use (a fixed number of queries for a whole page)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from explorer import anchoring
from explorer import finality as fin
from explorer.queries.cursor import Page, PageRequest
from indexer.bitcoin.models import KeystoneFirstPublication, PopPublication
from indexer.hemi.models import Keystone
from indexer.keystone import KEYSTONE_PERIOD, keystone_number_for

LIST = "keystones"
PUBLICATIONS = "keystone-pubs"


def finality_for_numbers(block_numbers: Sequence[int]) -> dict[int, fin.Finality]:
    """Finality of many Hemi blocks in 3 queries, with ``anchoring.block_finality``'s rules.

    1. Read the Bitcoin tip once.
    2. Read the canonical keystones from the lowest covering keystone up to the highest plus
       the descendant window, and the first active-chain publication of each id.
    3. Per block: its keystone is produced if that row exists; its anchor is the lowest
       (height, keystone number) publication among keystones from its own up to the window.
    """
    if not block_numbers:
        return {}
    tip = anchoring.bitcoin_tip_height()
    wanted = {n: keystone_number_for(n) for n in block_numbers}
    low, high = min(wanted.values()), max(wanted.values()) + anchoring.DESCENDANT_WINDOW * KEYSTONE_PERIOD
    keystones = dict(
        Keystone.objects.canonical()
        .filter(number__gte=low, number__lte=high)
        .values_list("number", "keystone_id_internal")
    )
    firsts = {
        bytes(p.keystone_id_internal): p
        for p in KeystoneFirstPublication.objects.filter(keystone_id_internal__in=list(keystones.values()))
    }
    anchors = sorted(
        (first.height, number) for number, kid in keystones.items() if (first := firsts.get(bytes(kid))) is not None
    )
    out = {}
    for n, k in wanted.items():
        produced = k in keystones
        anchor = None
        if produced:
            window = k + anchoring.DESCENDANT_WINDOW * KEYSTONE_PERIOD
            anchor = next(((h, kn) for h, kn in anchors if k <= kn <= window), None)
        out[n] = fin.finality(
            block_number=n,
            keystone_number=k,
            keystone_produced=produced,
            publication_height=anchor[0] if anchor else None,
            anchoring_keystone_number=anchor[1] if anchor else None,
            tip_height=tip,
        )
    return out


@dataclass(frozen=True)
class KeystoneRow:
    keystone: Keystone
    finality: fin.Finality


def list_keystones(req: PageRequest, *, numbers: tuple[int | None, int | None] = (None, None)) -> Page[KeystoneRow]:
    """Canonical keystones, newest first (index hemi_one_canonical_keystone); 5 queries.
    ``numbers`` bounds the keystone (block) number, inclusive."""
    qs = Keystone.objects.canonical().select_related("block").defer("block__header_rlp").order_by("-number")
    if req.after is not None:
        qs = qs.filter(number__lt=req.after[0])
    if numbers[0] is not None:
        qs = qs.filter(number__gte=numbers[0])
    if numbers[1] is not None:
        qs = qs.filter(number__lte=numbers[1])
    page = req.page(list(qs[: req.limit + 1]), lambda k: (k.number,))
    finalities = finality_for_numbers([k.number for k in page.items])
    return Page([KeystoneRow(k, finalities[k.number]) for k in page.items], page.next_cursor)


def get_keystone(number: int) -> Keystone | None:
    """The canonical keystone numbered ``number``, else the newest orphaned one."""
    return Keystone.objects.filter(number=number).select_related("block").order_by("-canonical", "-id").first()


def keystone_by_id(keystone_id_internal: bytes) -> Keystone | None:
    return (
        Keystone.objects.filter(keystone_id_internal=keystone_id_internal)
        .select_related("block")
        .order_by("-canonical", "-id")
        .first()
    )


def publications(keystone: Keystone, req: PageRequest) -> Page[PopPublication]:
    """Every Bitcoin publication of exactly this keystone (index btc_pop_keystone), by row id."""
    qs = (
        PopPublication.objects.filter(keystone_id_internal=keystone.keystone_id_internal)
        .select_related("transaction", "block")
        .defer("transaction__raw", "transaction__merkle_branch", "block__header_raw")
        .order_by("id")
    )
    if req.after is not None:
        qs = qs.filter(id__gt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda p: (p.id,))


def alerts_for(keystone: Keystone) -> list[anchoring.AlternateKeystoneAlert]:
    """Publications naming this keystone's number with other contents (alternate chain)."""
    return anchoring.alternate_chain_alerts(numbers=[keystone.number], limit=20)


def recent_alerts(limit: int = 5) -> list[anchoring.AlternateKeystoneAlert]:
    """The newest alternate-chain alerts for the home and tunnel pages (keystones of the
    newest 100 canonical keystone numbers, so the scan stays an index range)."""
    newest = Keystone.objects.canonical().order_by("-number").values_list("number", flat=True).first()
    if newest is None:
        return []
    numbers = range(max(KEYSTONE_PERIOD, newest - 100 * KEYSTONE_PERIOD), newest + 1, KEYSTONE_PERIOD)
    return anchoring.alternate_chain_alerts(numbers=numbers, limit=limit)


def newer_keystones_than(number: int, cap: int = 100) -> int:
    """Canonical keystones above ``number`` (the "new keystones" banner), at most cap + 1."""
    return Keystone.objects.canonical().filter(number__gt=number).order_by()[: cap + 1].count()
