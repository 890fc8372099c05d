"""Read a tunnel vault's Bitcoin custody over RPC, and store it on the Hemi side.

``VaultCreated`` names only the vault contract. Its custody is read from chain state:
``BitcoinTunnelManager.vaults(i)`` -> vault address, ``bitcoinCustodyAddress()`` -> the Bitcoin
address string, and - where the vault exposes it (the devnet's does) - ``custodyScript()``.

This module reads (:func:`read_custody`, RPC, no transaction) and writes the Hemi row
(:func:`store_custody`, inside the caller's transaction). Turning the address into a script
and telling the Bitcoin indexer about the vault is chain glue: ``indexer.crosschain.vaults``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError

from indexer.core.errors import PermanentError
from indexer.hashing import keccak256
from indexer.hemi.models import Block, Vault
from indexer.hemi.rpc import CallReverted, HemiRpc

logger = logging.getLogger(__name__)

VAULTS_SELECTOR = keccak256(b"vaults(uint32)")[:4]
CUSTODY_ADDRESS_SELECTOR = keccak256(b"bitcoinCustodyAddress()")[:4]
CUSTODY_SCRIPT_SELECTOR = keccak256(b"custodyScript()")[:4]


class VaultReadError(PermanentError):
    """The chain's view of a vault contradicts what was indexed, or cannot be read."""


@dataclass(frozen=True)
class CustodyReading:
    """What the chain says about one indexed vault's Bitcoin custody."""

    vault_id: int
    index: int
    address: bytes  # the vault contract (20 bytes)
    created_in_block: int
    created_at: int | None  # unix time of that Hemi block, when it is stored
    custody_address: str
    custody_script: bytes | None  # None when the vault does not expose custodyScript()


def _decode_single(kind: str, raw: bytes, what: str) -> Any:
    try:
        return abi_decode([kind], raw)[0]
    except (DecodingError, ValueError, OverflowError) as exc:
        raise VaultReadError(f"{what} returned {len(raw)} bytes that are not an ABI {kind}: {exc}") from exc


def read_custody(vault_address: bytes, rpc: HemiRpc, network: Any = None) -> CustodyReading | None:
    """Read the custody of the indexed vault at ``vault_address``; None if no such vault row
    exists any more (a reorg dropped it: nothing to read).

    1. ``vaults(index)`` on the manager must name the vault address we indexed for that index.
    2. ``bitcoinCustodyAddress()`` gives the address; ``custodyScript()`` (optional) the script.
    """
    if network is None:
        from hemiscope import networks

        network = networks.current()
    if not network.tunnel_manager_address:
        raise VaultReadError("no tunnel manager configured for this network")
    manager = bytes.fromhex(network.tunnel_manager_address[2:])
    vault = Vault.objects.filter(address=bytes(vault_address)).first()
    if vault is None:
        return None
    word = rpc.eth_call(manager, VAULTS_SELECTOR + vault.index.to_bytes(32, "big"))
    on_chain = bytes.fromhex(_decode_single("address", word, "vaults(uint32)")[2:])
    if on_chain != bytes(vault.address):
        raise VaultReadError(
            f"vault {vault.index}: manager says 0x{on_chain.hex()}, VaultCreated said 0x{bytes(vault.address).hex()}"
        )
    address = _decode_single("string", rpc.eth_call(on_chain, CUSTODY_ADDRESS_SELECTOR), "bitcoinCustodyAddress()")
    try:
        script = _decode_single("bytes", rpc.eth_call(on_chain, CUSTODY_SCRIPT_SELECTOR), "custodyScript()")
    except (CallReverted, VaultReadError):
        script = None  # Hemi's SimpleBitcoinVault stores only keccak(script): derive it instead
    created_at = (
        Block.objects.filter(number=vault.created_in_block, canonical=True).values_list("timestamp", flat=True).first()
    )
    return CustodyReading(
        vault.id, vault.index, bytes(vault.address), vault.created_in_block, created_at, address, script
    )


def store_custody(reading: CustodyReading, custody_script: bytes) -> None:
    """Write the custody onto the Vault row (inside the caller's transaction)."""
    Vault.objects.filter(id=reading.vault_id).update(
        custody_script=custody_script, custody_address=reading.custody_address
    )
    logger.info(
        "hemi vault custody read", extra={"vault_index": reading.index, "custody_address": reading.custody_address}
    )


def vaults_without_custody(limit: int = 100) -> list[tuple[int, bytes]]:
    """(index, address) of vaults whose custody was never stored (for the work sweep)."""
    rows = Vault.objects.filter(custody_script__isnull=True).order_by("index").values_list("index", "address")[:limit]
    return [(i, bytes(a)) for i, a in rows]
