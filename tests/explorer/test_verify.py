"""The offline verifier accepts a correct bundle and rejects any single changed byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.verify import canonical_bytes, verify_bytes
from tests.explorer.evidence_story import EvidenceStory

REPO = Path(__file__).resolve().parents[2]
LINKS = [
    "bundle encoding",
    "bitcoin headers",
    "bitcoin deposit",
    "hemi headers",
    "hemi mint",
    "hvm view",
    "keystone",
    "bitcoin anchoring",
    "finality",
]


@pytest.fixture(scope="module")
def bundle_bytes() -> bytes:
    return canonical_bytes(EvidenceStory().bundle())


def test_a_correct_bundle_verifies_every_link(bundle_bytes):
    results = verify_bytes(bundle_bytes)
    assert [r.link for r in results] == LINKS
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert results[-1].detail == "10 Bitcoin confirmations on top of the publication: superfinal"


def test_building_the_same_story_twice_gives_the_same_bytes(bundle_bytes):
    assert canonical_bytes(EvidenceStory().bundle()) == bundle_bytes


def _flip(byte: int) -> int:
    """A same-kind change where possible, so semantic checks (not just JSON parsing) are hit."""
    hexdigits = b"0123456789abcdef"
    if byte in hexdigits:
        return hexdigits[(hexdigits.index(byte) + 1) % 16]
    if 65 <= byte <= 90 or 97 <= byte <= 122:
        return byte ^ 0x20
    return {32: 9, 10: 32}.get(byte, 32)


def _section_spans(data: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges of each second-level section in the canonical file."""
    text = data.decode()
    spans = {}
    bundle = json.loads(text)
    for top in ("network", "claims", "bitcoin", "hemi"):
        for key in bundle[top]:
            marker = f'"{key}": '
            start = text.index(marker, text.index(f'"{top}": '))
            value = json.dumps(bundle[top][key], sort_keys=True, indent=1)
            spans[f"{top}.{key}"] = (start, start + len(marker) + len(value.replace("\n", "\n" + " " * 2)) + 8)
    return spans


def test_changing_any_single_byte_in_any_section_fails(bundle_bytes):
    spans = _section_spans(bundle_bytes)
    assert len(spans) == 5 + 20 + 4 + 6
    failures_seen = set()
    for section, (start, end) in spans.items():
        end = min(end, len(bundle_bytes))
        step = max(1, (end - start) // 40)  # ~40 flips per section, every byte of small ones
        for offset in range(start, end, step):
            tampered = bytearray(bundle_bytes)
            tampered[offset] = _flip(tampered[offset])
            results = verify_bytes(bytes(tampered))
            assert not results[-1].ok, f"flip at {offset} in {section} went unnoticed"
            failures_seen.add(results[-1].link)
    # Tampering is caught by the link that owns the bytes, not only by the JSON parser.
    assert {
        "bitcoin headers",
        "bitcoin deposit",
        "hemi headers",
        "hemi mint",
        "hvm view",
        "keystone",
        "bitcoin anchoring",
        "finality",
    } <= failures_seen


def test_whitespace_and_key_order_count_as_changes(bundle_bytes):
    bundle = json.loads(bundle_bytes)
    assert verify_bytes(json.dumps(bundle).encode())[-1].link == "bundle encoding"
    assert not verify_bytes(bundle_bytes + b" ")[-1].ok


def test_a_mint_with_three_hvm_confirmations_fails_at_the_hvm_link():
    story = EvidenceStory()
    bundle = story.bundle()
    # Claim the view tip was block 103: the claim no longer matches the relayed tip (104).
    bundle["claims"]["hvm_confirmations"] = 3
    results = verify_bytes(canonical_bytes(bundle))
    assert (results[-1].link, results[-1].ok) == ("hvm view", False)
    assert "hvm_confirmations" in results[-1].detail


def test_a_bundle_with_too_few_confirmations_is_not_superfinal():
    story = EvidenceStory()
    bundle = story.bundle()
    bundle["bitcoin"]["headers"] = bundle["bitcoin"]["headers"][:-3]
    claims = bundle["claims"]
    claims.update(
        bitcoin_tip_height=112,
        bitcoin_tip_hash=_display_hash(bundle["bitcoin"]["headers"][-1]),
        effective_confirmations=7,
        superfinal=False,
    )
    results = verify_bytes(canonical_bytes(bundle))
    assert all(r.ok for r in results)
    assert results[-1].detail.endswith("not yet superfinal")


def _display_hash(header_hex: str) -> str:
    from indexer.hashing import dsha256

    return dsha256(bytes.fromhex(header_hex))[::-1].hex()


def test_verify_evidence_needs_no_database_and_exits_1_naming_the_failed_link(bundle_bytes, tmp_path):
    good = tmp_path / "good.json"
    good.write_bytes(bundle_bytes)
    bad = tmp_path / "bad.json"
    bad.write_bytes(bundle_bytes.replace(b'"superfinal": true', b'"superfinal": false'))
    env = dict(
        os.environ,
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/nowhere",
        REDIS_URL="redis://127.0.0.1:1/0",
        DEBUG="true",
    )
    ok = subprocess.run(
        [sys.executable, "manage.py", "verify_evidence", str(good)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("all links verified")
    assert ok.stdout.count("ok  ") == 9
    failed = subprocess.run(
        [sys.executable, "manage.py", "verify_evidence", str(bad)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert "verification failed at link 'finality'" in failed.stderr
