"""Bitcoin rows the Hemi pages link to and search finds (part 2 adds the Bitcoin pages).

Hashes are looked up in INTERNAL order; callers that hold display-order hex reverse it first,
and search tries both orders because users paste either.
"""

from __future__ import annotations

from indexer.bitcoin.models import BitcoinBlock, BitcoinTransaction


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
