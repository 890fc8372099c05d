"""A devnet whose actors the caller steps: fresh bcoin + anvil, the real bootstrap and actors,
no supervisor and no wall-clock cadence. Tests use it to run scenarios in a fraction of the time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from devnet.actors import Actors
from devnet.actors.sequencer import Sequencer
from devnet.bootstrap import Deployment, bootstrap, make_actors
from devnet.btc import BitcoinRpc
from devnet.build import ensure_built
from devnet.config import DevnetPaths, PopPolicy
from devnet.handle import Network, SteppedDriver
from devnet.nodes import start_anvil, start_bcoin


@dataclass
class SteppedNetwork:
    net: Network
    actors: Actors
    driver: SteppedDriver
    deployment: Deployment
    w3: Web3
    btc: BitcoinRpc
    root: Path
    hemi_rpc_url: str
    bitcoin_rpc_url: str


@contextmanager
def stepped_network(root: Path, *, pop_policy: PopPolicy) -> Iterator[SteppedNetwork]:
    """Start the nodes under ``root``, bootstrap the network and yield it; stop the nodes after."""
    ensure_built()
    with (
        start_bcoin("bitcoin", data_dir=root / "bitcoin", memory=True, fresh=True) as bcoin,
        # --order fees keeps the sequencer's system transactions first in every block.
        start_anvil("hemi", data_dir=root / "hemi", fresh=True, order="fees") as anvil,
    ):
        w3 = Web3(Web3.HTTPProvider(anvil.hemi_rpc_url))
        btc = bcoin.rpc()
        try:
            sequencer = Sequencer(w3, btc)
            deployment = bootstrap(w3, btc, sequencer)
            actors = make_actors(w3, btc, sequencer, deployment, pop_policy=pop_policy)
            driver = SteppedDriver(actors)
            net = Network(
                w3=w3,
                btc=btc,
                contracts=deployment.contracts,
                driver=driver,
                paths=DevnetPaths(var_dir=root, state_file=root / "network.json"),
            )
            yield SteppedNetwork(
                net, actors, driver, deployment, w3, btc, root, anvil.hemi_rpc_url, bcoin.bitcoin_rpc_url
            )
        finally:
            btc.close()
