"""``make bench-scale [SCALE=small|1m] [RATE=…] [DURATION=…]``: every page and endpoint under load.

1. A database of its own per scale (``hemiscope_scale_<scale>``, on the server of
   ``DATABASE_URL``), filled once by ``manage.py make_synthetic`` and reused while its marker
   (``var/scale/<scale>.json``) matches the parameters; the build time is the ingest figure.
2. gunicorn with production settings (``DEBUG`` off, WhiteNoise, throttling on but raised,
   ``SECURE_SSL_REDIRECT=false`` on loopback) plus ``/bench/floor`` and a ``Server-Timing``
   header (``benchmarks/scale/settings.py``).
3. A load client in this process, pinned to one core: asyncio + aiohttp, open loop - request i
   is due at ``i / RATE`` seconds whatever the answers before it, so a slow endpoint cannot slow
   the arrivals down (no coordinated omission: latency counts from the due time). The mix is
   every entry of ``devnet.synthetic.request_mix`` (list heads and deep cursors, detail pages,
   search, provenance) plus the floor, in equal shares, shuffled.
4. Per endpoint: requests, errors, p50 and p99 client-side and p99 server-side, and p99 / the
   floor's p99 in the same run. Goal (issue 21): p99 <= 3x the floor, deep pages as fast as
   heads, zero errors. ``--explain`` also EXPLAINs every query each endpoint runs and lists
   the sequential scans of tables above 10 000 rows.
5. The results replace the ``bench-scale`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import results  # noqa: E402 - benchmarks/results.py, through the path set above

# (Hemi blocks, transactions per block). "small" reproduces the ratios in a few minutes.
SCALES = {"tiny": (2_000, 5), "small": (100_000, 5), "1m": (1_000_000, 10)}
SECRET_KEY = "bench-scale-not-a-secret"  # noqa: S105 - loopback bench only; shared by the server and the cursors this client signs
GOAL_RATIO = 3.0


def scale_env(base: dict[str, str], database_url: str, extra: dict[str, str]) -> dict[str, str]:
    return {
        **base,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HEMI_NETWORK": "devnet",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "THROTTLE_ANON_RATE": "100000000/min",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def database_url_for(base_url: str, name: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path="/" + name))


def ensure_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')  # name built from a fixed set of scales


def build(env: dict[str, str], scale: str, blocks: int, txs: int, marker: Path) -> dict:
    """Fill the scale database unless the marker says it holds this chain already."""
    # "verdicts": a database built before make_synthetic stored verdicts is rebuilt, not reused.
    params = {"hemi_blocks": blocks, "txs_per_block": txs, "verdicts": "stored"}
    py = [sys.executable, str(REPO / "manage.py")]
    # Always: a reused database gets the indexes added since it was built (CONCURRENTLY).
    subprocess.run([*py, "migrate", "-v0"], env=env, check=True, cwd=REPO)
    if marker.exists():
        saved = json.loads(marker.read_text())
        if saved.get("params") == params:
            print(f"reusing the {scale} database built {saved['built_at']}", flush=True)
            return saved
    # A half-built database from an interrupted run: start again from empty tables.
    subprocess.run([*py, "flush", "--no-input", "-v0"], env=env, check=True, cwd=REPO)
    started = time.monotonic()
    proc = subprocess.Popen(
        ["nice", "-n", "5", *py, "make_synthetic", "--hemi-blocks", str(blocks), "--txs-per-block", str(txs)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    last = ""
    for line in proc.stdout:  # progress lines as they come; the summary is the last one
        print(line, end="", flush=True)
        last = line
    if proc.wait() != 0:
        raise SystemExit(f"make_synthetic failed (exit {proc.returncode})")
    summary = json.loads(last)
    saved = {
        "params": params,
        "built_at": results.stamp(),
        "build_seconds": round(time.monotonic() - started, 1),
        "summary": summary,
    }
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(saved, indent=2))
    return saved


def data_size() -> dict:
    """Row counts of the big tables (planner estimates, no scans) and bytes on disk."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database())")
        total = cur.fetchone()[0]
        cur.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
            " ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 8"
        )
        tables = [(name, rows, size) for name, rows, size in cur.fetchall()]
        cur.execute("SELECT max(number) + 1 FROM hemi_block")
        blocks = cur.fetchone()[0] or 0
    return {"bytes": total, "tables": tables, "hemi_blocks": blocks}


