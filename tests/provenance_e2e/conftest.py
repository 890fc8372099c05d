"""A fresh stepped devnet for the end-to-end provenance tests, published where the indexers
(in this process and in the real Celery worker) look for the devnet: ``DEVNET_STATE_FILE``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3

from devnet.bootstrap import bootstrap, make_actors
from devnet.build import ensure_built
from devnet.config import DevnetPaths, PopPolicy
from devnet.constants import DEVNET_CHAIN_ID
from devnet.handle import Network, SteppedDriver
from devnet.nodes import start_anvil, start_bcoin


@dataclass
class Devnet:
    net: Network
    hemi_rpc_url: str
    bitcoin_rpc_url: str


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    ensure_built()
    root = tmp_path_factory.mktemp("provenance-e2e")
    with (
        start_bcoin("bitcoin", data_dir=root / "bitcoin", memory=True, fresh=True) as bcoin,
        start_anvil("hemi", data_dir=root / "hemi", fresh=True, order="fees") as anvil,
    ):
        from devnet.actors.sequencer import Sequencer

        w3 = Web3(Web3.HTTPProvider(anvil.hemi_rpc_url))
        btc = bcoin.rpc()
        sequencer = Sequencer(w3, btc)
        deployment = bootstrap(w3, btc, sequencer)
        actors = make_actors(
            w3, btc, sequencer, deployment, pop_policy=PopPolicy(seed=5, duplicate_rate=0.0, delay_rate=0.0)
        )
        net = Network(
            w3=w3,
            btc=btc,
            contracts=deployment.contracts,
            driver=SteppedDriver(actors),
            paths=DevnetPaths(var_dir=root, state_file=root / "devnet-network.json"),
        )
        # The indexers find the devnet through this file (HEMI_NETWORK=devnet is the default).
        Path(os.environ["DEVNET_STATE_FILE"]).write_text(
            json.dumps(
                {
                    "chain_id": DEVNET_CHAIN_ID,
                    "hemi_rpc_url": anvil.hemi_rpc_url,
                    "bitcoin_rpc_url": bcoin.bitcoin_rpc_url,
                    "contracts": deployment.contracts,
                }
            )
        )
        yield Devnet(net, anvil.hemi_rpc_url, bcoin.bitcoin_rpc_url)
        btc.close()
