"""Network presets (Hemi mainnet, Hemi Sepolia testnet, local devnet) and their resolution.

A preset holds everything an indexer needs to know about one Hemi network and the Bitcoin
network it anchors to. Each value can be overridden by its own environment variable; for the
devnet, the values come from the file that ``manage.py devnet up`` writes, read at call time
so that workers started before the devnet still find it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from hemiscope import env

NETWORK_NAMES = ("devnet", "testnet", "mainnet")
BITCOIN_NETWORKS = ("mainnet", "testnet3", "testnet4", "regtest")


@dataclass(frozen=True)
class NetworkPreset:
    name: str
    chain_id: int | None
    hemi_rpc_url: str | None
    op_node_url: str | None
    bitcoin_network: str
    bitcoin_rpc_url: str | None
    bitcoin_esplora_url: str | None
    tunnel_manager_address: str | None
    hemibtc_address: str | None
    # First Hemi block worth indexing for the tunnel (the manager's deployment block).
    tunnel_start_block: int
    # First Bitcoin height to index: where Hemi's keystone indexing starts on that network.
    bitcoin_start_height: int
    keystone_period: int = 25
    # Client-side limit for the public RPC (documented at about 300 requests per minute).
    hemi_rpc_requests_per_minute: int = 300
    # HEMI_VERIFY_STRICT: a block we cannot re-hash stops the indexer (True) or is stored
    # flagged while indexing goes on (False). On a real chain one encoding we get wrong must
    # not stop the explorer; on the devnet, where we produce every block, it is a bug to see.
    verify_strict: bool = False
    # Target block spacing of each chain: how often the indexed data can change at most, so
    # live pages never poll faster than this (explorer/views/live.py).
    hemi_block_seconds: float = 12.0
    bitcoin_block_seconds: float = 600.0
    extra: dict = field(default_factory=dict)


PRESETS: dict[str, NetworkPreset] = {
    # Values from the protocol notes (network facts and contract address tables).
    "mainnet": NetworkPreset(
        name="mainnet",
        chain_id=43111,
        hemi_rpc_url="https://rpc.hemi.network/rpc",
        op_node_url="https://rpc.hemi.network/noderpc",
        bitcoin_network="mainnet",
        bitcoin_rpc_url=None,
        bitcoin_esplora_url="https://mempool.space/api",
        tunnel_manager_address="0xeaca824f46c000fb89403846bb57e6b913321081",
        hemibtc_address="0xaa40c0c7644e0b2b224509571e10ad20d9c4ef28",
        tunnel_start_block=1125154,
        bitcoin_start_height=859303,
        extra={
            "l2_genesis_hash": "0x6b070d8b8f3bf81c9314ff863748e3db2662ecc0a8dbd4c394a8b646ae0c8b8b",
            "hvm0_activation_time": 1739286001,
            "hvm_bitcoin_genesis_height": 883092,
        },
    ),
    "testnet": NetworkPreset(
        name="testnet",
        chain_id=743111,
        hemi_rpc_url="https://testnet.rpc.hemi.network/rpc",
        op_node_url="https://testnet.rpc.hemi.network/noderpc",
        bitcoin_network="testnet3",
        bitcoin_rpc_url=None,
        bitcoin_esplora_url="https://mempool.space/testnet/api",
        tunnel_manager_address="0x8221cfd3eca3c5f9fa27b2ae774151642f1c449e",
        hemibtc_address="0x36ab5dba83d5d470f670bc4c06d7da685d9afae7",
        tunnel_start_block=2165818,
        bitcoin_start_height=2577400,
        extra={
            "l2_genesis_hash": "0xc7eef424ae7c339cd0896344c80e136b81246ec5fe7d91a668a09b4c17543194",
            "hvm0_activation_time": 1733930401,
            "hvm_bitcoin_genesis_height": 3522419,
        },
    ),
    # The devnet's URLs and addresses are only known once `manage.py devnet up` has run.
    "devnet": NetworkPreset(
        name="devnet",
        chain_id=None,
        hemi_rpc_url=None,
        op_node_url=None,
        bitcoin_network="regtest",
        bitcoin_rpc_url=None,
        bitcoin_esplora_url=None,
        tunnel_manager_address=None,
        hemibtc_address=None,
        tunnel_start_block=0,
        bitcoin_start_height=0,
        hemi_rpc_requests_per_minute=0,  # 0 = unlimited: it is our own local node
        verify_strict=True,
        # The devnet's cadences (DEVNET_BLOCK_SECONDS, DEVNET_BTC_BLOCK_SECONDS); its file says.
        hemi_block_seconds=2.0,
        bitcoin_block_seconds=3.0,
    ),
}


def devnet_file(base_dir: Path) -> Path:
    return Path(os.environ.get("DEVNET_STATE_FILE") or base_dir / "var" / "devnet" / "network.json")


def _from_devnet_file(preset: NetworkPreset, path: Path) -> NetworkPreset:
    if not path.exists():
        return preset
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"devnet state file {path} is unreadable: {exc}") from exc
    contracts = data.get("contracts", {})
    return replace(
        preset,
        chain_id=data.get("chain_id", preset.chain_id),
        hemi_rpc_url=data.get("hemi_rpc_url", preset.hemi_rpc_url),
        bitcoin_rpc_url=data.get("bitcoin_rpc_url", preset.bitcoin_rpc_url),
        tunnel_manager_address=(contracts.get("BitcoinTunnelManager") or "").lower() or None,
        hemibtc_address=(contracts.get("BTCToken") or "").lower() or None,
        hemi_block_seconds=float(data.get("block_seconds", preset.hemi_block_seconds)),
        bitcoin_block_seconds=float(data.get("btc_block_seconds", preset.bitcoin_block_seconds)),
        extra={**preset.extra, "devnet": data},
    )


def resolve(name: str, base_dir: Path) -> NetworkPreset:
    """The effective network: preset, then the devnet file, then per-value env overrides."""
    if name not in PRESETS:
        raise ImproperlyConfigured(f"HEMI_NETWORK must be one of {', '.join(NETWORK_NAMES)}, got {name!r}")
    preset = PRESETS[name]
    if name == "devnet":
        preset = _from_devnet_file(preset, devnet_file(base_dir))
    http = ("http", "https")
    return replace(
        preset,
        chain_id=env.env_int("HEMI_CHAIN_ID", preset.chain_id, minimum=1),
        hemi_rpc_url=env.env_url("HEMI_RPC_URL", preset.hemi_rpc_url, schemes=http),
        op_node_url=env.env_url("HEMI_OP_NODE_URL", preset.op_node_url, schemes=http),
        bitcoin_network=env.env_choice("BITCOIN_NETWORK", BITCOIN_NETWORKS, preset.bitcoin_network),
        bitcoin_rpc_url=env.env_url("BITCOIN_RPC_URL", preset.bitcoin_rpc_url, schemes=http),
        bitcoin_esplora_url=env.env_url("BITCOIN_ESPLORA_URL", preset.bitcoin_esplora_url, schemes=http),
        tunnel_manager_address=env.env_address("TUNNEL_MANAGER_ADDRESS", preset.tunnel_manager_address),
        hemibtc_address=env.env_address("HEMIBTC_ADDRESS", preset.hemibtc_address),
        tunnel_start_block=env.env_int("HEMI_START_BLOCK", preset.tunnel_start_block, minimum=0),
        bitcoin_start_height=env.env_int("BITCOIN_START_HEIGHT", preset.bitcoin_start_height, minimum=0),
        keystone_period=env.env_int("KEYSTONE_PERIOD", preset.keystone_period, minimum=1),
        hemi_rpc_requests_per_minute=env.env_int(
            "HEMI_RPC_REQUESTS_PER_MINUTE", preset.hemi_rpc_requests_per_minute, minimum=0
        ),
        verify_strict=env.env_bool("HEMI_VERIFY_STRICT", preset.verify_strict),
    )


def current() -> NetworkPreset:
    """The network this process talks to (re-read each call: the devnet file may appear later)."""
    from django.conf import settings

    return resolve(settings.HEMI_NETWORK, Path(settings.BASE_DIR))
