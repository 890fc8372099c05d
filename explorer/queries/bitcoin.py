"""Bitcoin rows the Hemi pages link to and search finds (part 2 adds the Bitcoin pages).

Hashes are looked up in INTERNAL order; callers that hold display-order hex reverse it first,
and search tries both orders because users paste either.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from explorer.queries.cursor import Page, PageRequest
from indexer.bitcoin.headers import bits_to_target, block_work
from indexer.bitcoin.models import (
    BitcoinBlock,
    BitcoinTransaction,
    KeystoneFirstPublication,
    PopPublication,
    TunnelDeposit,
    WithdrawalPayout,
)
from indexer.hemi.models import DepositConfirmation, HvmHeader, HvmUpdate, Keystone, WithdrawalInitiation


def block_by_hash_internal(hash_internal: bytes) -> BitcoinBlock | None:
    return BitcoinBlock.objects.filter(hash_internal=hash_internal).defer("header_raw").first()


def block_at_height(height: int) -> BitcoinBlock | None:
    """The active-chain block at ``height`` (index btc_one_active_per_height)."""
    return BitcoinBlock.objects.active().filter(height=height).defer("header_raw").first()


def tip_height() -> int | None:
    return BitcoinBlock.objects.active().order_by("-height").values_list("height", flat=True).first()


def transaction_by_txid_internal(txid_internal: bytes) -> BitcoinTransaction | None:
    return (
        BitcoinTransaction.objects.filter(txid_internal=txid_internal)
        .select_related("block")
        .defer("raw", "merkle_branch", "block__header_raw")
        .order_by("-block__in_active_chain", "id")
        .first()
    )


# --- Lists the REST API pages through (keyset, like every list) ---------------------------------

BLOCKS = "btc-blocks"
BLOCK_TXS = "btc-block-txs"
POP_PUBLICATIONS = "pop-publications"


def list_blocks(req: PageRequest, *, heights: tuple[int | None, int | None] = (None, None)) -> Page[BitcoinBlock]:
    """Active-chain blocks, highest first (index btc_one_active_per_height); 1 query.
    ``heights`` bounds the height, inclusive."""
    qs = BitcoinBlock.objects.active().defer("header_raw").order_by("-height")
    if req.after is not None:
        qs = qs.filter(height__lt=req.after[0])
    if heights[0] is not None:
        qs = qs.filter(height__gte=heights[0])
    if heights[1] is not None:
        qs = qs.filter(height__lte=heights[1])
    return req.page(qs[: req.limit + 1], lambda b: (b.height,))


def stored_transactions(block: BitcoinBlock, req: PageRequest) -> Page[BitcoinTransaction]:
    """The transactions of a block that Hemiscope keeps (PoP, tunnel deposits and payouts), in
    block order (unique index btc_tx_unique_in_block leads with the block); 1 query."""
    qs = BitcoinTransaction.objects.filter(block=block).defer("raw", "merkle_branch").order_by("tx_index", "id")
    if req.after is not None:
        qs = qs.filter(tx_index__gt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda t: (t.tx_index,))


def transaction_roles(tx: BitcoinTransaction) -> dict:
    """What a stored transaction is to Hemi: its PoP outputs, tunnel deposit, withdrawal payout
    (3 queries)."""
    return {
        "pop": list(PopPublication.objects.filter(transaction=tx).order_by("vout")),
        "deposit": TunnelDeposit.objects.filter(transaction=tx).select_related("vault").first(),
        "payout": WithdrawalPayout.objects.filter(transaction=tx).select_related("vault").first(),
    }


def pop_publications(
    req: PageRequest, *, keystone_numbers: tuple[int | None, int | None] = (None, None)
) -> Page[PopPublication]:
    """Every PoP publication we indexed (active chain or not), newest first by row id; 1 query.
    ``keystone_numbers`` bounds the published L2 keystone number (index btc_pop_l2_number)."""
    qs = (
        PopPublication.objects.select_related("transaction", "block")
        .defer("transaction__raw", "transaction__merkle_branch", "block__header_raw")
        .order_by("-id")
    )
    if req.after is not None:
        qs = qs.filter(id__lt=req.after[0])
    if keystone_numbers[0] is not None:
        qs = qs.filter(l2_block_number__gte=keystone_numbers[0])
    if keystone_numbers[1] is not None:
        qs = qs.filter(l2_block_number__lte=keystone_numbers[1])
    return req.page(qs[: req.limit + 1], lambda p: (p.id,))


# --- The Bitcoin pages: every indexed header as a list, one block with its panels -------------
# (Separate named functions from the REST API's lists, which page the active chain only.)

BLOCK_LIST = "btc-block-list"
BLOCK_POPS = "btc-block-pops"
BLOCK_DEPOSITS = "btc-block-deposits"
BLOCK_PAYOUTS = "btc-block-payouts"
# A header is normally relayed into the hVM once; a Hemi reorg can relay it again. Bounded list.
RELAY_LIMIT = 20
# How many keystones one Bitcoin block can be shown making superfinal (testnet blocks carry
# thousands of PoP outputs; the rest are counted, not listed).
SUPERFINAL_LIMIT = 50


@dataclass(frozen=True)
class BlockListRow:
    block: BitcoinBlock
    pop_outputs: int
    tunnel_txs: int


def _counts_by_block(model, block_ids: list[int]) -> dict[int, int]:
    """Rows of ``model`` per block for the page's blocks: one grouped query on its block index."""
    rows = model.objects.filter(block_id__in=block_ids).values("block_id").annotate(n=Count("id"))
    return {r["block_id"]: r["n"] for r in rows}


