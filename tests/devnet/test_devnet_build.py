"""The devnet build: pinned npm packages, compiled artifacts, and ABI identity with Hemi."""

from __future__ import annotations

import subprocess
import time

import pytest
from eth_utils import keccak

from devnet.build import BUILD_DIR, NODE_MODULES, compile_contracts, ensure_built, ensure_node_modules
from devnet.evm import load_artifact
from devnet.nodes import anvil_binary

pytestmark = pytest.mark.integration

# hemi-protocol.md 6.1 (topic0 = keccak256 of the event signature)
SPEC_TOPICS = {
    "DepositConfirmed": "0x072ddac1530d27f4989ecfc488d7ea4cb925a388349c9a3fed5e54718b29e35d",
    "WithdrawalInitiated": "0x250f03806508f9538415b8528c0b4d697b347a33292f38f84f60f17c8a015b4e",
    "WithdrawalChallengeSuccess": "0x8db03ab7b83cd05a81139c42ee7134ce98301121e28398d0c8b076dc2b14ebd4",
    "VaultCreated": "0x897c133dfbfe1f6239e98b4ffd7e4f6c86a62350a131a7a37790419f58af02f9",
}
# hemi-protocol.md 5.2, 6.1, 8.1 and the OP-stack Ecotone L1-info selector
SPEC_SELECTORS = {
    ("BitcoinTunnelManager", "confirmDeposit"): "91fb6a99",
    ("BitcoinTunnelManager", "initiateWithdrawal"): "6fff6d2e",
    ("BitcoinTunnelManager", "challengeWithdrawal"): "db0f2f53",
    ("HvmState", "updateHvmState"): "c94f1cca",
    ("L1Block", "setL1BlockValuesEcotone"): "440a5e20",
}


def _signature(item: dict) -> str:
    return f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"


def test_second_build_does_nothing_and_is_quick() -> None:
    ensure_built()
    started = time.monotonic()
    assert ensure_node_modules() is False
    assert compile_contracts() is False
    assert time.monotonic() - started < 1.0
    assert (BUILD_DIR / "BitcoinTunnelManager.json").exists()


def test_tunnel_event_topics_equal_the_hemi_spec() -> None:
    abi = load_artifact("BitcoinTunnelManager")["abi"]
    events = {item["name"]: item for item in abi if item["type"] == "event"}
    for name, topic in SPEC_TOPICS.items():
        assert "0x" + keccak(text=_signature(events[name])).hex() == topic, name


def test_function_selectors_equal_the_hemi_spec() -> None:
    for (contract, function), selector in SPEC_SELECTORS.items():
        abi = load_artifact(contract)["abi"]
        item = next(i for i in abi if i.get("name") == function and i["type"] == "function")
        assert keccak(text=_signature(item))[:4].hex() == selector, function


def test_hemibtc_metadata_and_manager_views_exist() -> None:
    manager_views = {
        i["name"] for i in load_artifact("BitcoinTunnelManager")["abi"] if i["type"] == "function"
    }
    assert {
        "vaults",
        "vaultCounter",
        "btcTokenContract",
        "createVault",
        "operatorMintUnchecked",
    } <= manager_views
    state_views = {
        i["name"] for i in load_artifact("SimpleBitcoinVaultState")["abi"] if i["type"] == "function"
    }
    assert {
        "acknowledgedDeposits",
        "acknowledgedDepositOutputIndexes",
        "isWithdrawalFulfilled",
        "isWithdrawalAlreadyChallenged",
    } <= state_views


def test_anvil_binary_comes_from_the_pinned_npm_package() -> None:
    binary = anvil_binary()
    assert binary.is_relative_to(NODE_MODULES / "@foundry-rs")
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    assert "1.7.1" in out
