"""One stepped devnet for the scenario tests: real bcoin + anvil, the real bootstrap and
actors, but the test owns the actors and steps them (no wall-clock cadence).

Checks read the nodes directly (raw RPC, eth_abi, struct) rather than through the devnet's
own helpers, so a bug in those helpers cannot hide itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from devnet.actors.sequencer import Sequencer
from devnet.bootstrap import bootstrap, make_actors
from devnet.build import ensure_built
from devnet.config import DevnetPaths, PopPolicy
from devnet.handle import Network, SteppedDriver
from devnet.nodes import start_anvil, start_bcoin
from tests.devnet_scenarios.chain import Stepped


@pytest.fixture(scope="session")
def stepped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stepped]:
    ensure_built()
    root = tmp_path_factory.mktemp("devnet-scenarios")
    with (
        start_bcoin("bitcoin", data_dir=root / "bitcoin", memory=True, fresh=True) as bcoin,
        start_anvil("hemi", data_dir=root / "hemi", fresh=True, order="fees") as anvil,
    ):
        w3 = Web3(Web3.HTTPProvider(anvil.hemi_rpc_url))
        btc = bcoin.rpc()
        sequencer = Sequencer(w3, btc)
        deployment = bootstrap(w3, btc, sequencer)
        # no random duplicates/delays: tests that want them set their own plan
        policy = PopPolicy(seed=11, duplicate_rate=0.0, delay_rate=0.0)
        actors = make_actors(w3, btc, sequencer, deployment, pop_policy=policy)
        driver = SteppedDriver(actors)
        net = Network(
            w3=w3,
            btc=btc,
            contracts=deployment.contracts,
            driver=driver,
            paths=DevnetPaths(var_dir=root, state_file=root / "network.json"),
        )
        yield Stepped(net, actors, driver, deployment, w3, btc, root)
        btc.close()
