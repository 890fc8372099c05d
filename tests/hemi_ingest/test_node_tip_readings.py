"""The worker's Hemi node-tip reading against the real anvil node."""

from __future__ import annotations

from devnet.constants import DEVNET_CHAIN_ID
from hemiscope import telemetry
from indexer.hemi.rpc import HemiRpc

from .conftest import publish_devnet_state


def test_the_hemi_node_tip_is_recorded(chain):
    telemetry._redis().delete(telemetry.NODE_TIP_KEY.format(chain="hemi"))
    chain.mine_empty(3)
    publish_devnet_state(hemi_rpc_url=chain.url, chain_id=DEVNET_CHAIN_ID)
    try:
        telemetry.record_node_tips()
    finally:
        publish_devnet_state(hemi_rpc_url=None, chain_id=None)
    reading = telemetry.node_tip("hemi")
    with HemiRpc(chain.url) as rpc:
        assert reading is not None and reading.height == rpc.block_number() >= 3
