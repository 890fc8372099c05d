"""Hemi blocks: the canonical list, one block by number or hash, and its panels."""

from __future__ import annotations

from dataclasses import dataclass

from explorer import anchoring
from explorer.finality import Finality
from explorer.queries import keystones as keystone_queries
from explorer.queries.cursor import Page, PageRequest
from indexer.bitcoin.models import BitcoinBlock
from indexer.hemi.models import Block, BlockIntegrityIssue, HvmHeader, HvmUpdate, Keystone, PopPayout, Transaction
from indexer.keystone import is_keystone_number

LIST = "blocks"
BLOCK_TXS = "block-txs"


@dataclass(frozen=True)
class BlockRow:
    block: Block
    finality: Finality
    is_keystone: bool


def list_blocks(
    req: PageRequest,
    *,
    numbers: tuple[int | None, int | None] = (None, None),
    times: tuple[int | None, int | None] = (None, None),
) -> Page[BlockRow]:
    """Canonical blocks, newest first (index hemi_one_canonical_per_number); 4 queries a page.

    ``numbers`` bounds the block number and ``times`` the block timestamp (unix seconds), both
    inclusive. A time bound is a filter inside the same number-ordered range scan: the query
    count stays the same, the rows the scan skips grow with how far back the window starts.
    """
    qs = Block.objects.canonical().defer("header_rlp").order_by("-number")
    if req.after is not None:
        qs = qs.filter(number__lt=req.after[0])
    if numbers[0] is not None:
        qs = qs.filter(number__gte=numbers[0])
    if numbers[1] is not None:
        qs = qs.filter(number__lte=numbers[1])
    if times[0] is not None:
        qs = qs.filter(timestamp__gte=times[0])
    if times[1] is not None:
        qs = qs.filter(timestamp__lte=times[1])
    blocks = list(qs[: req.limit + 1])
    page = req.page(blocks, lambda b: (b.number,))
    finalities = keystone_queries.finality_for_numbers([b.number for b in page.items])
    rows = [BlockRow(b, finalities[b.number], is_keystone_number(b.number)) for b in page.items]
    return Page(rows, page.next_cursor)


def get_block_by_number(number: int) -> Block | None:
    """The canonical block at ``number``, else the newest orphaned one (shown with a banner)."""
    return Block.objects.filter(number=number).order_by("-canonical", "-id").first()


def get_block_by_hash(block_hash: bytes) -> Block | None:
    return Block.objects.filter(hash=block_hash).first()


def block_transactions(block: Block, req: PageRequest) -> Page[Transaction]:
    """A block's transactions in block order (index hemi_tx_position); 1 query."""
    qs = Transaction.objects.filter(block=block).defer("raw", "receipt_raw").order_by("index")
    if req.after is not None:
        qs = qs.filter(index__gt=req.after[0])
    page = req.page(qs[: req.limit + 1], lambda t: (t.index,))
    for tx in page.items:
        tx.block = block  # the caller holds it: no query per row for tx.block
    return page


@dataclass(frozen=True)
class HvmPanel:
    """The Bitcoin view a block executed in and the headers it relayed itself."""

    view: HvmUpdate | None  # last canonical hVM update at or before the block
    view_tip: BitcoinBlock | None  # that update's canonical tip, if indexed
    updates: list[HvmUpdate]  # updates in this block, with their headers prefetched


def hvm_panel(block: Block) -> HvmPanel:
    """3-4 queries: the view, its tip, this block's updates and their headers."""
    view = (
        HvmUpdate.objects.filter(canonical=True, block__number__lte=block.number)
        .order_by("-block__number", "-transaction__index")
        .select_related("block", "transaction")
        .first()
    )
    tip = BitcoinBlock.objects.filter(hash_internal=view.canonical_tip_internal).first() if view else None
    updates = list(
        HvmUpdate.objects.filter(block=block)
        .select_related("transaction")
        .prefetch_related("headers")
        .order_by("transaction__index")
    )
    return HvmPanel(view, tip, updates)


def pop_payouts(block: Block) -> list[PopPayout]:
    return list(
        PopPayout.objects.filter(block=block).select_related("transaction").prefetch_related("entries").order_by("id")
    )


def relayed_headers(update: HvmUpdate) -> list[HvmHeader]:
    return sorted(update.headers.all(), key=lambda h: h.position)


