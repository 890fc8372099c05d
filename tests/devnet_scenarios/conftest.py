"""One stepped devnet for the scenario tests: real bcoin + anvil, the real bootstrap and
actors, but the test owns the actors and steps them (no wall-clock cadence).

Checks read the nodes directly (raw RPC, eth_abi, struct) rather than through the devnet's
own helpers, so a bug in those helpers cannot hide itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devnet.config import PopPolicy
from devnet.stepped import stepped_network
from tests.devnet_scenarios.chain import Stepped


@pytest.fixture(scope="session")
def stepped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stepped]:
    # no random duplicates/delays: tests that want them set their own plan
    policy = PopPolicy(seed=11, duplicate_rate=0.0, delay_rate=0.0)
    with stepped_network(tmp_path_factory.mktemp("devnet-scenarios"), pop_policy=policy) as s:
        yield Stepped(s.net, s.actors, s.driver, s.deployment, s.w3, s.btc, s.root)
