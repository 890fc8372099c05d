"""Read a tunnel vault's Bitcoin custody over RPC, then store it (outside any ingest transaction).

``VaultCreated`` names only the vault contract. Its custody is read from chain state:
``BitcoinTunnelManager.vaults(i)`` → vault address, ``bitcoinCustodyAddress()`` → the Bitcoin
address string, and - where the vault exposes it (the devnet's does) - ``custodyScript()``.
The script is otherwise derived from the address for the configured Bitcoin network. The
Bitcoin indexer is told about the vault (``register_vault``) so it can watch deposits to it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError

from indexer.hashing import keccak256
from indexer.hemi.models import Vault
from indexer.hemi.rpc import CallReverted, HemiRpc

logger = logging.getLogger(__name__)

VAULTS_SELECTOR = keccak256(b"vaults(uint32)")[:4]
CUSTODY_ADDRESS_SELECTOR = keccak256(b"bitcoinCustodyAddress()")[:4]
CUSTODY_SCRIPT_SELECTOR = keccak256(b"custodyScript()")[:4]


class VaultReadError(RuntimeError):
    """The chain's view of a vault contradicts what was indexed, or cannot be read."""


def _decode_single(kind: str, raw: bytes, what: str) -> Any:
    try:
        return abi_decode([kind], raw)[0]
    except (DecodingError, ValueError, OverflowError) as exc:
        raise VaultReadError(f"{what} returned {len(raw)} bytes that are not an ABI {kind}: {exc}") from exc


def read_vault(vault_index: int, rpc: HemiRpc, network: Any = None) -> Vault:
    """Read vault ``vault_index``'s custody over RPC, then write it in one short transaction.

    1. ``vaults(index)`` on the manager must name the vault address we indexed for that index.
    2. ``bitcoinCustodyAddress()`` gives the address; ``custodyScript()`` (optional) the script.
    3. Without a script call, derive the script from the address; with both, they must agree.
    4. Store both on the Vault row and register the vault with the Bitcoin indexer.
    """
    from indexer.bitcoin.address import AddressError, script_from_address

    if network is None:
        from hemiscope import networks

        network = networks.current()
    if not network.tunnel_manager_address:
        raise VaultReadError("no tunnel manager configured for this network")
    manager = bytes.fromhex(network.tunnel_manager_address[2:])
    vault = Vault.objects.filter(index=vault_index).first()
    if vault is None:
        raise VaultReadError(f"vault {vault_index} is not indexed (yet)")

    word = rpc.eth_call(manager, VAULTS_SELECTOR + vault_index.to_bytes(32, "big"))
    on_chain = bytes.fromhex(_decode_single("address", word, "vaults(uint32)")[2:])
    if on_chain != bytes(vault.address):
        raise VaultReadError(
            f"vault {vault_index}: manager says 0x{on_chain.hex()}, VaultCreated said 0x{bytes(vault.address).hex()}"
        )
    address = _decode_single("string", rpc.eth_call(on_chain, CUSTODY_ADDRESS_SELECTOR), "bitcoinCustodyAddress()")
    try:
        script = _decode_single("bytes", rpc.eth_call(on_chain, CUSTODY_SCRIPT_SELECTOR), "custodyScript()")
    except (CallReverted, VaultReadError):
        script = None  # Hemi's SimpleBitcoinVault stores only keccak(script): derive it instead
    try:
        derived = script_from_address(address, network.bitcoin_network)
    except AddressError as exc:
        if script is None:
            raise VaultReadError(f"vault {vault_index}: custody address {address!r} does not parse: {exc}") from exc
        derived = None
    if script is not None and derived is not None and script != derived:
        raise VaultReadError(f"vault {vault_index}: custodyScript() does not match address {address!r}")
    script = script if script is not None else derived
    assert script is not None

    from indexer.bitcoin.vaults import register_vault

    # Short transaction, no I/O: the Hemi row and the Bitcoin indexer's vault registry move together.
    with transaction.atomic():
        Vault.objects.filter(id=vault.id).update(custody_script=script, custody_address=address)
        register_vault(
            vault_address=bytes(vault.address),
            vault_index=vault_index,
            custody_script=script,
            custody_address=address,
            hemi_block=vault.created_in_block,
        )
    logger.info("hemi vault custody read", extra={"vault_index": vault_index, "custody_address": address})
    return Vault.objects.get(id=vault.id)