def block_list(req: PageRequest) -> Page[BlockListRow]:
    """Every indexed header, highest first; an orphaned block sits beside the active block of
    its height. Key (height, id): heights repeat across reorgs, row ids never. 4 queries a page
    (the blocks by index btc_block_height, then PoP outputs, deposits and payouts per block)."""
    qs = BitcoinBlock.objects.defer("header_raw").order_by("-height", "-id")
    if req.after is not None:
        height, row_id = req.after
        # "height <= h" is the index range; the OR only trims ties at height h.
        qs = qs.filter(height__lte=height).filter(Q(height__lt=height) | Q(id__lt=row_id))
    page = req.page(list(qs[: req.limit + 1]), lambda b: (b.height, b.id))
    ids = [b.id for b in page.items]
    pops = _counts_by_block(PopPublication, ids)
    deposits = _counts_by_block(TunnelDeposit, ids)
    payouts = _counts_by_block(WithdrawalPayout, ids)
    rows = [BlockListRow(b, pops.get(b.id, 0), deposits.get(b.id, 0) + payouts.get(b.id, 0)) for b in page.items]
    return Page(rows, page.next_cursor)


def newer_blocks_than(height: int, cap: int = 100) -> int:
    """Active blocks above ``height`` (for the "new blocks" banner), counting at most cap + 1."""
    return BitcoinBlock.objects.active().filter(height__gt=height).order_by()[: cap + 1].count()


def block_for_height(height: int) -> BitcoinBlock | None:
    """The active block at ``height``, else the newest orphaned one (shown with a banner)."""
    return BitcoinBlock.objects.filter(height=height).order_by("-in_active_chain", "-id").first()


def block_by_hash_display(hash_display: bytes) -> BitcoinBlock | None:
    """``hash_display`` is the 32 bytes of the display-order hex; rows hold internal order."""
    return BitcoinBlock.objects.filter(hash_internal=bytes(hash_display)[::-1]).first()


def neighbours(block: BitcoinBlock) -> tuple[BitcoinBlock | None, list[BitcoinBlock]]:
    """The parent (by hash) and the children (blocks at height + 1 naming this one as parent;
    more than one after a reorg), active first. 2 queries, both on an index."""
    parent = BitcoinBlock.objects.filter(hash_internal=block.prev_hash_internal).defer("header_raw").first()
    children = list(
        BitcoinBlock.objects.filter(height=block.height + 1, prev_hash_internal=block.hash_internal)
        .defer("header_raw")
        .order_by("-in_active_chain", "id")
    )
    return parent, children


def confirmations(block: BitcoinBlock, tip: int | None) -> int | None:
    """Bitcoin's own count: the block itself is confirmation 1 (orphaned blocks have none)."""
    if tip is None or not block.in_active_chain:
        return None
    return tip - block.height + 1


@dataclass(frozen=True)
class ProofOfWork:
    target: int | None  # None: bits encode no valid target
    block_work: int
    chainwork: int
    meets_target: bool | None


def proof_of_work(block: BitcoinBlock) -> ProofOfWork:
    """Target from the header's compact bits, this block's expected work and the cumulative
    chainwork; the hash compares as a little-endian number (internal order)."""
    try:
        target = bits_to_target(int(block.bits))
    except ValueError:
        target = None
    meets = None if target is None else int.from_bytes(bytes(block.hash_internal), "little") <= target
    return ProofOfWork(target, block_work(int(block.bits)), int(block.chainwork), meets)


