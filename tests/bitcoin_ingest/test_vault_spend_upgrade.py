"""Upgrading an index built before vault spends were recorded: the migration re-arms each
vault's rescan from its lowest vault output, so spends are found and reserves wait meanwhile."""

from __future__ import annotations

import importlib
from decimal import Decimal

from django.apps import apps

from indexer.bitcoin.chain import VAULT_RESCAN
from indexer.bitcoin.models import BitcoinBlock, VaultScript, VaultUtxo
from indexer.models import WorkItem

migration = importlib.import_module("indexer.bitcoin.migrations.0005_rescan_vaults_for_spends")


def _block(height: int) -> BitcoinBlock:
    return BitcoinBlock.objects.create(
        hash_internal=height.to_bytes(32, "big"), height=height, prev_hash_internal=b"\0" * 32,
        merkle_root_internal=b"\0" * 32, version=1, time=height, bits=0x207FFFFF, nonce=0, header_raw=b"\0" * 80,
        chainwork=Decimal(height),
    )  # fmt: skip


def test_each_vault_with_outputs_gets_its_rescan_rearmed_from_its_lowest_output(db):
    vault = VaultScript.objects.create(
        vault_address=b"\xba" * 20, vault_index=0, custody_script=b"\x51", discovered_at_hemi_block=0
    )
    VaultScript.objects.create(
        vault_address=b"\xbb" * 20, vault_index=1, custody_script=b"\x52", discovered_at_hemi_block=0
    )
    for height in (120, 105, 130):
        VaultUtxo.objects.create(block=_block(height), vault=vault, txid_internal=bytes([height]) * 32, vout=0,
                                 value_sats=1)  # fmt: skip
    key = "0x" + "ba" * 20
    from django.utils import timezone

    WorkItem.objects.create(kind=VAULT_RESCAN, key=key, payload={"vault_id": vault.pk, "from_height": 200},
                            state=WorkItem.DONE, attempts=3, next_attempt_at=timezone.now(),
                            created_at=timezone.now(), updated_at=timezone.now(), done_at=timezone.now())  # fmt: skip

    migration.rearm_rescans(apps, None)

    [item] = WorkItem.objects.filter(kind=VAULT_RESCAN)  # the vault without outputs gets none
    assert item.key == key and item.state == WorkItem.PENDING and item.attempts == 0
    assert item.payload == {"vault_id": vault.pk, "from_height": 105}
