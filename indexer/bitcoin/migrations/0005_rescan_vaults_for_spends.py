"""Vault spends were not recorded before 0003: an existing index holds vault outputs without the
spends that consumed them, so reserves would read every spent output as still held. Re-arm each
vault's Bitcoin rescan from its lowest recorded output (the rescan re-runs tunnel detection,
which now records spends; every insert ignores conflicts). A fresh database has no vault
outputs and gets no work."""

from __future__ import annotations

from django.db import migrations
from django.db.models import Min
from django.utils import timezone

VAULT_RESCAN = "bitcoin.vault_rescan"  # indexer.bitcoin.chain.VAULT_RESCAN, frozen here


def rearm_rescans(apps, schema_editor):
    VaultUtxo = apps.get_model("bitcoin", "VaultUtxo")
    VaultScript = apps.get_model("bitcoin", "VaultScript")
    WorkItem = apps.get_model("indexer", "WorkItem")
    lowest = (
        VaultUtxo.objects.filter(block__in_active_chain=True)
        .values("vault_id")
        .annotate(height=Min("block__height"))
        .values_list("vault_id", "height")
    )
    now = timezone.now()
    for vault_id, height in lowest:
        address = bytes(VaultScript.objects.get(pk=vault_id).vault_address)
        WorkItem.objects.update_or_create(
            kind=VAULT_RESCAN,
            key="0x" + address.hex(),
            defaults={
                "payload": {"vault_id": vault_id, "from_height": height},
                "state": "pending",
                "attempts": 0,
                "last_error": "",
                "next_attempt_at": now,
                "lease_until": None,
                "claim_token": "",
                "updated_at": now,
                "done_at": None,
            },
            create_defaults={
                "payload": {"vault_id": vault_id, "from_height": height},
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("bitcoin", "0004_vault_spends"),
        ("indexer", "0003_indexeralert"),
    ]

    operations = [migrations.RunPython(rearm_rescans, migrations.RunPython.noop)]
