"""Offline verification of a whole Hemiscope audit report archive (pure: no Django, no network).

A report archive (``explorer/reports/archive.py``) holds ``manifest.jsonl`` and one evidence
bundle per mint that has one. Checked in one pass over the stream, never loading it whole:

1. archive   - every member header is the canonical one for its name and size, padding is zeros,
               nothing follows the end marker (a changed header or padding byte fails here);
2. manifest  - read line by line, each line bounded (size, structure, nesting) before it is
               parsed and exactly its canonical serialization; a header line (format, request,
               positions, network, columns), one line per item with exactly the item keys, and
               a trailer whose counts and ``manifest_sha256`` (of every line before it) agree;
3. bundles   - in manifest order, each named for its mint, within the bundle size limit before
               it is read, with the SHA-256 the manifest names, verified link by link by
               ``verify_bundle``, and claiming the mint, deposit, amounts and recipient the
               manifest's item states.

Memory: 96 bytes per bundle (mint hash, digest, claims digest: to meet the bundles after the manifest)
plus one bundle at a time. The manifest digest catches any changed byte; what no forger can
recompute is the chain evidence in the bundles, and the report's own SHA-256 (which the PDF and
the job status name) pins the rest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO

from explorer.bounds import DEFAULT_JSON_LIMITS, BoundsError, JsonLimits, load_json
from explorer.reports import archive
from explorer.verify import LinkResult, verify_bundle

REPORT_FORMAT = "hemiscope-report/1"
ITEM_COLUMNS = (
    "kind",
    "hemi_tx_hash",
    "hemi_block",
    "hemi_log_index",
    "bitcoin_txid_display",
    "bitcoin_height",
    "vault",
    "party",
    "amount_sats",
    "net_sats",
    "verdict",
    "stage",
    "reason",
)
ITEM_KEYS = frozenset(ITEM_COLUMNS) | {"bundle_sha256", "bundle_unavailable"}
HEADER_KEYS = frozenset({"format", "request", "positions", "network", "columns"})
KINDS = ("mint", "deposit", "withdrawal")
VERDICTS = ("verified", "pending", "failed")
# A manifest line is one item (~600 bytes) or the header (with a reserves section: a few kB).
LINE_LIMITS = JsonLimits(max_bytes=256 * 1024, max_structure=20_000, max_depth=8, max_int_digits=80)
REPORT_STEPS = ("archive", "manifest", "bundles")
ENTRY = 96
# Bundles one report may hold: the verifier keeps ENTRY bytes per bundle (192 MB at this bound),
# so a hostile manifest of endless item lines is refused instead of exhausting memory.
MAX_BUNDLES = 2_000_000
_SHA = re.compile(r"[0-9a-f]{64}")
_TX = re.compile(r"0x[0-9a-f]{64}")


def canonical_line(obj) -> bytes:
    """One manifest line: the exporter writes it, the verifier demands it."""
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n").encode()


class StepFailed(Exception):
    def __init__(self, step: str, reason: str):
        super().__init__(f"{step}: {reason}")
        self.step, self.reason = step, reason


@dataclass(frozen=True)
class ReportVerification:
    links: tuple[LinkResult, ...]

    @property
    def ok(self) -> bool:
        return len(self.links) == len(REPORT_STEPS) and all(r.ok for r in self.links)

    @property
    def failed(self) -> LinkResult | None:
        return next((r for r in self.links if not r.ok), None)


def _lines(member: archive.Member, limit: int):
    """Each line of a member (with its newline), never buffering more than ``limit`` + a chunk."""
    rest = b""
    while chunk := member.read(min(member._left, 1 << 16)):
        rest += chunk
        *whole, rest = rest.split(b"\n")
        for line in whole:
            yield line + b"\n"
        if len(rest) > limit:
            raise StepFailed("manifest", f"a line is longer than {limit} bytes")
    if rest:
        raise StepFailed("manifest", "the last line has no newline")


class _Manifest:
    def __init__(self):
        self.head: dict | None = None
        self.trailer: dict | None = None
        # Per bundle, 96 bytes: mint tx hash, bundle SHA-256, digest of the claims it must make.
        self.expected = bytearray()
        self.items = 0
        self.verdicts: Counter = Counter()
        self.sha = hashlib.sha256()

    def read(self, member: archive.Member) -> str:
        for number, line in enumerate(_lines(member, LINE_LIMITS.max_bytes), start=1):
            try:
                obj = load_json(line, LINE_LIMITS)
            except BoundsError as exc:
                raise StepFailed("manifest", f"line {number}: {exc}") from None
            if canonical_line(obj) != line:
                raise StepFailed("manifest", f"line {number} is not in canonical form")
            if not isinstance(obj, dict):
                raise StepFailed("manifest", f"line {number} is not an object")
            if self.trailer is not None:
                raise StepFailed("manifest", f"line {number} follows the trailer")
            if self.head is None:
                self._head(obj)
            elif set(obj) == {"end"}:
                self._trailer(obj, number)
                continue
            else:
                self._item(obj, number)
            self.sha.update(line)
        if self.head is None or self.trailer is None:
            raise StepFailed("manifest", "no header or no trailer line")
        positions = self.head["positions"]
        return (
            f"{self.items} items ({', '.join(f'{n} {v}' for v, n in sorted(self.verdicts.items())) or 'none'}), "
            f"{len(self.expected) // ENTRY} bundles, judged at Bitcoin height {positions.get('bitcoin_height')} "
            f"and Hemi block {positions.get('hemi_block')}"
        )

    def _head(self, obj: dict) -> None:
        if obj.get("format") != REPORT_FORMAT:
            raise StepFailed("manifest", f"the first line is not a {REPORT_FORMAT} header")
        if set(obj) - {"reserves"} != HEADER_KEYS:
            raise StepFailed("manifest", "the header line does not have exactly the header keys")
        if obj["columns"] != list(ITEM_COLUMNS):
            raise StepFailed("manifest", "the header names other item columns")
        if not all(isinstance(obj[k], dict) for k in ("request", "positions", "network")):
            raise StepFailed("manifest", "request, positions and network must be objects")
        self.head = obj

    def _item(self, obj: dict, number: int) -> None:
        where = f"line {number}"
        if set(obj) != ITEM_KEYS:
            raise StepFailed("manifest", f"{where} does not have exactly the item keys")
        if obj["kind"] not in KINDS or obj["verdict"] not in VERDICTS:
            raise StepFailed("manifest", f"{where}: unknown kind or verdict")
        digest = obj["bundle_sha256"]
        if digest is not None:
            tx = obj["hemi_tx_hash"]
            if obj["kind"] != "mint" or not isinstance(digest, str) or not _SHA.fullmatch(digest):
                raise StepFailed("manifest", f"{where}: a bundle digest must be 64 hex digits on a mint")
            if not isinstance(tx, str) or not _TX.fullmatch(tx):
                raise StepFailed("manifest", f"{where}: a mint's hemi_tx_hash must be 0x and 64 hex digits")
            if len(self.expected) // ENTRY >= MAX_BUNDLES:
                raise StepFailed("manifest", f"more than {MAX_BUNDLES} bundles")
            # The claims the bundle must repeat, compressed to one 32-byte digest.
            self.expected += bytes.fromhex(tx[2:]) + bytes.fromhex(digest) + _claim_digest(obj)
        self.items += 1
        self.verdicts[obj["verdict"]] += 1

    def _trailer(self, obj: dict, number: int) -> None:
        want = {
            "items": self.items,
            "bundles": len(self.expected) // ENTRY,
            "verdicts": dict(self.verdicts),
            "manifest_sha256": self.sha.hexdigest(),
        }
        if obj["end"] != want:
            raise StepFailed("manifest", f"the trailer (line {number}) does not match the lines before it")
        self.trailer = obj


def _claim_digest(fields: dict) -> bytes:
    """What a mint's manifest item and its bundle's claims must agree on, hashed to 32 bytes."""
    keys = ("hemi_tx_hash", "bitcoin_txid_display", "amount_sats", "net_sats", "party", "vault")
    return hashlib.sha256(canonical_line([str(fields.get(k)) for k in keys])).digest()


def _bundle_claims(bundle: bytes) -> bytes:
    claims = json.loads(bundle)["claims"]  # already bounded and verified by verify_bundle
    return _claim_digest(
        {
            "hemi_tx_hash": claims["mint_tx_hash"],
            "bitcoin_txid_display": claims["deposit_txid"],
            "amount_sats": claims["deposit_sats"],
            "net_sats": claims["net_sats"],
            "party": claims["recipient"],
            "vault": claims["vault"],
        }
    )


def _bundles(members, manifest: _Manifest, limits: JsonLimits) -> str:
    count = len(manifest.expected) // ENTRY
    for index in range(count):
        entry = manifest.expected[ENTRY * index : ENTRY * index + ENTRY]
        mint, digest, claims = "0x" + entry[:32].hex(), entry[32:64], entry[64:]
        member = next(members, None)
        if member is None:
            raise StepFailed("bundles", f"the archive ends after {index} of {count} bundles")
        if member.name != f"bundles/{mint}.json":
            raise StepFailed("bundles", f"member {member.name!r} where the bundle of mint {mint} belongs")
        if member.size > limits.max_bytes:
            raise StepFailed("bundles", f"bundle of {mint} is larger than the {limits.max_bytes}-byte limit")
        data = member.read()
        if hashlib.sha256(data).digest() != digest:
            raise StepFailed("bundles", f"bundle of {mint}: SHA-256 differs from the manifest's")
        result = verify_bundle(data, limits=limits)
        if not result.ok:
            failed = result.failed or result.links[-1]
            raise StepFailed("bundles", f"bundle of {mint} fails at link '{failed.link}': {failed.detail}")
        if _bundle_claims(data) != claims:
            raise StepFailed("bundles", f"bundle of {mint} claims another deposit, amount or recipient than its item")
    return f"{count} evidence bundles verified, each link by link"


def verify_report(stream: BinaryIO, *, limits: JsonLimits = DEFAULT_JSON_LIMITS) -> ReportVerification:
    """Verify a report archive read from ``stream``. Never raises on any input."""
    results: list[LinkResult] = []
    step = "archive"
    try:
        members = archive.read_members(stream)
        first = next(members, None)
        if first is None or first.name != archive.MANIFEST:
            raise StepFailed("archive", f"the first member must be {archive.MANIFEST}")
        step = "manifest"
        manifest = _Manifest()
        detail = manifest.read(first)
        results.append(LinkResult("archive", True, "canonical member headers"))
        results.append(LinkResult("manifest", True, detail))
        step = "bundles"
        detail = _bundles(members, manifest, limits)
        step = "archive"
        extra = next(members, None)
        if extra is not None:  # (exhausting the reader also checks the end marker)
            raise StepFailed("archive", f"unexpected member {extra.name!r} after the bundles")
        results.append(LinkResult("bundles", True, detail))
    except StepFailed as exc:
        results.append(LinkResult(exc.step, False, exc.reason))
    except archive.ArchiveError as exc:
        results.append(LinkResult("archive", False, str(exc)))
    except Exception as exc:  # a verifier bug still ends as a failed step, never a traceback
        results.append(LinkResult(step, False, f"verifier error (please report it): {type(exc).__name__}: {exc}", True))
    return ReportVerification(tuple(results))
