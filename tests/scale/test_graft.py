"""``devnet.graft``: a real node's blocks continue a stored synthetic chain (bench-ingest-scale,
bench-tip). On a small ``make_synthetic`` chain and a real anvil: without the graft the
follower refuses the node (another chain); with it, the production follower indexes the
node's new blocks on top of the stored ones, keystones included, and the synthetic chain is
left as it was. The Bitcoin side: the next block on the stored synthetic tip goes through the
Bitcoin writer, moves the cursor and publishes the keystones not published yet.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from devnet import graft, synthetic
from devnet.constants import DEVNET_CHAIN_ID
from devnet.nodes import start_anvil
from hemiscope import networks
from indexer.bitcoin.models import BitcoinBlock, KeystoneFirstPublication
from indexer.core import cursor as chain_cursor
from indexer.core.cursor import CHAIN_CHANGED
from indexer.core.errors import Refusal
from indexer.hemi import ingest, sync
from indexer.hemi.models import Block, Keystone, Transaction
from indexer.hemi.rpc import HemiRpc
from indexer.models import WorkItem

HEMI_BLOCKS = 110  # stored tip 109: the node starts at the next keystone height, 125


def _mine(rpc: HemiRpc, blocks: int) -> None:
    """``blocks`` blocks of two plain transfers each (two senders)."""
    accounts = rpc.call("eth_accounts")[:3]
    for _ in range(blocks):
        rpc.batch(
            [("eth_sendTransaction", [{"from": a, "to": accounts[2], "value": hex(10**15)}]) for a in accounts[:2]]
        )
        rpc.call("evm_mine")


@pytest.mark.django_db(transaction=True)
def test_a_node_started_above_the_synthetic_chain_is_followed_on_top_of_it(tmp_path):
    synthetic.generate(synthetic.Options(hemi_blocks=HEMI_BLOCKS, txs_per_block=2), progress=lambda _: None,
                       verdicts=False)  # fmt: skip
    synthetic_tip = Block.objects.get(number=HEMI_BLOCKS - 1, canonical=True)
    synthetic_rows = (Block.objects.count(), Transaction.objects.count())
    assert graft.stored_hemi_tip() == HEMI_BLOCKS - 1
    genesis = graft.node_genesis_number()
    assert genesis == 125  # the first keystone height above the stored tip

    with start_anvil("graft", root=tmp_path, genesis_number=genesis) as node:
        network = dataclasses.replace(
            networks.PRESETS["devnet"], chain_id=DEVNET_CHAIN_ID, hemi_rpc_url=node.hemi_rpc_url
        )
        config = ingest.IngestConfig.from_network(network)
        with HemiRpc(node.hemi_rpc_url) as rpc:
            _mine(rpc, 3)
            # Without the graft: the node has no block at the cursor's height; the follower takes it
            # for a reorg, checks the node's identity against the first stored block, and refuses.
            with pytest.raises(Refusal):
                sync.follow_tip(rpc, config=config, network=network)
            assert (Block.objects.count(), Transaction.objects.count()) == synthetic_rows

            number, block_hash = graft.graft_hemi(rpc, config=config)
            assert number == genesis + 1
            assert bytes.fromhex(rpc.call("eth_getBlockByNumber", [hex(number), False])["hash"][2:]) == block_hash
            assert chain_cursor.position("hemi") == (number, block_hash)
            assert Block.objects.get(number=number, canonical=True).hash == block_hash
            # The gap: heights between the stored tip and the graft block are not stored.
            assert not Block.objects.filter(number__gt=HEMI_BLOCKS - 1, number__lt=number).exists()
            assert graft.graft_hemi(rpc, config=config) == (number, block_hash)  # idempotent

            _mine(rpc, 30)  # past keystone 150, whose predecessor 125 is the node's genesis
            tip = int(rpc.call("eth_blockNumber"), 16)
            state = sync.follow_tip(rpc, config=config, network=network)
            assert (state.current, state.reorgs) == (tip, 0)
            assert state.blocks == tip - number
            node_tip_hash = bytes.fromhex(rpc.call("eth_getBlockByNumber", [hex(tip), False])["hash"][2:])

    assert chain_cursor.position("hemi") == (tip, node_tip_hash)
    stored = list(Block.objects.filter(number__gt=number, canonical=True).order_by("number"))
    assert [b.number for b in stored] == list(range(number + 1, tip + 1))
    assert all(bytes(child.parent_hash) == bytes(parent.hash) for parent, child in itertools.pairwise(stored))
    assert Transaction.objects.filter(block__number__gt=number).count() == 2 * (tip - number)
    # The synthetic chain is untouched: still canonical, same tip.
    assert Block.objects.get(number=HEMI_BLOCKS - 1, canonical=True).hash == synthetic_tip.hash
    assert Block.objects.filter(number__lt=HEMI_BLOCKS, canonical=True).count() == HEMI_BLOCKS
    assert WorkItem.objects.filter(kind=CHAIN_CHANGED, payload__chain="hemi", payload__height=tip).exists()

    # A node that starts at or below the stored tip cannot continue it.
    with start_anvil("low", root=tmp_path, genesis_number=tip - 1) as low, HemiRpc(low.hemi_rpc_url) as rpc:
        with pytest.raises(graft.GraftError, match="keystone height above"):
            graft.graft_hemi(rpc, config=config)


@pytest.mark.django_db(transaction=True)
def test_extend_bitcoin_writes_the_next_block_on_the_synthetic_tip():
    synthetic.generate(synthetic.Options(hemi_blocks=100, txs_per_block=1), progress=lambda _: None, verdicts=False)
    before = BitcoinBlock.objects.active().order_by("-height").first()
    published = set(KeystoneFirstPublication.objects.values_list("l2_block_number", flat=True))
    unpublished = set(Keystone.objects.values_list("number", flat=True)) - published
    assert published and unpublished  # the last window's keystones wait for the next Bitcoin block
    height, block_hash = graft.extend_bitcoin()
    assert height == before.height + 1
    row = BitcoinBlock.objects.active().get(height=height)
    assert bytes(row.hash_internal) == block_hash
    assert bytes(row.prev_hash_internal) == bytes(before.hash_internal)
    assert row.scanned_at is not None
    assert chain_cursor.position("bitcoin") == (height, block_hash)
    assert WorkItem.objects.filter(kind=CHAIN_CHANGED, payload__chain="bitcoin", payload__height=height).exists()
    # It publishes them, as a PoP miner would: the PoP scanner finds them in the stored block.
    assert (
        set(KeystoneFirstPublication.objects.filter(height=height).values_list("l2_block_number", flat=True))
        == unpublished
    )
