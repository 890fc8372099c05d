"""The worker's node-tip reading (what /healthz and /metrics compute lag from) against the real
bcoin node; a node that stops answering leaves the previous reading, never an exception."""

from __future__ import annotations

import json
import os
from pathlib import Path

from devnet.btc import mine
from hemiscope import telemetry

KEY = telemetry.NODE_TIP_KEY.format(chain="bitcoin")


def test_the_bitcoin_node_tip_is_recorded_and_survives_an_outage(published_bcoin, btc_rpc, miner):
    telemetry._redis().delete(KEY)
    mine(btc_rpc, 2, miner.p2pkh_address)
    telemetry.record_node_tips()
    reading = telemetry.node_tip("bitcoin")
    assert reading is not None and reading.height == btc_rpc.getblockcount() and reading.age_seconds < 30

    # The node moves to an address where nothing answers (published_bcoin removes it after).
    state = Path(os.environ["DEVNET_STATE_FILE"])
    state.write_text(json.dumps({**json.loads(state.read_text()), "bitcoin_rpc_url": "http://127.0.0.1:9/"}))
    telemetry.record_node_tips()
    assert telemetry.node_tip("bitcoin").height == reading.height
