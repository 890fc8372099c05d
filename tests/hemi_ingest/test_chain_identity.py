"""Issue 12, item 2 (Hemi side): the follower refuses a node on another chain instead of orphaning.

Restarting the devnet gives a new anvil chain with the same chain id (anvil's genesis carries
the start time). The follower used to see "a reorg" below everything it had stored and orphan
every block, genesis included. Now the node's block at the first stored height must be the
stored one, its chain id the network's, and on an empty index its genesis the preset's: any
mismatch is ``WrongChain`` (named, permanent), an alert on ``/healthz`` and the home page,
and nothing is written.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devnet.constants import DEVNET_CHAIN_ID
from devnet.nodes import start_anvil
from indexer.core import alerts
from indexer.core.errors import WrongChain
from indexer.hemi import identity, ingest, reorg, sync
from indexer.hemi.models import Block
from indexer.hemi.rpc import HemiRpc
from indexer.models import ChainCursor

from .conftest import DevChain, publish_devnet_state

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
CONFIG = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)


def stored_state() -> tuple:
    return (
        sorted(Block.objects.values_list("number", "hash", "canonical", "orphaned_at")),
        ChainCursor.objects.filter(chain="hemi").values_list("height", "block_hash").first(),
    )


def test_a_restarted_devnet_is_refused_not_orphaned(tmp_path, client) -> None:
    with start_anvil("identity-a", root=tmp_path) as old_node:
        old = DevChain(old_node.hemi_rpc_url)
        old.mine_empty(5)
        network = old.network()
        with HemiRpc(old.url) as rpc:
            assert sync.follow_tip(rpc, network=network, config=CONFIG).current == 5
        genesis_time = int(old.rpc.block_by_number(0, full_tx=False)["timestamp"], 16)
        old.rpc.close()
    before = stored_state()
    # anvil's genesis carries its start second: a restart within the same second would give the
    # very same (deterministic) chain, which is no restart at all. A real one is later.
    time.sleep(max(0.0, genesis_time + 1.05 - time.time()))

    # The devnet restarted: a new chain, same chain id, and this time a longer one.
    with start_anvil("identity-b", root=tmp_path) as new_node:
        new = DevChain(new_node.hemi_rpc_url)
        new.mine_empty(8)
        network = new.network()
        with HemiRpc(new.url) as rpc, pytest.raises(WrongChain, match=r"block 0 is 0x[0-9a-f]{64}"):
            sync.follow_tip(rpc, network=network, config=CONFIG)
        # The reorg path refuses on its own too (a node swapped while a run was under way).
        with HemiRpc(new.url) as rpc, pytest.raises(WrongChain):
            reorg.handle_reorg(rpc, 5)
        assert stored_state() == before  # nothing orphaned, the cursor where it was
        assert not Block.objects.filter(canonical=False).exists()

        # Visible: an active alert, a /healthz warning (status 200) and the home page.
        (alert,) = alerts.active()
        assert (alert.chain, alert.code) == ("hemi", "wrong-chain")
        assert "block 0" in alert.message
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "warning"
        assert any(w["code"] == "hemi-wrong-chain" for w in health.json()["warnings"])
        assert "refuses its node" in client.get("/").content.decode()

        # hemi_sync names the refusal too.
        publish_devnet_state(chain_id=DEVNET_CHAIN_ID, hemi_rpc_url=new.url)
        try:
            with pytest.raises(CommandError, match="another chain"):
                call_command("hemi_sync", "--no-progress")
        finally:
            publish_devnet_state(hemi_rpc_url=None, chain_id=None)
        new.rpc.close()
    assert stored_state() == before


def test_a_node_with_another_chain_id_is_refused_before_anything_is_stored(tmp_path) -> None:
    with start_anvil("identity-chain-id", root=tmp_path, chain_id=31337) as node:
        other = DevChain(node.hemi_rpc_url)
        other.mine_empty(2)
        network = dataclasses.replace(other.network(), chain_id=DEVNET_CHAIN_ID)
        with HemiRpc(other.url) as rpc, pytest.raises(WrongChain, match=f"chain id 31337.*{DEVNET_CHAIN_ID}"):
            sync.follow_tip(rpc, network=network, config=CONFIG)
        other.rpc.close()
    assert not Block.objects.exists()
    assert alerts.active()[0].code == "wrong-chain"


def test_a_preset_genesis_hash_is_checked_on_an_empty_index(chain: DevChain) -> None:
    # testnet/mainnet presets carry their L2 genesis hash; this devnet's genesis is not it.
    network = chain.network(extra={"l2_genesis_hash": "0x" + "ab" * 32})
    with HemiRpc(chain.url) as rpc, pytest.raises(WrongChain, match="genesis"):
        sync.follow_tip(rpc, network=network, config=CONFIG)
    assert not Block.objects.exists()
    # With its own genesis hash the same node is accepted, and the alert clears.
    genesis = chain.rpc.block_by_number(0, full_tx=False)["hash"]
    with HemiRpc(chain.url) as rpc:
        sync.follow_tip(rpc, network=chain.network(extra={"l2_genesis_hash": genesis}), config=CONFIG)
    assert Block.objects.filter(number=0).exists()
    assert alerts.active() == []


def test_a_backfill_below_the_first_stored_block_checks_the_node_first(chain: DevChain, tmp_path) -> None:
    while chain.tip() < 12:
        chain.mine()
    with HemiRpc(chain.url) as rpc:
        sync.backfill(rpc, 8, 12, config=CONFIG, network=chain.network())
        # The same node may fill in below: its block 8 is ours.
        identity.verify(rpc, chain.network())
    with start_anvil("identity-other", root=tmp_path) as node:
        other = DevChain(node.hemi_rpc_url)
        while other.tip() < 12:  # other blocks than ours, whatever second anvil started in
            other.mine([{"from": other.accounts[1], "to": other.accounts[2], "value": 7}])
        with HemiRpc(other.url) as rpc, pytest.raises(WrongChain, match="block 8"):
            sync.backfill(rpc, 0, 5, config=CONFIG, network=other.network())
        other.rpc.close()
    assert sorted(Block.objects.values_list("number", flat=True)) == [8, 9, 10, 11, 12]
