"""Pinned reports are judged at their positions (explorer.reports.positions.judged_at), on the
evidence story's real bytes: Bitcoin 100..115 (deposit in 101, hVM view tip 104, keystone 25
published in 105), Hemi 10..25 (mint in 12, keystone 25)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from explorer import evidence
from explorer.at import At
from explorer.reports import archive
from explorer.reports.request import ReportRequestError
from explorer.verify import verify_bundle
from explorer.verify_report import verify_report
from tests.reports.conftest import build


def rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def members(data: bytes) -> dict[str, bytes]:
    return {m.name: m.read() for m in archive.read_members(io.BytesIO(data))}


def test_a_mint_pending_at_the_pin_is_pending_in_the_pinned_report_and_verified_unpinned(story_mint):
    (unpinned,) = rows(build("csv"))
    assert (unpinned["verdict"], unpinned["stage"]) == ("verified", "superfinal")

    (pinned,) = rows(build("csv", at_btc_height=112, at_hemi_block=25))
    assert (pinned["verdict"], pinned["stage"]) == ("pending", "Bitcoin anchoring")
    assert pinned["reason"] == "waiting for 3 more Bitcoin block(s) on top of the publication"
    assert (pinned["judged_at_bitcoin_height"], pinned["judged_at_hemi_block"]) == ("112", "25")

    # Below the publication (105) the keystone is not published; below the hVM view's tip (104)
    # the deposit's confirmations are not seen either.
    (unpublished,) = rows(build("csv", at_btc_height=104, at_hemi_block=25))
    assert (unpublished["verdict"], unpublished["stage"]) == ("pending", "Bitcoin anchoring")
    assert "a Bitcoin PoP publication of keystone 25" in unpublished["reason"]
    (unseen,) = rows(build("csv", at_btc_height=103, at_hemi_block=25))
    assert (unseen["verdict"], unseen["stage"]) == ("pending", "Bitcoin lock")


def test_the_pinned_json_bundle_claims_what_the_verdict_says_and_verifies(story_mint):
    tx = "0x" + bytes(story_mint.transaction.hash).hex()
    data = build("json", at_btc_height=112, at_hemi_block=25)
    found = members(data)
    item = json.loads(found["manifest.jsonl"].splitlines()[1])
    assert item["verdict"] == "pending" and item["bundle_sha256"] is not None
    claims = json.loads(found[f"bundles/{tx}.json"])["claims"]
    assert (claims["bitcoin_tip_height"], claims["effective_confirmations"], claims["superfinal"]) == (112, 7, False)
    assert found[f"bundles/{tx}.json"] == evidence.export_bytes(story_mint, at=At(112, 25))
    assert verify_report(io.BytesIO(data)).ok
    # The mint scope's JSON is that bundle, verified on its own.
    bundle = build("json", scope="mint", id=tx, at_btc_height=112, at_hemi_block=25)
    assert bundle == found[f"bundles/{tx}.json"] and verify_bundle(bundle).ok
    # At the tips the same mint's bundle is superfinal.
    tips = json.loads(members(build("json"))[f"bundles/{tx}.json"])["claims"]
    assert (tips["bitcoin_tip_height"], tips["superfinal"]) == (115, True)


def test_below_the_hvm_views_tip_no_bundle_is_exported_and_the_manifest_says_why(story_mint):
    data = build("json", at_btc_height=103, at_hemi_block=25)
    found = members(data)
    assert list(found) == ["manifest.jsonl"]
    item = json.loads(found["manifest.jsonl"].splitlines()[1])
    assert item["verdict"] == "pending" and item["bundle_sha256"] is None
    waiting = "the hVM tip (Bitcoin height 104) lies above the Bitcoin height judged at (103)"
    assert item["bundle_unavailable"] == waiting
    assert verify_report(io.BytesIO(data)).ok


def test_a_pinned_report_is_what_the_explorer_wrote_when_the_chains_ended_there(story_mint):
    """Pinned at (112, 25), the report is byte for byte the unpinned one written on a database
    whose Bitcoin chain ends at 112 - before blocks 113..115 were indexed."""
    from indexer.bitcoin.models import BitcoinBlock

    pinned = {fmt: build(fmt, at_btc_height=112, at_hemi_block=25) for fmt in ("csv", "json")}
    tunnel_pinned = build("csv", scope="tunnel", at_btc_height=112, at_hemi_block=25)
    BitcoinBlock.objects.filter(height__gt=112).delete()
    assert {fmt: build(fmt) for fmt in ("csv", "json")} == pinned
    assert build("csv", scope="tunnel") == tunnel_pinned
    assert {fmt: build(fmt, at_btc_height=112, at_hemi_block=25) for fmt in ("csv", "json")} == pinned


def test_pinned_at_the_tips_the_report_is_the_unpinned_one(story_mint):
    for fmt in ("csv", "json"):
        assert build(fmt, at_btc_height=115, at_hemi_block=25) == build(fmt)
    # One pin: the other position is the tip, recorded and judged alike.
    assert build("csv", at_btc_height=112) == build("csv", at_btc_height=112, at_hemi_block=25)


def test_pins_above_the_tips_are_still_refused(story_mint):
    with pytest.raises(ReportRequestError, match="above the indexed Bitcoin tip 115"):
        build("json", at_btc_height=116, at_hemi_block=25)
    with pytest.raises(ReportRequestError, match="above the indexed Hemi tip 25"):
        build("csv", at_btc_height=112, at_hemi_block=26)


def test_the_pdf_says_whether_it_was_judged_at_pins_and_shows_the_mint_pending_there(story_mint):
    from tests.reports.test_report_build import _pdf_text

    pinned = _pdf_text(build("pdf", at_btc_height=112, at_hemi_block=25))
    assert "Pinned: every verdict, confirmation count and evidence bundle is judged at these positions" in pinned
    assert "Failed and pending items (1)" in pinned and "mint pending at Bitcoin anchoring" in pinned
    assert "waiting for 3 more Bitcoin block(s)" in pinned
    unpinned = _pdf_text(build("pdf"))
    assert "Judged at the indexed tips, which stood at these positions" in unpinned
    assert "Failed and pending items (0)" in unpinned