@dataclass(frozen=True)
class PopRow:
    """One PoP output and what it publishes: our canonical keystone of that number, with the
    same bytes (``matches``) or different ones (an alternate keystone), or none indexed yet."""

    publication: PopPublication
    canonical: Keystone | None
    matches: bool
    first: bool  # the first active-chain publication of this keystone id


def pop_rows(publications: list[PopPublication]) -> list[PopRow]:
    """Judge a page of publications in 2 queries (canonical keystones by number, first
    publications by id)."""
    numbers = {p.l2_block_number for p in publications}
    canonical = {k.number: k for k in Keystone.objects.canonical().filter(number__in=numbers).select_related("block")}
    firsts = set(
        KeystoneFirstPublication.objects.filter(publication_id__in=[p.id for p in publications]).values_list(
            "publication_id", flat=True
        )
    )
    rows = []
    for p in publications:
        k = canonical.get(p.l2_block_number)
        matches = k is not None and bytes(k.keystone_id_internal) == bytes(p.keystone_id_internal)
        rows.append(PopRow(p, k, matches, p.id in firsts))
    return rows


def block_pops(block: BitcoinBlock, req: PageRequest) -> Page[PopRow]:
    """The block's PoP outputs in block order (row ids follow tx order), judged; 3 queries."""
    qs = (
        PopPublication.objects.filter(block=block)
        .select_related("transaction")
        .defer("transaction__raw", "transaction__merkle_branch")
        .order_by("id")
    )
    if req.after is not None:
        qs = qs.filter(id__gt=req.after[0])
    page = req.page(list(qs[: req.limit + 1]), lambda p: (p.id,))
    return Page(pop_rows(page.items), page.next_cursor)


@dataclass(frozen=True)
class DepositRow:
    deposit: object  # TunnelDeposit
    mints: list  # canonical DepositConfirmations of its txid (normally one)


def block_deposits(block: BitcoinBlock, req: PageRequest) -> Page[DepositRow]:
    """The block's tunnel deposits with the Hemi mints that credit them; 2 queries."""
    qs = (
        TunnelDeposit.objects.filter(block=block)
        .select_related("transaction", "vault")
        .defer("transaction__raw", "transaction__merkle_branch")
        .order_by("id")
    )
    if req.after is not None:
        qs = qs.filter(id__gt=req.after[0])
    page = req.page(list(qs[: req.limit + 1]), lambda d: (d.id,))
    txids = [bytes(d.transaction.txid_internal) for d in page.items]
    mints: dict[bytes, list] = {}
    for mint in (
        DepositConfirmation.objects.canonical()
        .filter(deposit_txid_internal__in=txids)
        .select_related("transaction", "block")
        .defer("transaction__raw", "transaction__receipt_raw", "transaction__input", "block__header_rlp")
        .order_by("id")
    ):
        mints.setdefault(bytes(mint.deposit_txid_internal), []).append(mint)
    rows = [DepositRow(d, mints.get(bytes(d.transaction.txid_internal), [])) for d in page.items]
    return Page(rows, page.next_cursor)


@dataclass(frozen=True)
class PayoutRow:
    payout: object  # WithdrawalPayout
    withdrawals: list  # the WithdrawalInitiations it pays (normally one)


def withdrawal_uuid(vault_index: int, withdrawal_index: int) -> int:
    """The tunnel's uuid: vault index in the high bits, the vault's own index in the low 32."""
    return (vault_index << 32) | withdrawal_index


def withdrawals_for_payouts(payouts) -> dict[int, list]:
    """Payout id -> the Hemi withdrawals it pays (same vault, uuid from the OP_RETURN index); 1 query."""
    wanted = {p.id: (bytes(p.vault.vault_address), withdrawal_uuid(p.vault.vault_index, p.withdrawal_index))
              for p in payouts}  # fmt: skip
    found: dict[int, list] = {pid: [] for pid in wanted}
    if not wanted:
        return found
    rows = (
        WithdrawalInitiation.objects.filter(uuid__in={u for _, u in wanted.values()})
        .select_related("transaction", "block")
        .defer("transaction__raw", "transaction__receipt_raw", "transaction__input", "block__header_rlp")
        .order_by("-canonical", "id")
    )
    for w in rows:
        for pid, (vault, uuid) in wanted.items():
            if int(w.uuid) == uuid and bytes(w.vault) == vault:
                found[pid].append(w)
    return found


