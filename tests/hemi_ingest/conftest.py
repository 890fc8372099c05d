"""Fixtures for the Hemi indexer's I/O and writing layers: a real anvil per test module.

The Celery worker (``celery_worker_process`` in tests/conftest.py) is another process that finds
the Hemi node through ``networks.current()``, which re-reads the devnet state file named by
``DEVNET_STATE_FILE`` on every call. The root conftest sets that variable before the worker
starts, so the worker inherits it; ``publish_devnet_state``
then merges this suite's node into that file.

``DevChain`` drives anvil the way the devnet's sequencer does: every block opens with the
Ecotone L1-info call from the impersonated depositor 0xDeaD…0001 (anvil has no 0x7E deposit
type), followed by the block's transactions (anvil runs ``--order fifo``), then ``evm_mine``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from web3 import Web3

from devnet.constants import DEVNET_CHAIN_ID, L1_BLOCK_PREDEPLOY, L1_INFO_DEPOSITOR, SYSTEM_SENDER
from devnet.evm import load_artifact
from devnet.nodes import start_anvil
from hemiscope import networks
from indexer.hemi.l1info import L1BlockInfo, encode_l1_info
from indexer.hemi.rpc import HemiRpc

L1_ORIGIN_BASE = 7_000_000  # devnet L1 origin of block n is L1_ORIGIN_BASE + n
GAS = 3_000_000


def l1_info_calldata(l2_number: int) -> bytes:
    return encode_l1_info(
        L1BlockInfo(
            layout="ecotone",
            number=L1_ORIGIN_BASE + l2_number,
            timestamp=1_700_000_000 + 12 * l2_number,
            base_fee=7,
            block_hash=(L1_ORIGIN_BASE + l2_number).to_bytes(32, "big"),
            sequence_number=0,
            batcher_hash=bytes(32),
            base_fee_scalar=1,
            blob_base_fee_scalar=2,
            blob_base_fee=3,
        )
    )


class DevChain:
    """A thin driver for one anvil node (raw JSON-RPC through the indexer's own client)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.rpc = HemiRpc(url)
        self.w3 = Web3(Web3.HTTPProvider(url))
        self.accounts: list[str] = [Web3.to_checksum_address(a) for a in self.rpc.call("eth_accounts")]
        self.rpc.call("anvil_setCode", [L1_BLOCK_PREDEPLOY, load_artifact("L1Block")["deployedBytecode"]])
        for system in (L1_INFO_DEPOSITOR, SYSTEM_SENDER):
            self.rpc.call("anvil_impersonateAccount", [system])
            self.rpc.call("anvil_setBalance", [system, hex(10**21)])

    # --- blocks ---------------------------------------------------------------------------
    def tip(self) -> int:
        return self.rpc.block_number()

    def send(self, tx: dict[str, Any]) -> str:
        tx = {"gas": hex(GAS), **tx}
        for key in ("value", "gas"):
            if isinstance(tx.get(key), int):
                tx[key] = hex(tx[key])
        if isinstance(tx.get("data"), bytes):
            tx["data"] = "0x" + tx["data"].hex()
        return self.rpc.call("eth_sendTransaction", [tx])

    def mine(self, txs: Sequence[dict[str, Any]] = (), *, l1_info: bool = True, timestamp: int | None = None) -> int:
        """One block: [L1-info call] + ``txs`` in order. Returns its number."""
        number = self.tip() + 1
        if l1_info:
            self.send({"from": L1_INFO_DEPOSITOR, "to": L1_BLOCK_PREDEPLOY, "data": l1_info_calldata(number)})
        hashes = [self.send(tx) for tx in txs]
        self.rpc.call("evm_mine", [timestamp] if timestamp is not None else [])
        self.last_hashes = hashes
        return number

    def mine_empty(self, count: int) -> None:
        for _ in range(count):
            self.mine()

    def receipt(self, tx_hash: str) -> dict:
        return self.rpc.call("eth_getTransactionReceipt", [tx_hash])

    # --- contracts ------------------------------------------------------------------------
    def creation_tx(self, name: str, *args: Any, sender: str | None = None) -> dict[str, Any]:
        artifact = load_artifact(name)
        ctor = next((x for x in artifact["abi"] if x["type"] == "constructor"), {"inputs": []})
        types = [i["type"] for i in ctor["inputs"]]
        data = bytes.fromhex(artifact["bytecode"][2:]) + (abi_encode(types, list(args)) if types else b"")
        return {"from": sender or self.accounts[0], "data": data, "gas": 15_000_000}

    def deploy(self, name: str, *args: Any, sender: str | None = None) -> str:
        self.mine([self.creation_tx(name, *args, sender=sender)])
        receipt = self.receipt(self.last_hashes[0])
        assert receipt["status"] == "0x1", f"deploying {name} failed"
        return receipt["contractAddress"]

    def contract(self, name: str, address: str) -> Any:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"])

    def call_tx(
        self, contract: Any, fn: str, *args: Any, sender: str | None = None, gas: int = GAS
    ) -> dict[str, Any]:
        # web3 insists on checksummed addresses; receipts give lower-case ones.
        args = tuple(Web3.to_checksum_address(a) if isinstance(a, str) and Web3.is_address(a) else a for a in args)
        data = contract.encode_abi(fn, args=list(args))
        return {"from": sender or self.accounts[0], "to": contract.address, "data": data, "gas": gas}

    def network(self, **overrides: Any) -> networks.NetworkPreset:
        """The devnet preset pointed at this node (no env, no devnet state file)."""
        return dataclasses.replace(
            networks.PRESETS["devnet"], chain_id=DEVNET_CHAIN_ID, hemi_rpc_url=self.url, **overrides
        )


@pytest.fixture(scope="module")
def anvil_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("anvil")
    with start_anvil("hemi-ingest-test", root=root) as node:
        yield node


@pytest.fixture(scope="module")
def chain(anvil_node: Any) -> Iterator[DevChain]:
    dev = DevChain(anvil_node.hemi_rpc_url)
    yield dev
    dev.rpc.close()


@pytest.fixture
def rpc(chain: DevChain) -> Iterator[HemiRpc]:
    client = HemiRpc(chain.url)
    yield client
    client.close()


def publish_devnet_state(**keys: Any) -> None:
    """Merge (or, with None, remove) keys of the shared devnet state file the worker reads."""
    path = Path(os.environ["DEVNET_STATE_FILE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    for key, value in keys.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)  # the worker must never read a half-written file
