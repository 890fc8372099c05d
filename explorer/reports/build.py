"""Writing a report: one pass over the scope's items, judged in batches, into every sink needed.

- CSV: one row per item (``items.COLUMNS`` plus the report's positions), written as judged.
- JSON: the archive of ``archive.py``. The manifest (JSON lines, each canonical: a header with
  request, positions and network; one line per item with its verdict and the SHA-256 of its
  evidence bundle; a trailer with the counts) and the bundles are spooled to two temporary
  files while judging, then joined behind the manifest's header. A ``mint`` scope's JSON is
  that mint's evidence bundle itself (one canonical file, what ``provenance_export`` writes)
  once its evidence is complete; until then it is the archive, whose manifest says why.
- PDF: the JSON and CSV are written first (to temporary files, hashed, then dropped) and the
  PDF summarises them, naming both hashes.

Memory stays flat in the number of items: batches are dropped once written (a batch's mint
bundles are built together by ``evidence.export_many``, which reads the rows they share once,
and written one by one); only the PDF keeps the failed and pending items (shown in full) and
the first verified ones.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from explorer import evidence
from explorer.at import At
from explorer.reports import archive, collect, hooks, items
from explorer.reports.positions import Positions, judged_at, resolve
from explorer.reports.request import ReportRequestError, Request
from explorer.verdicts import VERIFIED
from explorer.verify_report import REPORT_FORMAT, canonical_line
from hemiscope import networks

POSITION_COLUMNS = ("judged_at_bitcoin_height", "judged_at_hemi_block")
PDF_VERIFIED_ITEMS = 50  # the PDF lists this many verified items; the JSON and CSV hold them all
Progress = Callable[[int, int], None]


@dataclass
class Summary:
    request: Request
    positions: Positions
    network: dict
    reserves: dict | None = None
    total: int = 0
    counts: Counter = field(default_factory=Counter)  # (kind, verdict) -> n
    bundles: int = 0
    open_items: list = field(default_factory=list)  # failed and pending items, in full (PDF)
    first_verified: list = field(default_factory=list)
    digests: dict = field(default_factory=dict)  # "json"/"csv" -> SHA-256 hex (PDF)
    at: At | None = None  # where items and bundles are judged: a pinned report's positions

    def verdict_counts(self) -> dict:
        out: Counter = Counter()
        for (_, verdict), n in self.counts.items():
            out[verdict] += n
        return dict(sorted(out.items()))


def network_record() -> dict:
    net = networks.current()
    return {
        "name": net.name,
        "bitcoin_network": net.bitcoin_network,
        "tunnel_manager": (net.tunnel_manager_address or "").lower(),
        "hemibtc": (net.hemibtc_address or "").lower(),
    }


class CsvSink:
    def __init__(self, out: BinaryIO, pos: Positions):
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self.writer = csv.writer(self.text, lineterminator="\n")
        self.writer.writerow(items.COLUMNS + POSITION_COLUMNS)
        self.tail = (pos.btc_height, pos.hemi_block)

    def add_batch(self, batch: list[items.Judged]) -> None:
        for j in batch:
            self.writer.writerow([_cell(j.fields[c]) for c in items.COLUMNS] + list(self.tail))

    def finish(self) -> None:
        self.text.flush()
        self.text.detach()  # leave ``out`` open for the caller


def _cell(value) -> str:
    return "" if value is None else str(value)


class ArchiveSink:
    def __init__(self, out: BinaryIO, summary: Summary, tmpdir: str | None):
        self.out = out
        self.at = summary.at
        self.manifest = tempfile.TemporaryFile(dir=tmpdir)
        self.bundles = tempfile.TemporaryFile(dir=tmpdir)
        head = {
            "format": REPORT_FORMAT,
            "request": summary.request.selectors(),
            "positions": summary.positions.as_dict(),
            "network": summary.network,
            "columns": list(items.COLUMNS),
        }
        if summary.reserves is not None:
            head["reserves"] = summary.reserves
        self.sha = hashlib.sha256()
        self._line(head)
        self.items = self.with_bundle = 0
        self.verdicts: Counter = Counter()

    def add_batch(self, batch: list[items.Judged]) -> None:
        # The batch's mint bundles are built together (explorer.evidence.export_many reads the
        # rows a batch shares once) and written as they come, in batch order.
        bundles = evidence.export_many([j.row for j in batch if j.kind == collect.MINT], self.at)
        for j in batch:
            digest = unavailable = None
            if j.kind == collect.MINT:
                _, data, unavailable = next(bundles)  # the same mints, in the same order
                if data is not None:
                    digest = hashlib.sha256(data).hexdigest()
                    name = f"bundles/{j.id}.json"
                    self.bundles.write(archive.header(name, len(data)) + data + archive.padding(len(data)))
                    self.with_bundle += 1
            self._line({**j.fields, "bundle_sha256": digest, "bundle_unavailable": unavailable})
            self.items += 1
            self.verdicts[j.verdict] += 1

    def _line(self, obj) -> None:
        line = canonical_line(obj)
        self.sha.update(line)
        self.manifest.write(line)

    def finish(self) -> None:
        counts = {"items": self.items, "bundles": self.with_bundle, "verdicts": dict(self.verdicts)}
        trailer = {"end": {**counts, "manifest_sha256": self.sha.hexdigest()}}
        self.manifest.write(canonical_line(trailer))
        size = self.manifest.tell()
        self.out.write(archive.header(archive.MANIFEST, size))
        for spool in (self.manifest, self.bundles):
            spool.seek(0)
            shutil.copyfileobj(spool, self.out, 1 << 20)
            spool.close()
            if spool is self.manifest:
                self.out.write(archive.padding(size))
        self.out.write(archive.END)


class _Hashing:
    """A write-only file that hashes what passes through it."""

    def __init__(self, out: BinaryIO):
        self.out, self.sha = out, hashlib.sha256()

    def write(self, data) -> int:
        self.sha.update(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()

    # io.TextIOWrapper asks these of the buffer it wraps.
    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False


def run(req: Request, sinks: list, summary: Summary, progress: Progress | None, keep_items: bool) -> None:
    total = collect.count(req, summary.positions) if progress else 0
    done = 0
    for kind, rows in collect.iter_batches(req, summary.positions):
        batch = items.judge(kind, rows, summary.at)
        for sink in sinks:
            sink.add_batch(batch)
        for j in batch:
            summary.total += 1
            summary.counts[(j.kind, j.verdict)] += 1
            if keep_items:
                if j.verdict != VERIFIED:
                    summary.open_items.append(j)
                elif len(summary.first_verified) < PDF_VERIFIED_ITEMS:
                    summary.first_verified.append(j)
        done += len(rows)
        if progress:
            progress(done, max(total, done))
    for sink in sinks:
        sink.finish()
        if isinstance(sink, ArchiveSink):
            summary.bundles = sink.with_bundle


def write_report(
    req: Request, fmt: str, out: BinaryIO, *, progress: Progress | None = None, tmpdir: str | None = None
) -> Summary:
    """Write the report to ``out`` and return what it found. ReportRequestError for a scope that
    cannot be reported (nothing indexed, a pin above the tip, a mint without evidence yet)."""
    pos = resolve(req)
    summary = Summary(req, pos, network_record(), hooks.reserves_section(pos), at=judged_at(req, pos))
    if fmt == "csv":
        run(req, [CsvSink(out, pos)], summary, progress, keep_items=False)
    elif fmt == "json":
        _json(req, out, summary, progress, [], tmpdir)
    elif fmt == "pdf":
        from explorer.reports import pdf  # WeasyPrint loads its system libraries: only when needed

        with tempfile.TemporaryFile(dir=tmpdir) as j_file, tempfile.TemporaryFile(dir=tmpdir) as c_file:
            j_out, c_out = _Hashing(j_file), _Hashing(c_file)
            _json(req, j_out, summary, progress, [CsvSink(c_out, pos)], tmpdir, keep_items=True)
            summary.digests = {"json": j_out.sha.hexdigest(), "csv": c_out.sha.hexdigest()}
        out.write(pdf.render(summary))
    else:
        raise ReportRequestError(f"unknown format {fmt!r}")
    return summary


def _json(req, out, summary, progress, others: list, tmpdir, *, keep_items: bool = False) -> None:
    """The JSON report (with ``others`` sinks fed in the same pass): a mint scope whose evidence
    is available is that one bundle; anything else is the archive."""
    if req.scope == "mint":
        bundle = _mint_bundle(req, summary)
        if bundle is not None:
            out.write(bundle)
            run(req, others, summary, progress, keep_items)
            summary.bundles = 1
            return
    run(req, [*others, ArchiveSink(out, summary, tmpdir)], summary, progress, keep_items)


def _mint_bundle(req: Request, summary: Summary) -> bytes | None:
    """The bundle of a mint scope's one mint, or None while its evidence is unavailable (then
    the archive's manifest says why)."""
    mint = collect.mints(req, summary.positions).select_related("transaction", "block").first()
    if mint is None:
        raise ReportRequestError(f"no canonical hemiBTC mint in transaction {req.id} at or below the pinned block")
    try:
        return evidence.export_bytes(mint, at=summary.at)
    except evidence.EvidenceUnavailable:
        return None
