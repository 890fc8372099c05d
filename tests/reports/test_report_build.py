"""Reports built from the evidence story's mint (real bytes in a real database): the three
formats, determinism, pinning, the reserves hook, and the offline verifier on whole reports."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from explorer import evidence
from explorer.reports import archive, hooks
from explorer.reports.request import ReportRequestError, make_request
from explorer.verify_report import verify_report
from tests.reports.conftest import TOKEN, build

REPO = Path(__file__).resolve().parents[2]


def members(data: bytes) -> list[tuple[str, bytes]]:
    return [(m.name, m.read()) for m in archive.read_members(io.BytesIO(data))]


def test_the_token_json_report_is_a_manifest_and_the_mints_bundle_and_verifies(story_mint, monkeypatch):
    monkeypatch.setattr(hooks, "_reconcile", lambda: None)  # a build with no reserves section
    data = build("json")
    names = [name for name, _ in members(data)]
    tx = "0x" + bytes(story_mint.transaction.hash).hex()
    assert names == ["manifest.jsonl", f"bundles/{tx}.json"]
    manifest = dict(members(data))["manifest.jsonl"].decode().splitlines()
    head, item, trailer = (json.loads(line) for line in manifest)
    assert head["format"] == "hemiscope-report/1" and head["request"] == {"scope": "token", "id": TOKEN}
    assert "reserves" not in head  # no reconcile: the section is left out, not empty
    assert item["hemi_tx_hash"] == tx and item["verdict"] == "verified" and item["stage"] == "superfinal"
    assert item["bundle_sha256"] is not None and trailer["end"]["items"] == 1
    assert dict(members(data))[f"bundles/{tx}.json"] == evidence.export_bytes(story_mint)
    result = verify_report(io.BytesIO(data))
    assert result.ok, result.links


def test_same_inputs_give_the_same_bytes_and_the_pins_are_recorded(story_mint):
    first = build("json")
    assert build("json") == first
    positions = json.loads(dict(members(first))["manifest.jsonl"].splitlines()[0])["positions"]
    pinned = build("csv", at_btc_height=positions["bitcoin_height"], at_hemi_block=positions["hemi_block"])
    assert pinned == build("csv")
    # Pinned below the mint's block, the mint is left out.
    mint_block = story_mint.block.number
    rows = list(csv.DictReader(io.StringIO(build("csv", at_hemi_block=mint_block - 1).decode())))
    assert rows == []


def test_a_pin_above_the_indexed_tip_is_refused(story_mint):
    with pytest.raises(ReportRequestError, match="above the indexed Hemi tip"):
        build("csv", at_hemi_block=10**9)
    with pytest.raises(ReportRequestError, match="above the indexed Bitcoin tip"):
        build("csv", at_btc_height=10**9)


def test_the_csv_has_one_row_per_mint_with_both_chains_ids_and_the_verdict(story_mint):
    rows = list(csv.DictReader(io.StringIO(build("csv").decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["kind"] == "mint" and row["verdict"] == "verified"
    assert row["hemi_tx_hash"] == "0x" + bytes(story_mint.transaction.hash).hex()
    assert row["bitcoin_txid_display"] == story_mint.deposit_txid_display
    assert row["amount_sats"] == str(int(story_mint.deposit_sats)) and row["net_sats"] == str(int(story_mint.net_sats))
    assert row["judged_at_hemi_block"] and row["judged_at_bitcoin_height"]


def test_the_mint_scope_json_is_the_mints_evidence_bundle(story_mint):
    tx = "0x" + bytes(story_mint.transaction.hash).hex()
    assert build("json", scope="mint", id=tx) == evidence.export_bytes(story_mint)


def test_a_mint_scope_without_complete_evidence_is_an_archive_saying_why(story_mint):
    from indexer.bitcoin.models import KeystoneFirstPublication

    KeystoneFirstPublication.objects.all().delete()
    tx = "0x" + bytes(story_mint.transaction.hash).hex()
    data = build("json", scope="mint", id=tx)
    ((name, manifest),) = members(data)
    assert name == "manifest.jsonl"
    item = json.loads(manifest.splitlines()[1])
    assert item["verdict"] == "pending" and item["bundle_sha256"] is None
    assert "not published on Bitcoin yet" in item["bundle_unavailable"]
    assert verify_report(io.BytesIO(data)).ok
    assert "mint pending at Bitcoin anchoring" in _pdf_text(build("pdf", scope="mint", id=tx))


def test_other_scopes_select_the_mint_or_nothing(story_mint):
    n = story_mint.block.number
    ts = story_mint.block.timestamp
    recipient = "0x" + bytes(story_mint.recipient).hex()
    from datetime import UTC, datetime

    def iso(t):
        return datetime.fromtimestamp(t, UTC).isoformat()

    def kinds(**sel):
        return [r["kind"] for r in csv.DictReader(io.StringIO(build("csv", **sel).decode()))]

    assert kinds(scope="blocks", from_block=n, to_block=n) == ["mint"]
    assert kinds(scope="blocks", from_block=n + 1, to_block=n + 5) == []
    assert kinds(scope="address", id=recipient) == ["mint"]
    assert kinds(scope="address", id="0x" + "ab" * 20) == []
    assert kinds(scope="time", since=iso(ts), until=iso(ts)) == ["mint"]
    assert kinds(scope="time", since=iso(ts + 1), until=iso(ts + 99)) == []
    assert sorted(kinds(scope="tunnel")) == ["deposit", "mint"]  # the tunnel scope lists deposits too


def test_requests_name_what_is_wrong():
    with pytest.raises(ReportRequestError, match="scope must be one of"):
        make_request("galaxy")
    with pytest.raises(ReportRequestError, match="id: an address must be 40 hex"):
        make_request("token", id="0x12")
    with pytest.raises(ReportRequestError, match="scope tunnel takes no id"):
        make_request("tunnel", id="0x" + "00" * 20)
    with pytest.raises(ReportRequestError, match="from must not be above to"):
        make_request("blocks", from_block=5, to_block=4)
    with pytest.raises(ReportRequestError, match="since must be an ISO-8601 time"):
        make_request("time", since="yesterday", until="2026-01-01")
    assert make_request("time", since="2026-01-01", until="2026-01-02T01:00:00+01:00").as_dict() == {
        "scope": "time",
        "since": "2026-01-01T00:00:00Z",
        "until": "2026-01-02T00:00:00Z",
    }


def test_a_token_other_than_hemibtc_is_refused_by_name(story_mint):
    with pytest.raises(ReportRequestError, match="not this network's hemiBTC"):
        build("csv", id="0x" + "ab" * 20)


def test_the_reserves_hook_adds_a_section_when_a_reconcile_exists(story_mint, monkeypatch):
    calls = []

    def reconcile(*, at_btc_height, at_hemi_block):
        calls.append((at_btc_height, at_hemi_block))
        return {"vault_sats": "10000000000", "minted_sats": "9990000000", "balanced": True}

    monkeypatch.setattr(hooks, "_reconcile", lambda: reconcile)
    data = build("json")
    head = json.loads(dict(members(data))["manifest.jsonl"].splitlines()[0])
    assert head["reserves"] == {"vault_sats": "10000000000", "minted_sats": "9990000000", "balanced": True}
    assert len(calls) == 1
    assert verify_report(io.BytesIO(data)).ok


def test_a_report_says_why_it_has_no_reconciliation_where_none_can_be_computed(story_mint):
    # No chain cursor yet: the reconciliation cannot be placed, the report still builds.
    data = build("json")
    head = json.loads(dict(members(data))["manifest.jsonl"].splitlines()[0])
    assert head["reserves"] == {"error": "nothing indexed yet: both chains must have a cursor"}
    assert verify_report(io.BytesIO(data)).ok


def test_every_report_carries_the_reserve_reconciliation_at_its_own_positions(story_mint):
    """The real reconciliation (explorer.reserves), not a stand-in: at the positions the report
    records, with its equation, in the manifest and in the PDF."""
    from explorer import reserves
    from indexer.bitcoin.models import BitcoinBlock
    from indexer.hemi.models import Block
    from indexer.models import ChainCursor

    # The story's rows were written without the indexers' cursors, which reconcile requires.
    btc = BitcoinBlock.objects.active().order_by("-height").first()
    hemi = Block.objects.canonical().order_by("-number").first()
    ChainCursor.objects.create(chain="bitcoin", height=btc.height, block_hash=btc.hash_internal)
    ChainCursor.objects.create(chain="hemi", height=hemi.number, block_hash=hemi.hash)

    data = build("json")
    head = json.loads(dict(members(data))["manifest.jsonl"].splitlines()[0])
    at = head["positions"]
    expected = reserves.reconcile(at_btc_height=at["bitcoin_height"], at_hemi_block=at["hemi_block"])
    assert head["reserves"] == {**expected.to_dict(), "equation": expected.equation()}
    assert head["reserves"]["position"]["hemi_block"] == at["hemi_block"]
    assert verify_report(io.BytesIO(data)).ok

    text = _pdf_text(build("pdf"))
    assert "held by the vaults" in text and "hemiBTC total supply" in text


def test_the_pdf_summarises_and_names_the_json_and_csv_digests(story_mint):
    import hashlib

    pdf = build("pdf")
    assert pdf.startswith(b"%PDF-")
    from explorer.reports import pdf as pdf_module

    # The digests the PDF states are those of the JSON and CSV built alone.
    text = _pdf_text(pdf)
    assert hashlib.sha256(build("json")).hexdigest() in text
    assert hashlib.sha256(build("csv")).hexdigest() in text
    assert "Failed and pending items (0)" in text
    assert pdf_module.STYLESHEET.exists()


def _pdf_text(pdf: bytes) -> str:
    """The PDF's text, through poppler's pdftotext (``make setup`` installs poppler-utils)."""
    import shutil

    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext missing: `make setup` installs poppler-utils")
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return " ".join(result.stdout.decode().split())


def test_the_command_line_writes_a_report_the_verifier_accepts_and_a_changed_byte_fails(
    transactional_db, devnet_addresses, tmp_path
):
    from django.core.management import call_command

    from tests.reports.conftest import load_story

    load_story()
    out = tmp_path / "report.tar"
    call_command("audit_report", "--scope", "token", "--id", TOKEN, "--format", "json", "-o", str(out))
    verify = [sys.executable, "-m", "explorer.verify", str(out)]
    ok = subprocess.run(verify, cwd=REPO, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin"})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "report verified" in ok.stdout
    data = out.read_bytes()
    for position in _one_byte_in_every_region(data):
        tampered = bytearray(data)
        tampered[position] ^= 0x01
        assert not verify_report(io.BytesIO(bytes(tampered))).ok, f"a changed byte at {position} passed"
    out.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    bad = subprocess.run([sys.executable, "manage.py", "verify_evidence", str(out)], cwd=REPO, capture_output=True,
                         text=True, timeout=120, env={"PATH": "/usr/bin"})  # fmt: skip
    assert bad.returncode == 1 and "verification failed at link 'archive'" in bad.stderr


def _one_byte_in_every_region(data: bytes) -> list[int]:
    """A byte of each part of the archive: manifest header, manifest text (start, middle, end),
    its padding, the bundle's header, bundle text (start, middle), its padding, the end marker."""
    manifest_size = next(archive.read_members(io.BytesIO(data))).size
    m_end = 512 + manifest_size
    m_padded = 512 + manifest_size + (-manifest_size % 512)
    bundle_header = m_padded
    stream = io.BytesIO(data)
    sizes = [m.size for m in archive.read_members(stream)]
    b_size = sizes[1]
    b_start = bundle_header + 512
    b_end = b_start + b_size
    positions = [0, 150, 512, 512 + manifest_size // 2, m_end - 2, bundle_header + 10, b_start, b_start + b_size // 2,
                 len(data) - 1]  # fmt: skip
    if m_padded > m_end:
        positions.append(m_end)
    if -b_size % 512:
        positions.append(b_end)
    return positions


