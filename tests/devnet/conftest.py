"""Real devnet nodes for the devnet tests: one bcoin and one anvil per session, started through
devnet.nodes exactly as the management command will, and stopped at the end.

Tests that rewrite Bitcoin history (reorgs) use their own short-lived bcoin (``fresh_bcoin``)
so the shared chain the tunnel tests build on is never reorganised under them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from devnet.btc import BitcoinRpc, CoinbaseWallet, mine
from devnet.btckeys import DevKey
from devnet.build import ensure_built
from devnet.constants import SYSTEM_SENDER, UPDATE_HVM_STATE_SELECTOR
from devnet.evm import contract_at, deploy, deploy_all, impersonate, send_calldata
from devnet.nodes import AnvilNode, BcoinNode, start_anvil, start_bcoin
from indexer.hashing import display_to_internal

MINER_KEY = DevKey.from_label("tests-devnet-miner")
RELAY_CHUNK = 40  # headers per updateHvmState call, well inside anvil's block gas limit


@pytest.fixture(scope="session")
def devnet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # node data and logs land in <tmp>/var/devnet/<name>/, never in the developer's var/
    ensure_built()
    return tmp_path_factory.mktemp("devnet-root")


@pytest.fixture(scope="session")
def bcoin_node(devnet_root: Path) -> Iterator[BcoinNode]:
    with start_bcoin("bitcoin", root=devnet_root, memory=True, fresh=True) as node:
        yield node


@pytest.fixture(scope="session")
def anvil_node(devnet_root: Path) -> Iterator[AnvilNode]:
    with start_anvil("hemi", root=devnet_root, fresh=True) as node:
        yield node


@pytest.fixture(scope="session")
def btc_rpc(bcoin_node: BcoinNode) -> Iterator[BitcoinRpc]:
    rpc = bcoin_node.rpc()
    yield rpc
    rpc.close()


@pytest.fixture
def fresh_bcoin(devnet_root: Path, request: pytest.FixtureRequest) -> Iterator[BcoinNode]:
    with start_bcoin(f"bitcoin-{request.node.name[:40]}", root=devnet_root, memory=True, fresh=True) as node:
        yield node


@pytest.fixture(scope="session")
def w3(anvil_node: AnvilNode) -> Web3:
    web3 = Web3(Web3.HTTPProvider(anvil_node.hemi_rpc_url))
    impersonate(web3, SYSTEM_SENDER)
    return web3


@pytest.fixture(scope="session")
def miner_wallet(btc_rpc: BitcoinRpc) -> CoinbaseWallet:
    """Mature coinbases for the test miner key: 110 blocks leave 11 spendable 50 BTC outputs."""
    mine(btc_rpc, 110, MINER_KEY.p2pkh_address)
    return CoinbaseWallet(btc_rpc, MINER_KEY)


@pytest.fixture(scope="session")
def deployment(w3: Web3, btc_rpc: BitcoinRpc) -> dict[str, str]:
    return deploy_all(w3, bitcoin_rpc=btc_rpc)


def relay_headers(w3: Web3, hvm: Contract, rpc: BitcoinRpc) -> list[TxReceipt]:
    """Bring HvmState to bcoin's active tip: send the headers it lacks (walking back from the
    tip to the first header it knows) and name the tip canonical. The calldata is built
    inline with eth_abi on purpose: the indexer's own encoder is tested elsewhere."""
    missing: list[str] = []
    height = rpc.getblockcount()
    while True:
        hash_display = rpc.getblockhash(height)
        if hvm.functions.headerOf(display_to_internal(hash_display)).call()[2]:
            break
        missing.append(hash_display)
        height -= 1
    missing.reverse()
    tip_display = rpc.getbestblockhash()
    chunks = [missing[i : i + RELAY_CHUNK] for i in range(0, len(missing), RELAY_CHUNK)] or [[]]
    receipts = []
    for chunk in chunks:
        # each call's tip must already be known when the call ends: the chunk's last header
        chunk_tip = chunk[-1] if chunk else tip_display
        headers = [rpc.getblockheader_raw(h) for h in chunk]
        calldata = UPDATE_HVM_STATE_SELECTOR + abi_encode(
            ["bytes32", "bytes[]"], [display_to_internal(chunk_tip), headers]
        )
        receipts.append(send_calldata(w3, SYSTEM_SENDER, hvm.address, calldata, gas=15_000_000))
    return receipts


@pytest.fixture(scope="session")
def relay(w3: Web3, deployment: dict[str, str], btc_rpc: BitcoinRpc) -> Callable[[], list[TxReceipt]]:
    hvm = contract_at(w3, "HvmState", deployment["HvmState"])
    return lambda: relay_headers(w3, hvm, btc_rpc)


@pytest.fixture
def own_hvm_state(w3: Web3) -> Callable[[BitcoinRpc], Contract]:
    """A fresh HvmState starting at the given node's genesis (regtest genesis is the same
    block on every node, so it also fits a ``fresh_bcoin``)."""

    def make(rpc: BitcoinRpc) -> Contract:
        genesis = rpc.getblockheader_raw(rpc.getblockhash(0))
        address = deploy(w3, "HvmState", genesis, 0, sender=w3.eth.accounts[0])
        return contract_at(w3, "HvmState", address)

    return make


@pytest.fixture(scope="session")
def relay_to(w3: Web3) -> Callable[[Contract, BitcoinRpc], list[TxReceipt]]:
    """relay_headers for any HvmState/bcoin pair (tests with their own node and contract)."""
    return lambda hvm, rpc: relay_headers(w3, hvm, rpc)
