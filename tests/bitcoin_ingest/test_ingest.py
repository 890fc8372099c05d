"""Writing a real block: the testnet3 fixture block 3802509 (3 521 PoP outputs), no node needed."""

from __future__ import annotations

import time

import pytest

from indexer.bitcoin.decode import decode_block, decode_tx
from indexer.bitcoin.ingest import NotOnTip, ingest_block
from indexer.bitcoin.merkle import verify_merkle_branch
from indexer.bitcoin.models import (
    BitcoinBlock,
    BitcoinTransaction,
    KeystoneFirstPublication,
    PopPublication,
)
from indexer.hashing import display_to_internal
from indexer.models import ChainCursor

pytestmark = pytest.mark.django_db

HEIGHT = 3802509
BLOCK_HASH = "00000000055a5c34a021ab3b1f3f6f0304b403775feb9e5a235dc7f724c5833f"
# Spec §3.6 (b): first PoP tx of the block and its keystone.
FIRST_POP_TXID = "3a10ddc3774d23900b8b3c9876f3030b4736b3f857141f419750a9ade37d3bd7"
FIRST_POP_KEYSTONE = "ed65b20e1709c1fa373b603ace3f8c44a0500f4060d3f1e075431bd1d29f4e16"


def _counts() -> tuple[int, ...]:
    return (
        BitcoinBlock.objects.count(),
        BitcoinTransaction.objects.count(),
        PopPublication.objects.count(),
        KeystoneFirstPublication.objects.count(),
    )


def test_the_testnet3_block_stores_every_pop_output_and_first_publication(testnet3_block):
    started = time.monotonic()
    result = ingest_block(testnet3_block, HEIGHT, bitcoin_network="testnet3")
    elapsed = time.monotonic() - started

    assert result.status == "ingested" and result.pop_outputs == 3521
    assert PopPublication.objects.count() == 3521
    assert KeystoneFirstPublication.objects.count() == 2909
    assert elapsed < 2.0, f"ingesting the fixture block took {elapsed:.2f}s"

    block = BitcoinBlock.objects.get()
    assert block.hash_display == BLOCK_HASH and block.height == HEIGHT
    assert block.scanned_at is not None and block.tx_count == decode_block(testnet3_block).tx_count
    assert block.size == len(testnet3_block)
    cursor = ChainCursor.objects.get(chain="bitcoin")
    assert (cursor.height, bytes(cursor.block_hash)) == (HEIGHT, display_to_internal(BLOCK_HASH))

    pub = PopPublication.objects.get(transaction__txid_internal=display_to_internal(FIRST_POP_TXID))
    assert pub.keystone_id_display == FIRST_POP_KEYSTONE
    assert pub.l2_block_number == 2640600 and pub.l1_block_number == 7727075
    assert bytes(pub.miner_hemi_address).hex() == "4591b9f8db2680bb1b5346f65c1e7cf07b5c7a87"
    first = KeystoneFirstPublication.objects.get(keystone_id_internal=display_to_internal(FIRST_POP_KEYSTONE))
    assert first.height == HEIGHT and first.l2_block_number == 2640600


def test_a_stored_transaction_proves_itself_against_the_header(testnet3_block):
    ingest_block(testnet3_block, HEIGHT, bitcoin_network="testnet3")
    block = BitcoinBlock.objects.get()
    for tx in BitcoinTransaction.objects.order_by("?")[:25]:
        parsed = decode_tx(bytes(tx.raw))
        assert parsed.txid_internal == bytes(tx.txid_internal)
        assert verify_merkle_branch(
            parsed.txid_internal, tx.merkle_branch_nodes(), tx.tx_index, bytes(block.merkle_root_internal)
        )


def test_the_first_publication_is_the_lowest_tx_index_then_vout(testnet3_block):
    ingest_block(testnet3_block, HEIGHT, bitcoin_network="testnet3")
    for first in KeystoneFirstPublication.objects.select_related("publication__transaction").order_by("?")[:50]:
        pubs = PopPublication.objects.filter(keystone_id_internal=first.keystone_id_internal)
        best = min(pubs.select_related("transaction"), key=lambda p: (p.transaction.tx_index, p.vout))
        assert first.publication_id == best.id


def test_ingesting_the_same_block_twice_changes_nothing(testnet3_block):
    ingest_block(testnet3_block, HEIGHT, bitcoin_network="testnet3")
    before = _counts()
    updated = ChainCursor.objects.get().updated_at
    assert ingest_block(testnet3_block, HEIGHT, bitcoin_network="testnet3").status == "unchanged"
    assert _counts() == before
    assert ChainCursor.objects.get().updated_at == updated


def test_a_block_that_does_not_extend_the_cursor_is_refused(testnet3_block):
    ChainCursor.objects.create(chain="bitcoin", height=HEIGHT - 1, block_hash=b"\x01" * 32)
    with pytest.raises(NotOnTip):
        ingest_block(testnet3_block, HEIGHT, bitcoin_network="testnet3")
    assert _counts() == (0, 0, 0, 0)
