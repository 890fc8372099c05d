"""Fixtures for the Bitcoin indexer's I/O and writing layers: real chain bytes, a real bcoin
regtest node (started through devnet.nodes), and a way for the real Celery worker to find it.

The worker (``celery_worker_process`` in tests/conftest.py) is a separate process that reads
the network through ``hemiscope.networks.current()`` at call time, and for the devnet that
includes the file named by ``DEVNET_STATE_FILE``. The root conftest sets it before the worker starts, so
the worker inherits it; the bcoin fixture then writes its RPC URL there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devnet.btc import BitcoinRpc, CoinbaseWallet, mine
from devnet.btckeys import DevKey
from devnet.btctx import TxOutput, op_return_script
from devnet.nodes import BcoinNode, start_bcoin
from indexer.bitcoin.rpc import RpcSource
from indexer.core.retry import RetryPolicy
from indexer.keystone import KeystoneAbrev

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bitcoin"
TESTNET3_BLOCK = FIXTURES / "testnet3-3802509.bin"
# Heights 1..32260 despite the name: a little-endian uint32 count, then 80-byte headers.
MAINNET_HEADERS = FIXTURES / "mainnet-headers-0-32259.bin"
MAINNET_GENESIS_HEADER = bytes.fromhex(
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e"
    "67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
)
MINER = DevKey.from_label("bitcoin-ingest-miner")
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)



def _publish_bitcoin_rpc_url(url: str | None) -> None:
    """Merge our node's URL into the devnet state file (other suites may keep keys there)."""
    path = Path(os.environ["DEVNET_STATE_FILE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    if url is None:
        data.pop("bitcoin_rpc_url", None)
    else:
        data["bitcoin_rpc_url"] = url
    path.write_text(json.dumps(data))


@pytest.fixture(scope="session")
def miner() -> DevKey:
    return MINER


@pytest.fixture(scope="session")
def fast_retry() -> RetryPolicy:
    return FAST_RETRY


@pytest.fixture(scope="session")
def testnet3_block() -> bytes:
    return TESTNET3_BLOCK.read_bytes()


@pytest.fixture(scope="session")
def mainnet_headers() -> list[bytes]:
    data = MAINNET_HEADERS.read_bytes()
    count = int.from_bytes(data[:4], "little")
    return [MAINNET_GENESIS_HEADER] + [data[4 + 80 * i : 84 + 80 * i] for i in range(count)]


@pytest.fixture(scope="session")
def node_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # node data and logs go to a temp dir, never the developer's var/devnet
    return tmp_path_factory.mktemp("btc-ingest-nodes")


@pytest.fixture(scope="session")
def bcoin(node_root: Path) -> Iterator[BcoinNode]:
    """One bcoin for the session (tests that reorg use ``fresh_bcoin``)."""
    with start_bcoin("bitcoin", root=node_root, memory=True, fresh=True) as node:
        yield node


@pytest.fixture
def published_bcoin(bcoin: BcoinNode) -> Iterator[BcoinNode]:
    """The session node, named in the devnet state file for this test (management commands and
    the Celery worker resolve the network from it); removed again afterwards."""
    _publish_bitcoin_rpc_url(bcoin.bitcoin_rpc_url)
    try:
        yield bcoin
    finally:
        _publish_bitcoin_rpc_url(None)


@pytest.fixture(scope="session")
def btc_rpc(bcoin: BcoinNode) -> Iterator[BitcoinRpc]:
    rpc = bcoin.rpc()
    yield rpc
    rpc.close()


@pytest.fixture(scope="session")
def wallet(btc_rpc: BitcoinRpc) -> CoinbaseWallet:
    """110 blocks to the miner key: ten mature 50 BTC coinbases to fund PoP txs and deposits."""
    mine(btc_rpc, 110, MINER.p2pkh_address)
    return CoinbaseWallet(btc_rpc, MINER)


@pytest.fixture
def source(bcoin: BcoinNode) -> Iterator[RpcSource]:
    src = RpcSource(bcoin.bitcoin_rpc_url, retry=FAST_RETRY)
    yield src
    src.close()


@pytest.fixture
def fresh_bcoin(node_root: Path, request: pytest.FixtureRequest) -> Iterator[BcoinNode]:
    """A short-lived node for tests that rewrite history, so the shared chain never reorgs."""
    with start_bcoin(f"bitcoin-{request.node.name[:40]}", root=node_root, memory=True, fresh=True) as node:
        yield node


def make_keystone(n: int) -> KeystoneAbrev:
    """A distinct, well-formed keystone abbreviation for keystone number ``n`` (L2 = 25 n)."""
    seed = n.to_bytes(4, "big")
    return KeystoneAbrev(
        l1_block_number=1000 + n,
        l2_block_number=25 * n,
        parent_ep_hash_prefix=(seed * 3)[:11],
        prev_keystone_ep_hash_prefix=(b"p" + seed * 3)[:12],
        state_root=(b"s" + seed * 8)[:32],
        ep_hash_prefix=(b"e" + seed * 3)[:12],
    )


def pop_output(keystone: KeystoneAbrev) -> TxOutput:
    """The 0-value OP_RETURN popmd writes: OP_PUSHDATA1 80 "HEMI" || abbreviation (spec 3.1)."""
    return TxOutput(op_return_script(b"HEMI" + keystone.to_bytes()), 0)


@pytest.fixture(scope="session")
def keystones():
    return make_keystone


@pytest.fixture(scope="session")
def pop_out():
    return pop_output
