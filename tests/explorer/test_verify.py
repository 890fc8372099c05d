"""The offline verifier accepts a correct bundle and rejects any single changed byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.bounds import JsonLimits
from explorer.verify import canonical_bytes, verify_bundle, verify_bytes
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


def _deep_rlp(depth: int) -> str:
    out = b"\xc0"
    for _ in range(depth):
        n = len(out)
        width = (n.bit_length() + 7) // 8
        out = (bytes([0xC0 + n]) if n < 56 else bytes([0xF7 + width]) + n.to_bytes(width, "big")) + out
    return out.hex()


def _set(path: str, value):
    def change(bundle):
        *parents, last = path.split(".")
        node = bundle
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


# Each shape once crashed the verifier (the line of explorer/verify.py before the fix in brackets).
MALFORMED = {
    "claims a list [92]": (_set("claims", ["x"]), "bundle encoding", "claims must be an object, not list"),
    "deposit item a list [115]": (_set("bitcoin.deposit", ["x"]), "bundle encoding", "bitcoin.deposit must be"),
    "mint item a string [135]": (_set("hemi.mint", "x"), "bundle encoding", "hemi.mint must be an object"),
    "bitcoin section a list [156]": (_set("bitcoin", []), "bundle encoding", "bitcoin must be an object"),
    "hemi section a number [196]": (_set("hemi", 7), "bundle encoding", "hemi must be an object"),
    "l1_info null [323]": (_set("hemi.l1_info", None), "bundle encoding", "hemi.l1_info must be an object"),
    "network name a list [378]": (_set("network.name", ["devnet"]), "bundle encoding", "do not match"),
    "missing key": (lambda b: b["hemi"]["mint"].pop("receipt_proof"), "bundle encoding", "missing receipt_proof"),
    "extra key": (_set("bitcoin.pop.note", "hi"), "bundle encoding", "unexpected 'note'"),
    "start height a string": (_set("bitcoin.start_height", "101"), "bitcoin headers", "start_height must be"),
    "headers an object": (_set("bitcoin.headers", {"a": 1}), "bitcoin headers", "must be a list, not dict"),
    "header a number": (_set("hemi.headers.3", 12), "hemi headers", "header must be a hex string"),
    "merkle branch a string": (_set("bitcoin.deposit.merkle_branch", "ab"), "bitcoin deposit", "must be a list"),
    "tx index negative": (_set("hemi.mint.tx_index", -1), "hemi mint", "tx_index must be a non-negative"),
    "proof a dict": (_set("hemi.hvm_view.tx_proof", {}), "hvm view", "proof node list must be a list"),
    "huge height": (_set("bitcoin.pop.height", 2**200), "bitcoin anchoring", "no Bitcoin header at height"),
    "upper-case hex": (
        lambda b: b["bitcoin"].update(headers=[h.upper() for h in b["bitcoin"]["headers"]]),
        "bitcoin headers",
        "lower-case hex",
    ),
    "hex with a space": (_set("hemi.l1_info.tx_proof.0", "aa bb"), "keystone", "lower-case hex"),
    "tunnel manager without 0x": (_set("network.tunnel_manager", "11" * 20), "hemi mint", "must start with 0x"),
    "tunnel manager 19 bytes": (_set("network.tunnel_manager", "0x" + "11" * 19), "hemi mint", "must be 20 bytes"),
    "deeply nested RLP header": (_set("hemi.headers.0", _deep_rlp(3000)), "hemi headers", "nests RLP lists 3001 deep"),
    "nested JSON value": (_set("claims.superfinal", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
                          "bundle encoding", "nested 35 deep"),
    # Same value to Python, different bytes: the claim must match in type too.
    "true as 1": (_set("claims.superfinal", 1), "finality", "claim 'superfinal' is 1"),
    "0 as false": (_set("claims.deposit_vout", False), "bitcoin deposit", "claim 'deposit_vout' is False"),
    "int as float": (_set("claims.deposit_sats", float(100 * 10**8)), "bitcoin deposit", "claim 'deposit_sats'"),
    "period as float": (_set("network.keystone_period", 25.0), "bundle encoding", "keystone period must be 25"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_bundles_fail_at_a_named_link(case):
    change, link, detail = MALFORMED[case]
    bundle = EvidenceStory().bundle()
    change(bundle)
    result = verify_bundle(canonical_bytes(bundle))
    failed = result.failed
    assert failed is not None and not result.ok
    assert (failed.link, failed.unexpected) == (link, False), failed
    assert detail in failed.detail


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested 100000 deep, over the limit of 32"),
        (b'{"format": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, "nested 5001 deep"),
        (b"[" * 2_000_000, "2000000 quotes, backslashes, commas and brackets, over the limit"),
        (b'"' + b"\\" * 1000 + b"[" * 1000, "nested 1000 deep"),  # unterminated string: brackets outside any string
        (b"[" + b"0," * 1_000_001 + b"0]", "commas and brackets, over the limit of 1000000"),
        (b"[1e400]", "not a hemiscope-evidence/1 bundle"),
        (b"[NaN]", "NaN is not JSON"),
        (b"[" + b"9" * 81 + b"]", "more than 80 digits"),
        (b"\xff\xfe", "not UTF-8"),
        (b"", "not JSON"),
    ],
)
def test_unparseable_or_unbounded_input_fails_at_the_encoding_link(data, detail):
    result = verify_bundle(data)
    assert [(r.link, r.ok, r.unexpected) for r in result.links] == [("bundle encoding", False, False)]
    assert detail in result.links[0].detail


def test_a_file_over_the_size_limit_is_refused_before_parsing():
    limits = JsonLimits(max_bytes=1000)
    result = verify_bundle(b" " * 1001, limits=limits)
    assert result.links[0].detail == "larger than the 1000-byte limit"


def test_upper_case_hex_anywhere_is_a_changed_byte(bundle_bytes):
    """bytes.fromhex reads 'AB' as 'ab': the verifier must not, or a case flip would go unnoticed."""
    text = bundle_bytes.decode()
    failures = set()
    for section, (start, end) in _section_spans(bundle_bytes).items():
        letters = [i for i in range(start, min(end, len(text))) if text[i] in "abcdef"]
        for offset in letters[:: max(1, len(letters) // 8)]:
            tampered = bundle_bytes[:offset] + text[offset].upper().encode() + bundle_bytes[offset + 1 :]
            results = verify_bytes(tampered)
            assert not results[-1].ok, f"upper-cased hex at {offset} in {section} went unnoticed"
            failures.add(results[-1].link)
    assert len(failures) >= 6