# The worker's beat tasks that keep page numbers ready in the cache (the reserve verdict, the
# chart numbers): in production a worker runs them every HEARTBEAT_SECONDS, so no request pays
# for their aggregates; the bench runs the ones the schedule names, in a process of its own.
PAGE_CACHE_TASKS = ("explorer.refresh_reserves", "explorer.tasks.refresh_charts")
BEAT = """
import sys, time
import django
django.setup()
from django.conf import settings
from hemiscope.celery import app
app.loader.import_default_modules()  # the task modules, as a worker imports them
due = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] in sys.argv[1:]]
for entry in due:  # once before the load: a failing task stops the bench here
    app.tasks[entry["task"]]()
print(" ".join(sorted(e["task"] for e in due)), flush=True)
while True:
    time.sleep(min(e["schedule"] for e in due))
    for entry in due:
        app.tasks[entry["task"]]()
"""


def start_beat(env: dict[str, str]) -> tuple[subprocess.Popen, list[str]]:
    """The page-cache beat tasks on their schedule (HEARTBEAT_SECONDS); returns the process and
    the tasks it runs (those of PAGE_CACHE_TASKS the schedule has)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", BEAT, *PAGE_CACHE_TASKS], env=env, cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    tasks = proc.stdout.readline().split()
    if proc.poll() is not None:
        raise SystemExit("the page-cache beat tasks failed (see above)")
    return proc, tasks


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    log = open(REPO / "var" / "bench-scale-gunicorn.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "hemiscope.wsgi", "--config", "python:hemiscope.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/floor", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("gunicorn did not answer within 60 s (see var/bench-scale-gunicorn.log)")


async def load(base: str, mix: list[tuple[str, str]], rate: float, duration: float, seed: int) -> dict[str, list]:
    """Open-loop arrivals at ``rate`` per second; returns name -> [(client ms, server ms, ok)]."""
    import aiohttp

    n = int(rate * duration)
    order = [mix[i % len(mix)] for i in range(n)]
    random.Random(seed).shuffle(order)
    samples: dict[str, list] = {name: [] for name, _ in mix}
    loop = asyncio.get_running_loop()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=timeout, headers={"Accept-Encoding": "gzip"}
    ) as session:

        async def one(name: str, path: str, due: float) -> None:
            server_ms = math.nan
            try:
                async with session.get(base + path, allow_redirects=False) as r:
                    await r.read()
                    ok = r.status == 200 or (r.status == 302 and "search" in name)
                    timing = r.headers.get("Server-Timing", "")
                    if "dur=" in timing:
                        server_ms = float(timing.split("dur=")[1].split(";")[0])
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            samples[name].append(((loop.time() - due) * 1000, server_ms, ok))

        t0 = loop.time() + 0.5
        tasks = []
        for i, (name, path) in enumerate(order):
            due = t0 + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(name, path, due)))
        await asyncio.gather(*tasks)
    return samples


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: with 100 samples p99 is the 99th value)."""
    values = sorted(v for v in values if not math.isnan(v))
    if not values:
        return math.nan
    return values[max(0, math.ceil(q / 100 * len(values)) - 1)]