def block_payouts(block: BitcoinBlock, req: PageRequest) -> Page[PayoutRow]:
    """The block's withdrawal payouts with the withdrawals they pay; 2 queries."""
    qs = (
        WithdrawalPayout.objects.filter(block=block)
        .select_related("transaction", "vault")
        .defer("transaction__raw", "transaction__merkle_branch")
        .order_by("id")
    )
    if req.after is not None:
        qs = qs.filter(id__gt=req.after[0])
    page = req.page(list(qs[: req.limit + 1]), lambda p: (p.id,))
    found = withdrawals_for_payouts(page.items)
    return Page([PayoutRow(p, found[p.id]) for p in page.items], page.next_cursor)


def relays(block: BitcoinBlock) -> list[HvmHeader]:
    """The hVM updates that showed this header to Hemi's sequencer, earliest Hemi block first
    (index hemi_hvm_btc_hash); 1 query."""
    return list(
        HvmHeader.objects.filter(btc_hash_internal=block.hash_internal)
        .select_related("update__block", "update__transaction")
        .defer("update__block__header_rlp", "update__transaction__raw", "update__transaction__receipt_raw",
               "update__transaction__input")
        .order_by("update__block__number", "update__transaction__index")[:RELAY_LIMIT]
    )  # fmt: skip


def hvm_tip_height() -> int | None:
    """Height of the Bitcoin tip in Hemi's newest canonical hVM view (2 queries): a header at or
    below it that was never relayed will not be relayed any more. The newest update is the
    highest row id (the single Hemi writer draws ids in chain order): a backward primary-key
    scan to the first canonical row, never a sort of every update."""
    newest = HvmUpdate.objects.filter(canonical=True).order_by("-id")
    view = newest.values_list("canonical_tip_internal", flat=True).first()
    if view is None:
        return None
    return BitcoinBlock.objects.filter(hash_internal=view).values_list("height", flat=True).first()


@dataclass(frozen=True)
class Superfinal:
    """What this block makes superfinal: the keystones whose first publication it buries 10 deep."""

    publication_block: BitcoinBlock
    keystone_numbers: list[int]
    more: int


def superfinal_here(block: BitcoinBlock) -> Superfinal | None:
    """Keystones whose first active-chain publication sits SUPERFINALITY_CONFIRMATIONS below
    this block: with this block on top they (and every Hemi block they cover) turn superfinal.
    3 queries: the block that deep, its PoP outputs' first publications, the count past the cap."""
    from explorer.finality import SUPERFINALITY_CONFIRMATIONS

    if not block.in_active_chain:
        return None
    below = block_at_height(block.height - SUPERFINALITY_CONFIRMATIONS)
    if below is None:
        return None
    firsts = KeystoneFirstPublication.objects.filter(
        publication__in=PopPublication.objects.filter(block=below).values("id")
    ).order_by("l2_block_number")
    numbers = list(firsts.values_list("l2_block_number", flat=True)[: SUPERFINAL_LIMIT + 1])
    more = 0
    if len(numbers) > SUPERFINAL_LIMIT:
        more = firsts.count() - SUPERFINAL_LIMIT
        numbers = numbers[:SUPERFINAL_LIMIT]
    return Superfinal(below, numbers, more) if numbers else None


# --- The Esplora-compatible API (explorer/api/esplora) -----------------------------------------

MEDIAN_TIME_SPAN = 11


def header_raw_of(block: BitcoinBlock) -> bytes:
    """The 80 stored header bytes (deferred by the block queries above); 1 query."""
    return bytes(BitcoinBlock.objects.filter(id=block.id).values_list("header_raw", flat=True).get())


def median_time_past(block: BitcoinBlock) -> int | None:
    """Median of the times of this block and the 10 before it on its chain (Bitcoin's MTP, what
    Esplora calls ``mediantime``); 1 query. None for an orphaned block (its ancestors below the
    fork are ours, but reading them needs the branch walk the pages do not need)."""
    if not block.in_active_chain:
        return None
    times = sorted(
        BitcoinBlock.objects.active()
        .filter(height__range=(block.height - MEDIAN_TIME_SPAN + 1, block.height))
        .values_list("time", flat=True)
    )
    return times[len(times) // 2] if times else None


def tip_block() -> BitcoinBlock | None:
    return BitcoinBlock.objects.active().defer("header_raw").order_by("-height").first()


def blocks_down_from(height: int, count: int) -> list[BitcoinBlock]:
    """Active blocks at ``height`` and below, highest first, at most ``count``; 1 query."""
    qs = BitcoinBlock.objects.active().filter(height__lte=height).defer("header_raw").order_by("-height")
    return list(qs[:count])
