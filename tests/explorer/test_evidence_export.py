from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from explorer import evidence
from explorer.verify import canonical_bytes, verify_bytes
from tests.explorer.evidence_story import HEMIBTC, MANAGER, EvidenceStory, load_into_db

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def devnet_addresses(monkeypatch):
    monkeypatch.setenv("TUNNEL_MANAGER_ADDRESS", "0x" + MANAGER.hex())
    monkeypatch.setenv("HEMIBTC_ADDRESS", "0x" + HEMIBTC.hex())


def test_the_exported_bundle_is_byte_identical_to_the_story_and_verifies(db, devnet_addresses):
    story = EvidenceStory()
    mint = load_into_db(story)
    data = evidence.export_bytes(mint)
    assert data == canonical_bytes(story.bundle())
    assert all(r.ok for r in verify_bytes(data))
    assert evidence.export_bytes(mint) == data  # deterministic


def test_export_refuses_a_mint_whose_keystone_is_not_published(db, devnet_addresses):
    from indexer.bitcoin.models import KeystoneFirstPublication

    mint = load_into_db(EvidenceStory())
    KeystoneFirstPublication.objects.all().delete()
    with pytest.raises(evidence.EvidenceUnavailable, match="not published on Bitcoin yet"):
        evidence.build_bundle(mint)


def test_the_export_command_writes_a_file_the_verifier_accepts(transactional_db, devnet_addresses, tmp_path):
    from django.core.management import call_command

    mint = load_into_db(EvidenceStory())
    out = tmp_path / "bundle.json"
    call_command("provenance_export", "--mint", "0x" + bytes(mint.transaction.hash).hex(), "-o", str(out))
    result = subprocess.run(
        [sys.executable, "manage.py", "verify_evidence", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_export_command_names_bad_input(db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="64 hex characters"):
        call_command("provenance_export", "--mint", "0x12", "-o", "-")
    with pytest.raises(CommandError, match="no indexed hemiBTC mint"):
        call_command("provenance_export", "--mint", "0x" + "ab" * 32, "-o", "-")


def test_the_page_offers_the_bundle_and_serves_it(db, devnet_addresses, client):
    mint = load_into_db(EvidenceStory())
    tx = "0x" + bytes(mint.transaction.hash).hex()
    page = client.get(f"/provenance/mint/{tx}").content.decode()
    assert f"/provenance/mint/{tx}/evidence" in page
    response = client.get(f"/provenance/mint/{tx}/evidence")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="hemiscope-evidence-{tx}.json"'
    assert all(r.ok for r in verify_bytes(response.content))


def test_the_bundle_download_is_409_with_the_reason_while_incomplete(db, devnet_addresses, client):
    from indexer.bitcoin.models import KeystoneFirstPublication

    mint = load_into_db(EvidenceStory())
    KeystoneFirstPublication.objects.all().delete()
    response = client.get(f"/provenance/mint/0x{bytes(mint.transaction.hash).hex()}/evidence")
    assert response.status_code == 409
    assert "not published on Bitcoin yet" in response.content.decode()
