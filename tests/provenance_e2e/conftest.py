"""A fresh stepped devnet for the end-to-end provenance tests, published where the indexers
(in this process and in the real Celery worker) look for the devnet: ``DEVNET_STATE_FILE``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devnet.config import PopPolicy
from devnet.constants import DEVNET_CHAIN_ID
from devnet.scenarios import treasury_lock
from devnet.stepped import SteppedNetwork, stepped_network
from tests.faults.conftest import start_worker  # noqa: F401 - the fault suite's killable workers


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SteppedNetwork]:
    policy = PopPolicy(seed=5, duplicate_rate=0.0, delay_rate=0.0)
    with stepped_network(tmp_path_factory.mktemp("provenance-e2e"), pop_policy=policy) as s:
        # The indexers find the devnet through this file (HEMI_NETWORK=devnet is the default).
        state = {
            "chain_id": DEVNET_CHAIN_ID,
            "hemi_rpc_url": s.hemi_rpc_url,
            "bitcoin_rpc_url": s.bitcoin_rpc_url,
            "contracts": s.deployment.contracts,
        }
        Path(os.environ["DEVNET_STATE_FILE"]).write_text(json.dumps(state))
        yield s


@pytest.fixture
def story(devnet, celery_worker_process, django_db_blocker):
    """A treasury lock on the devnet, indexed from both chains by the real Celery worker (for
    tests that need a transactional database: the browser and the API fuzzing run)."""
    from tests.provenance_e2e.test_provenance_devnet import index_both_chains, mint_row

    with django_db_blocker.unblock():
        summary = treasury_lock.run(devnet.net)
        index_both_chains(devnet)
        mint = mint_row(summary["mint_tx_hash"])
        assert mint is not None
        return {
            "mint_tx": summary["mint_tx_hash"].lower(),
            "mint_block": mint.block.number,
            "recipient": "0x" + bytes(mint.recipient).hex(),
            "hemibtc": devnet.net.contracts["BTCToken"].lower(),
            "keystone": summary["keystone_number"],
            "keystone_id": summary["keystone_id"],  # of the anchoring keystone
            "anchoring_keystone": summary["anchoring_keystone_number"],
            "deposit_txid": summary["deposit_txid"],
            "deposit_height": summary["deposit_height"],
            "deposit_block": summary["deposit_block_hash"],
            "pop_txid": summary["pop_txid"],
            "pop_block": summary["pop_block_hash"],
        }
