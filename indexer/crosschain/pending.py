"""What a mint's verdict waits for while follow-up work or indexing is unfinished.

A mint whose deposit is not (yet) found is only "unbacked" once everything that could still
reveal the deposit is done: the vault's custody read and registration, the Bitcoin rescan of
blocks scanned before the vault was known, and Bitcoin indexed up to the block the hVM saw
when the mint executed. Until then the verdict is pending and names what it waits for.
"""

from __future__ import annotations

from indexer.bitcoin.chain import VAULT_RESCAN
from indexer.bitcoin.models import BitcoinBlock, VaultScript
from indexer.core import work
from indexer.hemi.chain import VAULT_CUSTODY
from indexer.hemi.models import Vault
from indexer.models import WorkItem


def _state(item: WorkItem) -> str:
    if item.state == WorkItem.FAILED:
        return f"failed after {item.attempts} attempts ({item.last_error[:200]}); an operator must look"
    if item.last_error:
        return f"{item.state}, retrying after: {item.last_error[:200]}"
    return item.state


def deposit_wait(vault_address: bytes, hvm_tip_internal: bytes | None) -> str | None:
    """Why a deposit to ``vault_address`` may still be found, or None when nothing that could
    reveal it is unfinished (a missing deposit is then a real finding).

    ``hvm_tip_internal`` is the Bitcoin tip (internal byte order) of the mint's hVM view: the
    deposit must lie at or below it, so Bitcoin must be indexed (scanned) up to that block.
    """
    key = "0x" + bytes(vault_address).hex()
    item = work.unfinished(VAULT_CUSTODY, key)
    if item is not None:
        return f"the custody read of vault {key} ({_state(item)})"
    if not VaultScript.objects.filter(vault_address=bytes(vault_address)).exists():
        if Vault.objects.filter(address=bytes(vault_address)).exists():
            return f"the custody read of vault {key} (not recorded yet)"
        return None  # no such vault on Hemi: nothing will ever register it
    item = work.unfinished(VAULT_RESCAN, key)
    if item is not None:
        return f"the Bitcoin rescan for vault {key} ({_state(item)}, from height {item.payload.get('from_height')})"
    if hvm_tip_internal is not None and not (
        BitcoinBlock.objects.filter(hash_internal=bytes(hvm_tip_internal), scanned_at__isnull=False).exists()
    ):
        return f"Bitcoin indexing up to the mint's hVM view (block {bytes(hvm_tip_internal)[::-1].hex()})"
    return None
