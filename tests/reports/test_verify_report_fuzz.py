"""Mutated report archives: the whole-report verifier answers with a named failed step, never
raises, and never passes a changed archive. The base archive is built here from the evidence
story's real bundle (no database), with the writer's own header, padding and line codecs.

Marked ``fuzz``: ``HEMISCOPE_FUZZ_EXAMPLES`` sets the case count (``make fuzz`` runs 100 000).
"""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from explorer.reports import archive
from explorer.verify import canonical_bytes
from explorer.verify_report import ITEM_COLUMNS, REPORT_FORMAT, REPORT_STEPS, canonical_line, verify_report
from tests.explorer.evidence_story import EvidenceStory
from tests.fuzzing import FUZZ, ByteSource


def story_archive() -> bytes:
    bundle = canonical_bytes(EvidenceStory().bundle())
    claims = json.loads(bundle)["claims"]
    item = dict.fromkeys(ITEM_COLUMNS)
    item.update(
        kind="mint",
        hemi_tx_hash=claims["mint_tx_hash"],
        bitcoin_txid_display=claims["deposit_txid"],
        amount_sats=str(claims["deposit_sats"]),
        net_sats=str(claims["net_sats"]),
        party=claims["recipient"],
        vault=claims["vault"],
        verdict="verified",
        stage="superfinal",
        reason="",
        bundle_sha256=hashlib.sha256(bundle).hexdigest(),
        bundle_unavailable=None,
    )
    head = {"format": REPORT_FORMAT, "request": {"scope": "tunnel"}, "network": {"name": "devnet"},
            "positions": {"bitcoin_height": 115, "hemi_block": 25}, "columns": list(ITEM_COLUMNS)}  # fmt: skip
    lines = canonical_line(head) + canonical_line(item)
    end = {"items": 1, "bundles": 1, "verdicts": {"verified": 1}, "manifest_sha256": hashlib.sha256(lines).hexdigest()}
    manifest = lines + canonical_line({"end": end})
    name = f"bundles/{claims['mint_tx_hash']}.json"
    return b"".join([
        archive.header(archive.MANIFEST, len(manifest)), manifest, archive.padding(len(manifest)),
        archive.header(name, len(bundle)), bundle, archive.padding(len(bundle)), archive.END,
    ])  # fmt: skip


BASE = story_archive()


def test_the_base_archive_verifies():
    result = verify_report(io.BytesIO(BASE))
    assert result.ok, result.links
    assert [r.link for r in result.links] == list(REPORT_STEPS)


def test_more_bundles_than_the_bound_are_refused(monkeypatch):
    from explorer import verify_report as module

    monkeypatch.setattr(module, "MAX_BUNDLES", 0)
    result = verify_report(io.BytesIO(BASE))
    assert not result.ok and result.failed.detail == "more than 0 bundles"


def test_every_single_byte_flip_of_the_manifest_and_headers_fails():
    # The whole manifest member and the bundle's header, byte by byte (the bundle's own bytes are
    # the bundle verifier's, fuzzed in tests/explorer/test_verify_fuzz.py).
    manifest_end = 512 + next(archive.read_members(io.BytesIO(BASE))).size
    bundle_header = manifest_end + (-manifest_end % 512)
    for position in [*range(0, manifest_end + 1), *range(bundle_header, bundle_header + 512)]:
        changed = bytearray(BASE)
        changed[position] ^= 0x20
        result = verify_report(io.BytesIO(bytes(changed)))
        assert not result.ok, position
        assert not any(r.unexpected for r in result.links), (position, result.links)


@pytest.mark.fuzz
@FUZZ
@given(st.binary(max_size=64))
def test_mutated_archives_fail_by_name(data):
    src = ByteSource(data)
    mutated = bytearray(BASE)
    for _ in range(1 + src.below(3)):
        op = src.below(4)
        at = src.below(len(mutated) + 1)
        if op == 0 and at < len(mutated):
            mutated[at] ^= 1 + src.below(255)
        elif op == 1:
            del mutated[at : at + 1 + src.below(600)]
        elif op == 2:
            mutated[at:at] = src.blob(40, 1)
        else:
            mutated = mutated[:at]
    result = verify_report(io.BytesIO(bytes(mutated)))
    assert not any(r.unexpected for r in result.links), result.links
    if bytes(mutated) != BASE:
        assert not result.ok
