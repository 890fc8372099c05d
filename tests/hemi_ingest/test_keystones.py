"""Keystone rows equal an independent recomputation from the node's own blocks."""

from __future__ import annotations

import hashlib
import struct

import pytest

from indexer.hemi import ingest, sync
from indexer.hemi.models import Block, Keystone

from .conftest import DevChain

pytestmark = pytest.mark.django_db
CONFIG = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)


@pytest.fixture(scope="module")
def long_chain(chain: DevChain) -> int:
    while chain.tip() < 56:
        chain.mine()
    return chain.tip()


def expected_keystone(chain: DevChain, k: int) -> tuple[bytes, bytes]:
    """(abrev, id) rebuilt by hand from eth_getBlockByNumber, without the indexer's code."""
    block = chain.rpc.block_by_number(k)
    l1_info = bytes.fromhex(block["transactions"][0]["input"][2:])
    assert l1_info[:4] == bytes.fromhex("440a5e20")  # setL1BlockValuesEcotone
    (l1_number,) = struct.unpack(">Q", l1_info[28:36])  # packed: u32 u32 u64 u64 [u64 number]
    prev = bytes(32) if k == 25 else bytes.fromhex(chain.rpc.block_by_number(k - 25, full_tx=False)["hash"][2:])
    abrev = (
        bytes([1]) + struct.pack(">II", l1_number, k)
        + bytes.fromhex(block["parentHash"][2:])[:11] + prev[:12]
        + bytes.fromhex(block["stateRoot"][2:]) + bytes.fromhex(block["hash"][2:])[:12]
    )  # fmt: skip
    return abrev, hashlib.sha256(hashlib.sha256(abrev).digest()).digest()


def test_keystones_25_and_50_match_the_nodes_blocks(chain: DevChain, long_chain: int, rpc) -> None:
    sync.backfill(rpc, 0, long_chain, config=CONFIG, network=chain.network())
    assert list(Keystone.objects.order_by("number").values_list("number", flat=True)) == [25, 50]
    for k in (25, 50):
        row = Keystone.objects.get(number=k)
        abrev, keystone_id = expected_keystone(chain, k)
        assert bytes(row.abrev) == abrev and len(abrev) == 76
        assert bytes(row.keystone_id_internal) == keystone_id
        assert row.keystone_id_display == keystone_id[::-1].hex()
        node = chain.rpc.block_by_number(k, full_tx=False)
        assert bytes(row.ep_hash) == bytes.fromhex(node["hash"][2:]) == bytes(row.block.hash)
        assert bytes(row.parent_ep_hash) == bytes.fromhex(node["parentHash"][2:])
        assert bytes(row.state_root) == bytes.fromhex(node["stateRoot"][2:])
        assert row.l1_block_number == Block.objects.get(number=k).l1_origin_number
        assert row.canonical
    assert bytes(Keystone.objects.get(number=25).prev_ep_keystone_hash) == bytes(32)
    assert bytes(Keystone.objects.get(number=50).prev_ep_keystone_hash) == bytes(Block.objects.get(number=25).hash)


def test_a_backfill_starting_after_the_previous_keystone_fetches_its_hash(chain: DevChain, long_chain, rpc) -> None:
    sync.backfill(rpc, 30, long_chain, config=CONFIG, network=chain.network())
    assert not Block.objects.filter(number=25).exists()
    row = Keystone.objects.get(number=50)
    abrev, keystone_id = expected_keystone(chain, 50)
    assert (bytes(row.abrev), bytes(row.keystone_id_internal)) == (abrev, keystone_id)


def test_a_keystone_without_its_previous_keystone_hash_is_a_named_error(chain: DevChain, long_chain: int) -> None:
    block = chain.rpc.block_by_number(50)
    receipts = chain.rpc.block_receipts([50])[0]
    with pytest.raises(ingest.MissingPrevKeystone):
        ingest.ingest_block(block, receipts, config=CONFIG)
    assert not Block.objects.exists()