def explain(mix: list[tuple[str, str]]) -> list[str]:
    """Every query each endpoint runs, EXPLAINed: sequential scans of big tables, slowest query."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    lines = []
    client = Client(HTTP_HOST="localhost")  # production settings: ALLOWED_HOSTS is enforced
    with connection.cursor() as cur:
        cur.execute("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'")
        sizes = dict(cur.fetchall())
    for name, path in mix:
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            status = client.get(path).status_code
            alone_ms = (time.perf_counter() - t0) * 1000
        seq, slowest = set(), (0.0, "")
        for q in ctx.captured_queries:
            sql = q["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                plan = cur.fetchone()[0][0]
            ms = plan["Execution Time"]
            if ms > slowest[0]:
                slowest = (ms, sql)
            stack = [plan["Plan"]]
            while stack:
                node = stack.pop()
                stack.extend(node.get("Plans", ()))
                rel = node.get("Relation Name")
                if node["Node Type"] == "Seq Scan" and sizes.get(rel, 0) > 10_000:
                    seq.add(f"{rel} (~{int(sizes[rel])} rows)")
        lines.append(
            f"| {name} | {status} | {alone_ms:.0f} | {len(ctx.captured_queries)} | {slowest[0]:.1f} |"
            f" {', '.join(sorted(seq)) or '-'} |"
        )
        if slowest[0] > 20 or seq:
            print(f"[explain] {name}: slowest {slowest[0]:.1f} ms: {slowest[1][:400]}", flush=True)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(SCALES), default=os.environ.get("SCALE") or "small")
    parser.add_argument("--rate", type=float, default=float(os.environ.get("RATE") or 10), help="requests per second")
    parser.add_argument("--duration", type=float, default=float(os.environ.get("DURATION") or 240), help="seconds")
    parser.add_argument("--explain", action="store_true", default=os.environ.get("EXPLAIN") == "1")
    parser.add_argument("--client-cpu", type=int, default=1, help="core the load client is pinned to")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--build-only", action="store_true", default=os.environ.get("BUILD_ONLY") == "1",
                        help="build (or reuse) the scale database, then stop")  # fmt: skip
    parser.add_argument(
        "--exclude", default=os.environ.get("EXCLUDE") or "",
        help="regular expression: endpoints whose name matches are left out of the mix (the report says which)",
    )  # fmt: skip
    args = parser.parse_args()
    blocks, txs = SCALES[args.scale]
    base_env = dict(os.environ)
    if not base_env.get("DATABASE_URL"):
        raise SystemExit("run through the services launcher (make bench-scale): DATABASE_URL is not set")
    db_name = f"hemiscope_scale_{args.scale}"
    ensure_database(base_env["DATABASE_URL"], db_name)
    env = scale_env(base_env, database_url_for(base_env["DATABASE_URL"], db_name), {})
    # This process reads the same database with the same settings, to sign deep cursors.
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.scale.settings"
    import django

    django.setup()
    from devnet import synthetic

    env.update(synthetic.explorer_settings())
    os.environ.update(env)  # the network's addresses are read at call time
    built = build(env, args.scale, blocks, txs, REPO / "var" / "scale" / f"{args.scale}.json")
    if args.build_only:
        return 0
    mix = synthetic.request_mix()
    excluded = [name for name, _ in mix if args.exclude and re.search(args.exclude, name)]
    mix = [(name, path) for name, path in mix if name not in excluded]
    size = data_size()
    # DEBUG is off: pages name their static files through the collected manifest.
    subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "collectstatic", "--noinput", "-v0"], env=env, check=True, cwd=REPO
    )
    explained = explain(mix) if args.explain else []

    from hemiscope.services import free_port, stop_process

    port = free_port()
    server_env = {**env, "DJANGO_SETTINGS_MODULE": "benchmarks.scale.settings"}
    server = start_server(server_env, port)
    beat, beat_tasks = start_beat(server_env)
    args.beat_tasks = beat_tasks
    where = results.machine()
    started = results.stamp()
    try:
        os.sched_setaffinity(0, {args.client_cpu % (os.cpu_count() or 1)})
        full_mix = [("floor (do-nothing JSON)", "/bench/floor"), *mix]
        base = f"http://127.0.0.1:{port}"
        # Warm-up: every endpoint twice, in order (connections, caches, the planner's first plans).
        asyncio.run(load(base, full_mix * 2, rate=20, duration=len(full_mix) * 2 / 20, seed=0))
        t0 = time.monotonic()
        samples = asyncio.run(load(base, full_mix, args.rate, args.duration, seed=21))
        elapsed = time.monotonic() - t0
        beat_alive = beat.poll() is None
    finally:
        stop_process(server)
        stop_process(beat)
    if not beat_alive:
        raise SystemExit("the page-cache beat tasks stopped during the load (see above)")
    report = summarize(samples, full_mix, args, elapsed)
    body = describe(started, where, args, built, size, report, explained, excluded)
    print(body)
    if not args.no_write:
        key, title = f"bench-scale-{args.scale}", f"make bench-scale SCALE={args.scale}"
        if excluded:
            key, title = key + "-subset", title + " (subset)"
        results.write_section(key, title, body)
    return 0


def summarize(samples: dict[str, list], mix: list[tuple[str, str]], args, elapsed: float) -> dict:
    floor = samples[mix[0][0]]
    floor_p99 = percentile([c for c, _, ok in floor if ok], 99)
    floor_server_p99 = percentile([sv for _, sv, ok in floor if ok], 99)
    rows = []
    for name, _path in mix:
        s = samples[name]
        client = [c for c, _, _ in s]
        server = [sv for _, sv, _ in s]
        errors = sum(1 for *_, ok in s if not ok)
        p99 = percentile(client, 99)
        server_p99 = percentile(server, 99)
        rows.append((name, len(s), errors, percentile(client, 50), p99, server_p99, p99 / floor_p99,
                     server_p99 / floor_server_p99))  # fmt: skip
    total = sum(len(s) for s in samples.values())
    return {"rows": rows, "floor_p99": floor_p99, "floor_server_p99": floor_server_p99,
            "achieved_rate": total / elapsed, "requests": total}  # fmt: skip


def describe(started, where, args, built, size, report, explained, excluded) -> str:
    s = built["summary"]
    per_block = size["bytes"] / max(1, size["hemi_blocks"])
    tables = ", ".join(f"{n} {rows:,} rows {b / 2**20:.0f} MiB" for n, rows, b in size["tables"])
    over = [r for r in report["rows"] if r[6] > GOAL_RATIO]
    over_server = [r for r in report["rows"] if r[7] > GOAL_RATIO]
    errors = sum(r[2] for r in report["rows"])
    # Queueing shows as client time far above server time on the floor, which does no work.
    saturated = report["achieved_rate"] < 0.9 * args.rate or report["floor_p99"] > 3 * report["floor_server_p99"] + 50
    p50 = {r[0]: r[3] for r in report["rows"]}
    deep = [
        f"{name[:-5]} {p50[name] / p50[name[:-5]]:.2f}" for name in p50 if name.endswith(" deep") and name[:-5] in p50
    ]
    # Chain rows first, then the stored verdicts (make_synthetic judges them after the chain).
    write_s = s.get("build_seconds") or built["build_seconds"]
    v = s.get("verdicts")
    verdicts = (
        f" Then every verdict judged and stored through `explorer.verdict_store`'s backfill sweep (the "
        f"worker's code): {v['mints']:,} mints, {v['deposits']:,} deposits, {v['withdrawals']:,} withdrawals, "
        f"{v['blocks']:,} blocks in {v['seconds']:.0f} s."
        if v
        else " No stored verdicts (built before make_synthetic stored them)."
    )
    lines = [
        f"Run {started} on {where}.",
        "",
        f"- **Data**: {s['hemi_blocks']:,} Hemi blocks, {s['transactions']:,} transactions, "
        f"{s['bitcoin_blocks']:,} scanned Bitcoin blocks from height 859 303 (`make_synthetic`, built "
        f"{built['built_at']}, chain rows in {write_s:.0f} s = {s['transactions'] / write_s:,.0f} "
        f"transactions/s through the real write path).{verdicts} Database {size['bytes'] / 2**30:.2f} GiB = "
        f"{per_block / 1024:.1f} KiB per Hemi block. Largest tables: {tables}.",
        f"- **Load**: fixed arrival rate {args.rate:g} requests/s (achieved {report['achieved_rate']:.1f}) for "
        f"{args.duration:g} s, {report['requests']:,} requests over {len(report['rows'])} endpoints in equal shares; "
        f"open loop, latency from each request's due time; client pinned to one core; gunicorn gthread "
        f"{os.environ.get('WEB_WORKERS', '2')} workers x {os.environ.get('WEB_THREADS', '8')} threads, production "
        "settings, on loopback with the database on the same machine. "
        + (f"The worker's page-cache beat tasks ({', '.join(f'`{t}`' for t in args.beat_tasks)}) run on their "
           "schedule in a process of their own, as in production." if args.beat_tasks else
           "No page-cache beat task in the schedule."),
        *([f"- **Saturated**: the server answered {report['achieved_rate']:.1f} of {args.rate:g} requests/s and "
           f"the floor waited {report['floor_p99']:.0f} ms client-side for {report['floor_server_p99']:.0f} ms of "
           "server time: client latencies are mostly queueing, so client-side ratios say nothing; read the "
           "server-side ones, or lower RATE."] if saturated else []),
        *([f"- **Left out of the mix** (`--exclude {args.exclude}`): {', '.join(excluded)}."] if excluded else []),
        f"- **Floor**: a do-nothing JSON view behind the same middleware, p99 {report['floor_p99']:.1f} ms in this "
        f"run (server-side {report['floor_server_p99']:.1f} ms). Goal: every p99 <= {GOAL_RATIO:g}x the floor, "
        f"zero errors. With {report['requests'] // len(report['rows'])} requests per endpoint, p99 is close to "
        "the slowest answer. "
        f"**{len(over)} of {len(report['rows'])} endpoints above the goal client-side, {len(over_server)} "
        f"server-side; {errors} errors{' (saturated run: see above)' if saturated else ''}.**",
        f"- **Deep cursor vs list head**, p50 ratio (1.00 = as fast): {'; '.join(deep) or 'no pairs in the mix'}.",
        "",
        "| endpoint | requests | errors | p50 ms | p99 ms | p99 / floor | server p99 ms | server p99 / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, err, p50, p99, sp99, ratio, sratio in report["rows"]:
        lines.append(f"| {name} | {n} | {err} | {p50:.1f} | {p99:.1f} | {ratio:.1f}x | {sp99:.1f} | {sratio:.1f}x |")
    if explained:
        lines += [
            "",
            "Each endpoint once, alone, in this process before the load (status, time with the query"
            " capture on), and every query it ran EXPLAIN ANALYZEd:",
            "",
            "| endpoint | status | alone ms | queries | slowest query ms | sequential scans of tables > 10 000 rows |",
            "|---|---:|---:|---:|---:|---|",
            *explained,
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