def neighbours(block: Block) -> tuple[int | None, int | None]:
    """Numbers of the canonical previous and next blocks, when indexed (1 query)."""
    numbers = set(
        Block.objects.canonical()
        .filter(number__in=[block.number - 1, block.number + 1])
        .values_list("number", flat=True)
    )
    return (
        block.number - 1 if block.number - 1 in numbers else None,
        block.number + 1 if block.number + 1 in numbers else None,
    )


def keystone_of(block: Block) -> Keystone | None:
    """The canonical keystone that covers the block (its own number rounded up to 25)."""
    from indexer.keystone import keystone_number_for

    return Keystone.objects.canonical().filter(number=keystone_number_for(block.number)).first()


def block_finality(block: Block) -> Finality:
    return anchoring.block_finality(block.number)


# --------------------------------------------------------------------------- integrity
# Blocks stored although a re-hash check failed (HEMI_VERIFY_STRICT off): their pages, the
# home page, /healthz and the API say so; their mints read "pending (integrity)".


def integrity_issues(block: Block) -> list[BlockIntegrityIssue]:
    """The re-hash checks ``block`` failed (empty: it verified); 1 query."""
    return list(BlockIntegrityIssue.objects.filter(block=block).order_by("id"))


def integrity_by_block(block_ids: list[int]) -> dict[int, list[BlockIntegrityIssue]]:
    """Failed checks of several blocks at once (lists and API pages); 1 query."""
    out: dict[int, list[BlockIntegrityIssue]] = {}
    for issue in BlockIntegrityIssue.objects.filter(block_id__in=block_ids).order_by("id"):
        out.setdefault(issue.block_id, []).append(issue)
    return out


@dataclass(frozen=True)
class IntegritySummary:
    count: int  # canonical blocks stored with failed checks
    latest: list[Block]  # the newest few of them

    def __bool__(self) -> bool:
        return self.count > 0


def integrity_summary(limit: int = 5) -> IntegritySummary:
    """How many canonical blocks carry failed checks, and the newest ``limit``; 2 small queries
    (the issue table holds only flagged blocks)."""
    flagged = Block.objects.canonical().filter(id__in=BlockIntegrityIssue.objects.values("block_id"))
    count = flagged.count()
    latest = list(flagged.defer("header_rlp").order_by("-number")[:limit]) if count else []
    return IntegritySummary(count, latest)


def newer_blocks_than(number: int, cap: int = 100) -> int:
    """Canonical blocks above ``number`` (the "new blocks" banner), counting at most cap + 1."""
    return Block.objects.canonical().filter(number__gt=number).order_by()[: cap + 1].count()


def tip_number() -> int | None:
    """The highest canonical block number indexed (index hemi_one_canonical_per_number); 1 query."""
    return Block.objects.canonical().order_by("-number").values_list("number", flat=True).first()


def fees_by_block(block_ids: list[int]) -> dict[int, int]:
    """What the blocks' transactions paid, per block, in wei: gas used x effective price (the
    legacy gas price where the receipt has none) plus the L1 data fee; 1 grouped query on the
    transactions' (block, index) index."""
    from django.db.models import DecimalField, F, Sum, Value
    from django.db.models.functions import Coalesce

    u256 = DecimalField(max_digits=78, decimal_places=0)
    execution = F("gas_used") * Coalesce(F("effective_gas_price"), F("gas_price"), Value(0, output_field=u256))
    rows = (
        Transaction.objects.filter(block_id__in=block_ids)
        .values("block_id")
        .annotate(
            execution=Coalesce(Sum(execution, output_field=u256), Value(0, output_field=u256)),
            l1=Coalesce(Sum("l1_fee"), Value(0, output_field=u256)),
        )
    )
    return {r["block_id"]: int(r["execution"]) + int(r["l1"]) for r in rows}


def first_number() -> int | None:
    """The lowest canonical block number indexed; 1 query on the canonical-number index."""
    return Block.objects.canonical().order_by("number").values_list("number", flat=True).first()


def recent_timestamps(count: int = 100) -> list[int]:
    """Times of the newest ``count`` canonical blocks, newest first; 1 query."""
    return list(Block.objects.canonical().order_by("-number").values_list("timestamp", flat=True)[:count])
