"""Bitcoin rows the Hemi pages link to and search finds (part 2 adds the Bitcoin pages).

Hashes are looked up in INTERNAL order; callers that hold display-order hex reverse it first,
and search tries both orders because users paste either.
"""

from __future__ import annotations

from explorer.queries.cursor import Page, PageRequest
from indexer.bitcoin.models import BitcoinBlock, BitcoinTransaction, PopPublication, TunnelDeposit, WithdrawalPayout


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
