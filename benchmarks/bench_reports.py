"""Benchmark: a 100 000-mint token audit report exported as CSV and as JSON, with time and
peak memory (resident set size, sampled every 20 ms) of the whole process.

The memory goal is flat: the peak over the whole export should be the peak after its first
tenth plus a few MB, whatever the number of mints. The peer measured in the same run is the floor
of any export of these rows: PostgreSQL's own ``COPY (SELECT ...) TO STDOUT`` of the same mints
as CSV, without judging anything. Verdicts are live today (about 15 queries per mint, issue 15
stores them), which is where the time goes.

Run through the services launcher (it needs PostgreSQL): ``make bench-reports`` (also part of
``make bench``), or ``python -m hemiscope.services run -- python benchmarks/bench_reports.py
--mints 10000``. It creates its own throwaway database and drops it at the end. The mints are
``bench_provenance.populate``'s: anchored and relayed, with placeholder chain bytes, so their
verdicts are real queries and the JSON's bundles are built from real rows (of placeholder bytes
that would not verify: the cost is the export's, not the verifier's).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hemiscope.settings")
os.environ.setdefault("DEBUG", "true")
TOKEN = "0x" + "aa" * 20  # bench_provenance's token
os.environ["HEMIBTC_ADDRESS"] = TOKEN
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakRss:
    """Samples the resident set size in a thread; ``mark()`` records the peak so far."""

    def __init__(self, interval: float = 0.02):
        self.peak = rss_bytes()
        self.marks: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak = max(self.peak, rss_bytes())

    def mark(self) -> None:
        self.peak = max(self.peak, rss_bytes())
        self.marks.append(self.peak)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def export(fmt: str, mints: int) -> tuple[float, PeakRss, int]:
    from explorer.reports.build import write_report
    from explorer.reports.request import make_request

    req = make_request("token", id=TOKEN)
    tenth = max(1, mints // 10)
    with tempfile.TemporaryFile() as out, PeakRss() as rss:
        marked = [False]

        def progress(done: int, total: int) -> None:
            if done >= tenth and not marked[0]:
                rss.mark()
                marked[0] = True

        start = time.perf_counter()
        summary = write_report(req, fmt, out, progress=progress)
        elapsed = time.perf_counter() - start
        size = out.tell()
    assert summary.total == mints, (summary.total, mints)
    return elapsed, rss, size


def copy_floor() -> float:
    from django.db import connection

    sql = (
        "COPY (SELECT encode(t.hash, 'hex'), b.number, l.log_index, encode(d.deposit_txid_internal, 'hex'), "
        "d.deposit_sats, d.net_sats FROM hemi_depositconfirmation d JOIN hemi_transaction t ON t.id = d.transaction_id "
        "JOIN hemi_block b ON b.id = d.block_id JOIN hemi_log l ON l.id = d.log_id WHERE d.canonical "
        "ORDER BY b.number, l.log_index) TO STDOUT WITH CSV"
    )
    start = time.perf_counter()
    with connection.cursor() as cursor, tempfile.TemporaryFile() as out:
        with cursor.copy(sql) as copy:
            for data in copy:
                out.write(data)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mints", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,json")
    args = parser.parse_args()

    import django

    django.setup()
    from bench_provenance import populate
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    # Its own throwaway database, so a test run in the same checkout is not disturbed.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "bench_reports"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    mb = 1 << 20
    try:
        t0 = time.perf_counter()
        populate(args.mints)
        # populate() stores empty transaction bytes (its benchmark never proves them); the
        # evidence exporter builds Merkle-Patricia proofs over them, which need non-empty values.
        from indexer.hemi.models import Transaction

        Transaction.objects.update(raw=b"\x01", receipt_raw=b"\x01")
        print(f"populated {args.mints} mints in {time.perf_counter() - t0:.1f} s; RSS {rss_bytes() / mb:.0f} MB")
        floor = copy_floor()
        print(f"peer: PostgreSQL COPY of the same {args.mints} mints as CSV (no verdicts): {floor:.2f} s")
        for fmt in args.formats.split(","):
            elapsed, rss, size = export(fmt, args.mints)
            first_tenth = rss.marks[0] if rss.marks else rss.peak
            print(f"{fmt.upper()} token report of {args.mints} mints: {elapsed:.1f} s "
                  f"({args.mints / elapsed:.0f} mints/s), {size / mb:.1f} MB written")  # fmt: skip
            print(f"  peak RSS {rss.peak / mb:.0f} MB; after the first tenth {first_tenth / mb:.0f} MB "
                  f"-> growth over the other nine tenths {(rss.peak - first_tenth) / mb:.0f} MB")  # fmt: skip
            print(f"  ratio to the COPY floor: {elapsed / floor:.0f}x slower (live verdicts: ~15 queries a mint)")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
