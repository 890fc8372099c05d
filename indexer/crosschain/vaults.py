"""Vault custody, from the Hemi side to the Bitcoin side, in one transaction.

1. ``hemi.vaults_ingest.read_custody`` reads the vault's custody address (and script, where
   the vault exposes it) over Hemi RPC - outside any transaction.
2. The script is derived from the address for the network's Bitcoin parameters; when the
   vault gave a script too, the two must agree.
3. One transaction: the Hemi vault row gets its custody, and ``bitcoin.vaults.register_vault``
   records the vault script and - when blocks were scanned before it - the
   ``bitcoin.vault_rescan`` work item. Custody, registration and the rescan commit together
   or not at all, so a crash cannot leave a registered vault without its rescan.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from indexer.bitcoin.address import AddressError, script_from_address
from indexer.bitcoin.vaults import register_vault
from indexer.hemi.rpc import HemiRpc
from indexer.hemi.vaults_ingest import CustodyReading, VaultReadError, read_custody, store_custody

log = logging.getLogger(__name__)


def custody_script(reading: CustodyReading, bitcoin_network: str) -> bytes:
    """The custody scriptPubKey: derived from the address, checked against the vault's own
    ``custodyScript()`` when it has one."""
    try:
        derived = script_from_address(reading.custody_address, bitcoin_network)
    except AddressError as exc:
        if reading.custody_script is None:
            raise VaultReadError(
                f"vault {reading.index}: custody address {reading.custody_address!r} does not parse: {exc}"
            ) from exc
        return reading.custody_script
    if reading.custody_script is not None and reading.custody_script != derived:
        raise VaultReadError(
            f"vault {reading.index}: custodyScript() does not match address {reading.custody_address!r}"
        )
    return derived


def read_and_register(vault_address: bytes, rpc: HemiRpc, network: Any) -> bool:
    """Read a vault's custody and register it with the Bitcoin indexer; False if the vault row
    is gone (a Hemi reorg dropped it) and there was nothing to do."""
    reading = read_custody(vault_address, rpc, network)
    if reading is None:
        log.info("vault custody read skipped: vault no longer indexed", extra={"vault": "0x" + vault_address.hex()})
        return False
    script = custody_script(reading, network.bitcoin_network)
    # Short transaction, no I/O: the Hemi row, the Bitcoin vault registry and its rescan move together.
    with transaction.atomic():
        store_custody(reading, script)
        register_vault(
            vault_address=reading.address,
            vault_index=reading.index,
            custody_script=script,
            custody_address=reading.custody_address,
            hemi_block=reading.created_in_block,
            not_before_time=reading.created_at,
        )
    return True
