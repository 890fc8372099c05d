"""Benchmark: a 100 000-mint token audit report exported as CSV and as JSON, with time and peak
memory (resident set size, sampled every 20 ms) of the process that exports.

The memory goal is flat: the peak over the whole export should be the peak after its first tenth
plus a few MB, whatever the number of mints. Each format is exported in a fresh process of its
own (``--export-child``): in the process that had just populated the rows, the first export
showed memory the populating left to the allocator coming back as "growth". The peer measured in
the same run is the floor of any export of these rows: PostgreSQL's own ``COPY (SELECT ...) TO
STDOUT`` of the same mints as CSV, without judging anything. A report reads each mint's stored
verdict when it is verified, settled and current, and judges live only the rest
(``explorer.reports.items``); the second peer is judging every mint live (what reports did
before), priced from a sample of mints judged for real in the same run. Stored verdicts are
seeded as a finished backfill leaves them: the sample judged for real, the rest written set-wise
like it (not what is measured), the newest mints judged for real (those a young chain leaves
unsettled, which the report judges live).

Both formats print time (and milliseconds a mint), bytes written, peak RSS and its growth after
the first tenth, and the ratios to both peers; the run rewrites the ``bench_reports`` section of
BENCHMARKS.md with one table row per format (``benchmarks/results.py``).

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


SAMPLE = 300  # mints judged live to price the "every mint live" peer


def seed_verdicts(mints: int) -> float:
    """Store verdicts as a finished backfill leaves them; returns seconds per mint judged live."""
    from django.db import connection

    from explorer import verdict_store
    from explorer.models import MintVerdict
    from indexer.hemi.models import DepositConfirmation

    ids = list(DepositConfirmation.objects.order_by("pk").values_list("pk", flat=True))
    sample = ids[: -SAMPLE : max(1, len(ids) // SAMPLE)][:SAMPLE] or ids[:1]
    start = time.perf_counter()
    verdict_store.store("mint", sample)
    per_mint_s = (time.perf_counter() - start) / len(sample)
    typical = MintVerdict.objects.get(pk=sample[len(sample) // 2])
    table = MintVerdict._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (mint_id, verdict, stage, reason, settled, waiting_for_bitcoin, bitcoin_height,"  # noqa: S608
            " bitcoin_hash_internal, hemi_number, hemi_hash, depends_bitcoin_height, depends_hemi_number, computed_at)"
            " SELECT d.id, v.verdict, v.stage, v.reason, v.settled, v.waiting_for_bitcoin, v.bitcoin_height,"
            " v.bitcoin_hash_internal, v.hemi_number, v.hemi_hash, v.depends_bitcoin_height, b.number, v.computed_at"
            f" FROM hemi_depositconfirmation d JOIN hemi_block b ON b.id = d.block_id, {table} v"
            " WHERE v.mint_id = %s ON CONFLICT DO NOTHING",
            [typical.pk],
        )
        cur.execute("ANALYZE")
    verdict_store.store("mint", ids[-SAMPLE:])  # the newest, judged for real
    settled = MintVerdict.objects.filter(verdict="verified", settled=True).count()
    print(f"stored verdicts: typical {typical.verdict}/{typical.stage} settled={typical.settled}; "
          f"{settled} of {mints} verified and settled")  # fmt: skip
    return per_mint_s


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


def export_child(fmt: str, mints: int, database: str) -> None:
    """``--export-child``: one export in a process that did nothing else (the parent runs one per
    format), so its peak RSS is the export's own - not memory the populating left to the
    allocator, which the first export in the populating process used to show as growth."""
    import json

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.DEBUG = False
    connection.settings_dict["NAME"] = database
    from explorer.queries import tunnel as tunnel_queries

    judged_live: list[int] = []
    real = tunnel_queries.mint_verdicts
    tunnel_queries.mint_verdicts = lambda rows: judged_live.append(len(rows)) or real(rows)
    baseline = rss_bytes()
    elapsed, rss, size = export(fmt, mints)
    first_tenth = rss.marks[0] if rss.marks else rss.peak
    print(json.dumps({"elapsed": elapsed, "peak": rss.peak, "first_tenth": first_tenth, "size": size,
                      "baseline": baseline, "judged_live": sum(judged_live)}))  # fmt: skip


def export_in_fresh_process(fmt: str, mints: int, database: str) -> dict:
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--mints", str(mints), "--export-child", fmt, "--database", database],
        check=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


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
    parser.add_argument("--export-child", help=argparse.SUPPRESS)  # internal: one export, see export_child
    parser.add_argument("--database", default="bench_reports", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.export_child, args.mints, args.database)
        return 0

    import results  # benchmarks/results.py, beside this file

    started, where = results.stamp(), results.machine()
    import django

    django.setup()
    from django.conf import settings

    # Production runs with DEBUG off; with it on, Django keeps the SQL of the last 9000 queries,
    # which with the report's 500-id IN lists is memory the export itself does not use.
    settings.DEBUG = False
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
        per_mint_s = seed_verdicts(args.mints)
        live_s = per_mint_s * args.mints
        print(f"peer: judging every mint live, {per_mint_s * 1000:.0f} ms a mint (sample of {SAMPLE}): "
              f"{live_s:.0f} s for {args.mints} mints, judging alone")  # fmt: skip
        rows = []
        for fmt in args.formats.split(","):
            r = export_in_fresh_process(fmt, args.mints, connection.settings_dict["NAME"])
            elapsed, peak, first_tenth, size = r["elapsed"], r["peak"], r["first_tenth"], r["size"]
            print(f"{fmt.upper()} token report of {args.mints} mints: {elapsed:.1f} s "
                  f"({args.mints / elapsed:.0f} mints/s, {elapsed / args.mints * 1000:.2f} ms a mint), "
                  f"{size / mb:.1f} MB written")  # fmt: skip
            print(f"  in a fresh process: RSS {r['baseline'] / mb:.0f} MB before the export, peak {peak / mb:.0f} MB; "
                  f"after the first tenth {first_tenth / mb:.0f} MB "
                  f"-> growth over the other nine tenths {(peak - first_tenth) / mb:.0f} MB")  # fmt: skip
            print(f"  {r['judged_live']} mints judged live (not verified and settled), the rest read stored")
            print(f"  ratio to the COPY floor: {elapsed / floor:.0f}x slower; to judging every mint live: "
                  f"{live_s / elapsed:.1f}x faster")  # fmt: skip
            rows.append(
                f"| {fmt.upper()} | {elapsed:.1f} | {elapsed / args.mints * 1000:.2f} | {size / mb:.1f} "
                f"| {r['baseline'] / mb:.0f} | {peak / mb:.0f} | {first_tenth / mb:.0f} "
                f"| {(peak - first_tenth) / mb:.0f} "
                f"| {r['judged_live']} | {elapsed / floor:.0f}x | {live_s / elapsed:.1f}x |"
            )
        load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
        results.write_section(
            "bench_reports",
            "make bench-reports: audit report export",
            f"Run {started} on {where}; load average {load_end} at the end.\n\n"
            f"Token report of {args.mints} mints (`bench_provenance.populate`'s rows, every verdict stored). "
            f"Peers measured in the same run: PostgreSQL `COPY` of the same rows as CSV {floor:.2f} s; "
            f"judging every mint live {per_mint_s * 1000:.0f} ms a mint (sample of {SAMPLE}), "
            f"{live_s:.0f} s for all.\n\n"
            "Each format is exported in a fresh process of its own (RSS before, peak, after the first tenth).\n\n"
            "| format | seconds | ms a mint | MB written | RSS before MB | peak RSS MB | RSS after first tenth MB "
            "| growth MB | judged live | vs COPY | vs judging live |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n",
        )
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