def test_the_pdf_shows_a_pending_item_in_full_with_its_checks(story_mint):
    from indexer.bitcoin.models import KeystoneFirstPublication

    KeystoneFirstPublication.objects.all().delete()  # the keystone is no longer known published
    pdf = build("pdf")
    text = _pdf_text(pdf)
    assert "Failed and pending items (1)" in text
    assert "mint pending at Bitcoin anchoring" in text and "superfinal" in text
    assert "Verified items (first 0 of 0)" in text
    # For people to look at (make test leaves it in var/screenshots/).
    shots = REPO / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    (shots / "report-pending.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "70", str(shots / "report-pending.pdf"), str(shots / "report-pending")],
                   check=True)  # fmt: skip


def test_stored_verdicts_give_the_same_csv_and_json_as_live_judging(story_mint, monkeypatch):
    from explorer import verdict_store
    from explorer.models import MintVerdict
    from explorer.queries import tunnel as tunnel_queries

    live = {fmt: build(fmt) for fmt in ("csv", "json")} | {"tunnel": build("csv", scope="tunnel")}
    verdict_store.store("mint", [story_mint.pk])
    assert MintVerdict.objects.filter(pk=story_mint.pk, verdict="verified", settled=True).exists()
    judged = []
    real = tunnel_queries.mint_verdicts
    monkeypatch.setattr(tunnel_queries, "mint_verdicts", lambda rows: judged.extend(rows) or real(rows))
    stored = {fmt: build(fmt) for fmt in ("csv", "json")} | {"tunnel": build("csv", scope="tunnel")}
    assert judged == []  # read from the store, not judged
    assert stored == live
