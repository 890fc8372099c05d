"""web3 helpers for the devnet's Hemi stand-in (anvil): artifacts, deployment, impersonation.

anvil runs with ``--no-mining``: a sent transaction waits in the pool until :func:`mine_block`
(``evm_mine``) produces a block, which is how scenarios decide what lands in which block.
:func:`transact` is the "send one transaction and mine it" shortcut.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from eth_abi import encode as abi_encode
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from devnet.btc import BitcoinRpc, TxInclusion
from devnet.btckeys import DevKey
from devnet.build import BUILD_DIR, ensure_built
from devnet.constants import (
    DEFAULT_DEPOSIT_FEE_BPS,
    DEFAULT_WITHDRAWAL_FEE_BPS,
    DEVNET_WITHDRAWAL_GRACE_PERIOD_SECONDS,
    L1_BLOCK_PREDEPLOY,
)

DEFAULT_GAS = 5_000_000
# The devnet vault's Bitcoin custody key: deterministic so the operator actor can sign payouts.
DEFAULT_CUSTODY_KEY = DevKey.from_label("vault-0-custody")
DEVNET_USD_SUPPLY = 1_000_000 * 10**6
PLAIN_TOKEN_SUPPLY = 1_000_000 * 10**18
# How a helper gets its transactions into a block: mine_block by default; the running network
# passes its sequencer, so deployment blocks open with the L1-info call like every other block.
Miner = Callable[[Web3], int]


class DevnetTxFailed(RuntimeError):
    """A mined transaction has status 0."""

    def __init__(self, receipt: TxReceipt) -> None:
        super().__init__(
            f"transaction {receipt['transactionHash'].hex()} reverted (block {receipt['blockNumber']})"
        )
        self.receipt = receipt


@cache
def _artifact_cached(name: str, mtime_ns: int) -> dict[str, Any]:
    return dict(json.loads((BUILD_DIR / f"{name}.json").read_text()))


def load_artifact(name: str) -> dict[str, Any]:
    """``{"abi": [...], "bytecode": "0x..", "deployedBytecode": "0x.."}`` from devnet/build."""
    path = BUILD_DIR / f"{name}.json"
    if not path.exists():
        ensure_built()
    if not path.exists():
        raise FileNotFoundError(f"no compiled contract {name!r} in {BUILD_DIR}")
    return _artifact_cached(name, path.stat().st_mtime_ns)


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"])


def rpc(w3: Web3, method: str, params: Sequence[Any] = ()) -> Any:
    """Raw JSON-RPC call (for anvil_*/evm_* methods web3 does not wrap); raises on error."""
    response = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    if response.get("error"):
        raise RuntimeError(f"{method} failed: {response['error']}")
    return response.get("result")


def mine_block(w3: Web3, timestamp: int | None = None) -> int:
    """Produce one block with every pending transaction; returns its number.

    Without ``timestamp`` the block gets max(wall clock, parent + 1): anvil alone would give
    several blocks mined within one second the same timestamp, which no real chain does.
    An explicit ``timestamp`` must be greater than the parent's (anvil refuses going back).
    """
    if timestamp is None:
        parent_time = int(w3.eth.get_block("latest")["timestamp"])
        timestamp = max(parent_time + 1, int(time.time()))
    rpc(w3, "evm_mine", [timestamp])
    return int(w3.eth.block_number)


def impersonate(w3: Web3, address: str, *, balance_wei: int | None = 10**21) -> str:
    """Let ``eth_sendTransaction`` send from ``address`` without its key (system accounts
    0x8888…, 0xDeaD…0001, a "compromised" operator). Funds it for gas unless balance_wei is None."""
    checksum = Web3.to_checksum_address(address)
    rpc(w3, "anvil_impersonateAccount", [checksum])
    if balance_wei is not None:
        set_balance(w3, checksum, balance_wei)
    return checksum


def stop_impersonating(w3: Web3, address: str) -> None:
    rpc(w3, "anvil_stopImpersonatingAccount", [Web3.to_checksum_address(address)])


def set_balance(w3: Web3, address: str, wei: int) -> None:
    rpc(w3, "anvil_setBalance", [Web3.to_checksum_address(address), hex(wei)])


def send_transaction(w3: Web3, tx: dict[str, Any]) -> HexBytes:
    """eth_sendTransaction (unlocked or impersonated sender); the tx waits for the next block."""
    tx = {"gas": DEFAULT_GAS, **tx}
    return HexBytes(w3.eth.send_transaction(tx))  # type: ignore[arg-type]


def _receipt(w3: Web3, tx_hash: HexBytes, check: bool) -> TxReceipt:
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    if check and receipt["status"] != 1:
        raise DevnetTxFailed(receipt)
    return receipt


def transact(
    w3: Web3,
    fn: ContractFunction,
    sender: str,
    *,
    value: int = 0,
    gas: int = DEFAULT_GAS,
    check: bool = True,
    mine: Miner = mine_block,
) -> TxReceipt:
    """Send a contract call from ``sender``, mine it, return the receipt (status 0 raises
    DevnetTxFailed unless ``check=False``, which is how tests record reverted txs on chain)."""
    tx_hash = fn.transact({"from": Web3.to_checksum_address(sender), "value": value, "gas": gas})
    mine(w3)
    return _receipt(w3, HexBytes(tx_hash), check)


def send_calldata(
    w3: Web3, sender: str, to: str, data: bytes, *, gas: int = DEFAULT_GAS, check: bool = True
) -> TxReceipt:
    """Send raw calldata (system calls built by the indexer's encoders), mine, return receipt."""
    tx_hash = send_transaction(
        w3,
        {
            "from": Web3.to_checksum_address(sender),
            "to": Web3.to_checksum_address(to),
            "data": data,
            "gas": gas,
        },
    )
    mine_block(w3)
    return _receipt(w3, tx_hash, check)


def send_deploy(w3: Web3, name: str, *args: Any, sender: str) -> HexBytes:
    """Send a contract creation without mining (to put several deployments in one block)."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    return HexBytes(factory.constructor(*args).transact({"from": sender, "gas": 15_000_000}))


def deployed_address(w3: Web3, tx_hash: HexBytes) -> str:
    """Address created by a mined deployment (raises DevnetTxFailed if it reverted)."""
    return Web3.to_checksum_address(_receipt(w3, tx_hash, True)["contractAddress"])


def deploy(w3: Web3, name: str, *args: Any, sender: str, mine: Miner = mine_block) -> str:
    """Deploy a compiled contract in its own block; returns the checksummed address."""
    tx_hash = send_deploy(w3, name, *args, sender=sender)
    mine(w3)
    return deployed_address(w3, tx_hash)


def encode_tx_proof(inclusion: TxInclusion) -> bytes:
    """The devnet tunnel's ``extraInfo``/``proof`` argument: abi.encode(bytes rawTxNoWitness,
    bytes32 blockHashInternal, bytes32[] merkleBranch, uint256 txIndex) - the stand-in for the
    hVM precompile lookup that real Hemi performs by txid."""
    return abi_encode(
        ["bytes", "bytes32", "bytes32[]", "uint256"],
        [
            inclusion.raw_tx_no_witness,
            inclusion.block_hash_internal,
            list(inclusion.merkle_branch_internal),
            inclusion.tx_index,
        ],
    )


def deploy_all(
    w3: Web3,
    *,
    bitcoin_rpc: BitcoinRpc,
    deployer: str | None = None,
    operator: str | None = None,
    custody_key: DevKey = DEFAULT_CUSTODY_KEY,
    deposit_fee_bps: int = DEFAULT_DEPOSIT_FEE_BPS,
    withdrawal_fee_bps: int = DEFAULT_WITHDRAWAL_FEE_BPS,
    grace_period_seconds: int = DEVNET_WITHDRAWAL_GRACE_PERIOD_SECONDS,
    mine: Miner = mine_block,
) -> dict[str, str]:
    """Deploy every devnet contract and create vault 0; returns checksummed addresses by name.

    Steps: 1. HvmState starting at the node's real regtest genesis header (height 0);
    2. L1Block's runtime code placed at the OP-stack predeploy 0x4200…0015 (it has no
    constructor state, so anvil_setCode is enough); 3. BitcoinTunnelManager (which deploys
    BTCToken), the plain/odd ERC-20s and the ERC-721 DevnetNFT (no tokens minted) in one
    block; 4. vault 0 paying to ``custody_key``'s P2PKH script, with ``operator`` (default:
    accounts[1]) as operator admin.
    ``mine`` produces each block (default :func:`mine_block`).
    """
    accounts = w3.eth.accounts
    deployer = Web3.to_checksum_address(deployer or accounts[0])
    operator = Web3.to_checksum_address(operator or accounts[1])

    genesis_hash_display = bitcoin_rpc.getblockhash(0)
    genesis_header = bitcoin_rpc.getblockheader_raw(genesis_hash_display)
    addresses: dict[str, str] = {
        "HvmState": deploy(w3, "HvmState", genesis_header, 0, sender=deployer, mine=mine)
    }

    rpc(w3, "anvil_setCode", [L1_BLOCK_PREDEPLOY, load_artifact("L1Block")["deployedBytecode"]])
    addresses["L1Block"] = Web3.to_checksum_address(L1_BLOCK_PREDEPLOY)

    pending = {
        "BitcoinTunnelManager": send_deploy(
            w3, "BitcoinTunnelManager", addresses["HvmState"], grace_period_seconds, sender=deployer
        ),
        "DevnetUSD": send_deploy(w3, "DevnetUSD", DEVNET_USD_SUPPLY, sender=deployer),
        "Bytes32MetaToken": send_deploy(w3, "Bytes32MetaToken", PLAIN_TOKEN_SUPPLY, sender=deployer),
        "NoDecimalsToken": send_deploy(w3, "NoDecimalsToken", PLAIN_TOKEN_SUPPLY, sender=deployer),
        "HostileToken": send_deploy(w3, "HostileToken", PLAIN_TOKEN_SUPPLY, sender=deployer),
        "DevnetNFT": send_deploy(w3, "DevnetNFT", sender=deployer),  # no tokens yet: the owner mints
    }
    mine(w3)
    for name, tx_hash in pending.items():
        addresses[name] = deployed_address(w3, tx_hash)

    manager = contract_at(w3, "BitcoinTunnelManager", addresses["BitcoinTunnelManager"])
    addresses["BTCToken"] = str(manager.functions.btcTokenContract().call())
    transact(
        w3,
        manager.functions.createVault(
            operator, custody_key.p2pkh_script, custody_key.p2pkh_address, deposit_fee_bps, withdrawal_fee_bps
        ),
        deployer,
        mine=mine,
    )
    addresses["SimpleBitcoinVault"] = str(manager.functions.vaults(0).call())
    vault = contract_at(w3, "SimpleBitcoinVault", addresses["SimpleBitcoinVault"])
    addresses["SimpleBitcoinVaultState"] = str(vault.functions.vaultStateChild().call())
    return {name: Web3.to_checksum_address(address) for name, address in addresses.items()}
