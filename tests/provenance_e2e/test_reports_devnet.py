"""Audit reports on a real devnet, indexed by the real Celery worker: the treasury lock's token
report in all three formats from the command line (CSV lists the mint verified, the JSON verifies
offline and a changed byte fails it, the PDF is rendered to PNG with pdftoppm for people to look
at in var/screenshots/), the same through ``POST /api/v1/reports`` built by the worker, and the
token page's button in Chromium under the strict CSP."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.provenance_e2e.test_explorer_browser import SHOTS, WIDTHS, Watched, browser  # noqa: F401 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[2]
OFFLINE_ENV = {"PATH": "/usr/bin:/bin"}  # the verifier needs nothing configured


def test_token_reports_on_the_devnet_and_through_the_worker(story, tmp_path, client):
    from django.core.management import call_command

    paths = {fmt: tmp_path / f"report.{ext}" for fmt, ext in (("csv", "csv"), ("json", "tar"), ("pdf", "pdf"))}
    for fmt, path in paths.items():
        call_command("audit_report", "--scope", "token", "--id", story["hemibtc"], "--format", fmt, "-o", str(path))

    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
    mint = next(r for r in rows if r["hemi_tx_hash"] == story["mint_tx"])
    assert (mint["kind"], mint["verdict"], mint["stage"]) == ("mint", "verified", "superfinal"), mint
    assert mint["bitcoin_txid_display"] == story["deposit_txid"]

    verify = subprocess.run([sys.executable, "manage.py", "verify_evidence", str(paths["json"])], cwd=REPO,
                            env=OFFLINE_ENV, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    data = paths["json"].read_bytes()
    tampered = tmp_path / "tampered.tar"
    for position in (700, len(data) // 2, len(data) - 3000):  # manifest, a bundle, the last bundle
        changed = bytearray(data)
        changed[position] ^= 0x01
        tampered.write_bytes(bytes(changed))
        bad = subprocess.run([sys.executable, "-m", "explorer.verify", str(tampered)], cwd=REPO, env=OFFLINE_ENV,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert bad.returncode == 1, (position, bad.stdout, bad.stderr)

    # The PDF names the JSON and CSV it summarises; pages rendered to PNG for a person to read.
    text = subprocess.run(["pdftotext", "-layout", str(paths["pdf"]), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    words = " ".join(text.split())
    # (The stepped devnet does not move between the two commands: same positions, same JSON.)
    assert hashlib.sha256(data).hexdigest() in words
    assert hashlib.sha256(paths["csv"].read_bytes()).hexdigest() in words
    assert "Hemiscope audit report" in words and "Failed and pending items" in words
    assert "held by the vaults" in words  # the reserve reconciliation at the report's positions
    SHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "70", str(paths["pdf"]), str(SHOTS / "report-token")], check=True)
    assert list(SHOTS.glob("report-token-*.png"))

    # The same through the API: the real worker builds it.
    response = client.post("/api/v1/reports", {"scope": "token", "id": story["hemibtc"], "format": "json"},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 202
    body = _wait(client, response["Location"])
    assert body["state"] == "done", body
    served = b"".join(client.get(f"{response['Location']}/download").streaming_content)
    served_path = tmp_path / "served.tar"
    served_path.write_bytes(served)
    verify = subprocess.run([sys.executable, "-m", "explorer.verify", str(served_path)], cwd=REPO, env=OFFLINE_ENV,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # Pinned at the positions the worker recorded, the command line writes the same bytes.
    pinned = tmp_path / "pinned.tar"
    pos = body["positions"]
    call_command("audit_report", "--scope", "token", "--id", story["hemibtc"], "--format", "json",
                 "--at-btc-height", str(pos["bitcoin_height"]), "--at-hemi-block", str(pos["hemi_block"]),
                 "-o", str(pinned))  # fmt: skip
    assert pinned.read_bytes() == served


def _wait(client, location: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(location).json()
        if body["state"] not in ("queued", "running") or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def test_the_token_page_button_builds_a_report_in_a_real_browser(browser, live_server, story):  # noqa: F811
    w = Watched(browser, live_server.url, WIDTHS["phone"])
    try:
        page = w.visit(f"/token/{story['hemibtc']}")
        page.select_option("#report-format", "csv")
        page.click(".report-form button[type=submit]")
        # htmx swaps in the progress fragment, polls it, and replaces it with the download link.
        link = page.locator("#report-status a.report-download")
        link.wait_for(timeout=240_000)
        assert "Report ready" in page.locator("#report-status").inner_text()
        w.no_overflow("token page with a finished report")
        page.screenshot(path=str(SHOTS / "phone-token-report.png"), full_page=True)
        with page.expect_download() as download_info:
            link.click()
        content = Path(download_info.value.path()).read_text()
        # A download ends the navigation that started it: the browser reports that request as
        # aborted, which is how downloads work, not a failure of the page.
        aborted = f"{link.get_attribute('href')} net::ERR_ABORTED"
        w.problems = [p for p in w.problems if not p.endswith(aborted)]
        rows = list(csv.DictReader(io.StringIO(content)))
        assert any(r["hemi_tx_hash"] == story["mint_tx"] and r["verdict"] == "verified" for r in rows), rows
        assert not w.problems, w.problems
    finally:
        w.context.close()
    assert os.path.exists(SHOTS / "phone-token-report.png")


def test_a_pinned_report_keeps_its_bytes_as_both_chains_grow_and_judges_at_its_pins(devnet, story):
    """Pinned where the treasury lock's publication is 3 blocks deep, the mint is pending (and
    verified unpinned); that report and one pinned at the tips are the same bytes after more
    Bitcoin and Hemi blocks are mined and indexed (CSV and JSON, token and tunnel scopes)."""
    from explorer.reports.build import write_report
    from explorer.reports.request import ReportRequestError, make_request
    from explorer.verify_report import verify_report
    from indexer.bitcoin.models import BitcoinBlock
    from indexer.hemi.models import Block
    from tests.provenance_e2e.test_provenance_devnet import index_both_chains

    def tips() -> tuple[int, int]:
        btc = BitcoinBlock.objects.active().order_by("-height").values_list("height", flat=True).first()
        return btc, Block.objects.canonical().order_by("-number").values_list("number", flat=True).first()

    def build(fmt: str, scope: str = "token", **pins) -> bytes:
        out = io.BytesIO()
        selectors = {"id": story["hemibtc"]} if scope == "token" else {}
        write_report(make_request(scope, **selectors, **pins), fmt, out)
        return out.getvalue()

    def our_mint(data: bytes) -> dict:
        return next(r for r in csv.DictReader(io.StringIO(data.decode())) if r["hemi_tx_hash"] == story["mint_tx"])

    pop_height = BitcoinBlock.objects.get(hash_internal=bytes.fromhex(story["pop_block"])[::-1]).height
    btc_tip, hemi_tip = tips()
    assert btc_tip >= pop_height + 10  # superfinal at the tips
    pins = {
        "pending": {"at_btc_height": pop_height + 3, "at_hemi_block": hemi_tip},
        "tips": {"at_btc_height": btc_tip, "at_hemi_block": hemi_tip},
    }
    kinds = [(fmt, scope) for fmt in ("csv", "json") for scope in ("token", "tunnel")]
    before = {(name, fmt, scope): build(fmt, scope, **pin) for name, pin in pins.items() for fmt, scope in kinds}

    pending = our_mint(before["pending", "csv", "token"])
    assert (pending["verdict"], pending["stage"]) == ("pending", "Bitcoin anchoring"), pending
    assert pending["reason"] == "waiting for 7 more Bitcoin block(s) on top of the publication"
    assert (our_mint(build("csv"))["verdict"], our_mint(build("csv"))["stage"]) == ("verified", "superfinal")
    assert our_mint(before["tips", "csv", "token"])["verdict"] == "verified"
    for name in pins:
        assert verify_report(io.BytesIO(before[name, "json", "token"])).ok, name

    # More blocks on both chains, indexed by the worker.
    net = devnet.net
    btc_nodes, hemi_nodes = net.btc.getblockcount(), net.w3.eth.block_number
    net.wait_for(
        lambda: net.btc.getblockcount() >= btc_nodes + 3 and net.w3.eth.block_number >= hemi_nodes + 3,
        what="three more blocks on each chain",
        hemi_blocks=5,
        btc_blocks=5,
    )
    index_both_chains(devnet)
    new_btc, new_hemi = tips()
    assert new_btc >= btc_tip + 3 and new_hemi >= hemi_tip + 3

    after = {(name, fmt, scope): build(fmt, scope, **pin) for name, pin in pins.items() for fmt, scope in kinds}
    for key, data in before.items():
        assert after[key] == data, key
    with pytest.raises(ReportRequestError, match="above the indexed Bitcoin tip"):
        build("csv", at_btc_height=new_btc + 1, at_hemi_block=new_hemi)
    with pytest.raises(ReportRequestError, match="above the indexed Hemi tip"):
        build("csv", at_btc_height=new_btc, at_hemi_block=new_hemi + 1)
