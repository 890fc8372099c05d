"""``make bench-tip [SCALE=tiny|small|1m] [RATE=…] [TIP_BLOCKS=…]``: tip latency under page load.

New block on the node -> visible on a page, on a big stored chain, while the fixed-rate page
load of ``make bench-scale`` runs against gunicorn:

1. The scale database ``make bench-scale`` built (``hemiscope_scale_<scale>``; build it first
   with ``BUILD_ONLY=1``). anvil starts above its synthetic chain and its first block is grafted
   onto it (``devnet/graft.py``), so real node blocks land on the million stored ones.
2. The production processes, as the Procfile runs them: gunicorn (production settings, as
   ``bench-scale``), one Celery worker (2 prefork processes) and Celery beat
   (``FOLLOW_INTERVAL_SECONDS``, 2 s), on the real Redis. The worker follows the node
   (``indexer.hemi.tasks.follow_tip``) and refreshes the stored verdicts from the
   ``chain.changed`` items each cursor move records (``drain_work``, nudged after each commit).
3. While the load runs (open loop, ``RATE`` requests/s over the same mix as ``bench-scale``),
   every ``--interval`` seconds one Hemi block of ``--transfers`` ERC-20 transfers (+ the
   L1-info call) is mined on anvil, and ``/block/<number>`` is polled every 20 ms until it
   answers 200: the tip latency, from ``evm_mine``'s reply to the page. It includes the wait
   for beat's next tick (up to ``FOLLOW_INTERVAL_SECONDS``), as it does in production.
4. Stored-verdict refresh per new block: for every ``chain.changed`` item recorded during the
   run, committed (the item is written in the block's transaction) -> done (every verdict it
   plans re-judged and stored by the worker), queueing in the worker included (a Bitcoin
   block's item waits for beat's next ``drain_work`` tick, 2 s at most, as in production). Bitcoin:
   no node can continue the synthetic Bitcoin chain (``devnet/graft.py``), so every
   ``--btc-every`` Hemi blocks this process stores the next Bitcoin block (publishing the
   keystones not published yet) through the Bitcoin indexer's own writer
   (``graft.extend_bitcoin``) and the worker refreshes from the
   item its cursor move records; there is no Bitcoin tip latency (no node), only the refresh.
5. The page load's p99 during the run (floor and worst endpoint) beside it; the result replaces
   the ``bench-tip-<scale>`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "benchmarks" / "scale"))

import results  # noqa: E402 - benchmarks/results.py
import run as scale_run  # noqa: E402 - benchmarks/scale/run.py: the load, the server, the environment


def visible(port: int, path: str, timeout: float) -> float:
    """Poll ``path`` every 20 ms until it answers 200; the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return time.monotonic()
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.02)
    raise TimeoutError(f"{path} not visible within {timeout:g} s (see var/bench-tip-worker.log)")


def start_celery(env: dict[str, str], what: str, *args: str) -> subprocess.Popen:
    log = open(REPO / "var" / f"bench-tip-{what}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "hemiscope", what, "--loglevel", "WARNING", *args],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    return scale_run.percentile(values, q)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(scale_run.SCALES), default=os.environ.get("SCALE") or "small")
    parser.add_argument("--rate", type=float, default=float(os.environ.get("RATE") or 10), help="page requests/s")
    parser.add_argument("--blocks", type=int, default=int(os.environ.get("TIP_BLOCKS") or 30), help="new Hemi blocks")
    parser.add_argument("--interval", type=float, default=4.0, help="seconds between new Hemi blocks")
    parser.add_argument("--transfers", type=int, default=20, help="ERC-20 transfers per new Hemi block")
    parser.add_argument("--btc-every", type=int, default=5, help="a new Bitcoin block every N Hemi blocks")
    parser.add_argument("--client-cpu", type=int, default=1, help="core the load client is pinned to")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    base_env = dict(os.environ)
    if not base_env.get("DATABASE_URL") or not base_env.get("REDIS_URL"):
        raise SystemExit("run through the services launcher (make bench-tip): DATABASE_URL / REDIS_URL not set")
    marker = REPO / "var" / "scale" / f"{args.scale}.json"
    if not marker.exists():
        raise SystemExit(f"no {args.scale} scale database yet: `make bench-scale SCALE={args.scale} BUILD_ONLY=1`")
    import json

    built = json.loads(marker.read_text())
    db_url = scale_run.database_url_for(base_env["DATABASE_URL"], f"hemiscope_scale_{args.scale}")
    env = scale_run.scale_env(base_env, db_url, {})
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.scale.settings"
    import django

    django.setup()
    from bench_hemi_ingest import build_chain, mine_transfer_blocks

    from devnet import graft, synthetic
    from devnet.constants import DEVNET_CHAIN_ID
    from devnet.nodes import start_anvil
    from explorer import verdict_store
    from hemiscope import networks
    from hemiscope.services import free_port, stop_process
    from indexer.core.cursor import CHAIN_CHANGED
    from indexer.hemi import ingest, sync
    from indexer.hemi.rpc import HemiRpc
    from indexer.models import WorkItem

    env.update(synthetic.explorer_settings())
    os.environ.update(env)
    subprocess.run([sys.executable, str(REPO / "manage.py"), "collectstatic", "--noinput", "-v0"], env=env,
                   check=True, cwd=REPO)  # fmt: skip
    mix = synthetic.request_mix()
    full_mix = [("floor (do-nothing JSON)", "/bench/floor"), *mix]
    size = scale_run.data_size()
    workdir = Path(tempfile.mkdtemp(prefix="bench-tip-"))
    procs: list[subprocess.Popen] = []
    hemi: list[tuple[int, float]] = []  # (number, seconds from mined to visible)
    btc: list[int] = []
    try:
        with start_anvil("bench-tip", root=workdir, genesis_number=graft.node_genesis_number()) as node:
            network = dataclasses.replace(
                networks.PRESETS["devnet"], chain_id=DEVNET_CHAIN_ID, hemi_rpc_url=node.hemi_rpc_url,
                tunnel_manager_address=env["TUNNEL_MANAGER_ADDRESS"], hemibtc_address=env["HEMIBTC_ADDRESS"],
            )  # fmt: skip
            config = ingest.IngestConfig.from_network(network)
            with HemiRpc(node.hemi_rpc_url) as rpc:
                grafted = graft.graft_hemi(rpc, config=config)
                build_chain(rpc, 0, 0)  # the token (deployed and funded: two blocks)
                sync.follow_tip(rpc, config=config, network=network)
                token = rpc.call("eth_getTransactionReceipt", [
                    rpc.call("eth_getBlockByNumber", [hex(grafted[0] + 1), False])["transactions"][0]
                ])["contractAddress"]  # fmt: skip
            verdict_store.refresh_all()  # the graft's own items: not measured
            worker_env = {
                **env, "DJANGO_SETTINGS_MODULE": "hemiscope.settings", "HEMI_RPC_URL": node.hemi_rpc_url,
                "HEMI_CHAIN_ID": str(DEVNET_CHAIN_ID), "LOG_LEVEL": "WARNING",
            }  # fmt: skip
            procs.append(start_celery(worker_env, "worker", "--concurrency", "2", "--without-mingle",
                                      "--without-gossip"))  # fmt: skip
            procs.append(start_celery(worker_env, "beat", "--schedule", str(workdir / "celerybeat-schedule")))
            port = free_port()
            procs.append(scale_run.start_server({**env, "DJANGO_SETTINGS_MODULE": "benchmarks.scale.settings"}, port))
            base = f"http://127.0.0.1:{port}"
            asyncio.run(scale_run.load(base, full_mix, rate=20, duration=len(full_mix) / 20, seed=0))  # warm-up
            where, started = results.machine(), results.stamp()
            os.sched_setaffinity(0, {args.client_cpu % (os.cpu_count() or 1)})
            duration = args.blocks * args.interval + 10
            load_samples: dict = {}
            loader = threading.Thread(
                target=lambda: load_samples.update(asyncio.run(scale_run.load(base, full_mix, args.rate, duration, 21)))
            )
            run_start = time.monotonic()
            since = django_now()
            loader.start()
            with HemiRpc(node.hemi_rpc_url) as rpc:
                for i in range(args.blocks):
                    time.sleep(max(0.0, run_start + 2 + i * args.interval - time.monotonic()))
                    if args.btc_every and i % args.btc_every == args.btc_every - 1:
                        btc.append(graft.extend_bitcoin()[0])
                    mine_transfer_blocks(rpc, token, 1, args.transfers, seed=1000 + i)
                    mined = time.monotonic()
                    number = int(rpc.call("eth_blockNumber"), 16)
                    hemi.append((number, visible(port, f"/block/{number}", timeout=60) - mined))
                    print(f"hemi block {number}: visible on /block/{number} after {hemi[-1][1] * 1000:.0f} ms",
                          flush=True)  # fmt: skip
            loader.join()
            # Let the worker finish the last refreshes, then read the items of the run.
            deadline = time.monotonic() + 120
            pending = WorkItem.objects.filter(kind=CHAIN_CHANGED, created_at__gte=since).exclude(state=WorkItem.DONE)
            while pending.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            items = list(
                WorkItem.objects.filter(kind=CHAIN_CHANGED, created_at__gte=since).values(
                    "payload", "state", "created_at", "done_at"
                )
            )
            from explorer.models import BlockVerdict, MintVerdict

            # What each refresh re-judges besides the new rows: every verdict not settled yet.
            unsettled = (BlockVerdict.objects.filter(settled=False).count(),
                         MintVerdict.objects.filter(settled=False).count())  # fmt: skip
    finally:
        for proc in reversed(procs):
            stop_process(proc, timeout=15)
    report = scale_run.summarize(load_samples, full_mix, args, duration)
    body = describe(args, started, where, built, size, grafted, hemi, btc, items, report, unsettled)
    print(body)
    if not args.no_write:
        results.write_section(f"bench-tip-{args.scale}", f"make bench-tip SCALE={args.scale}", body)
    return 0


def django_now():
    from django.utils import timezone

    return timezone.now() - timedelta(seconds=1)


def _ms(values: list[float]) -> str:
    if not values:
        return "none measured"
    return (
        f"p50 {percentile(values, 50):.0f} ms, p99 {percentile(values, 99):.0f} ms, max {max(values):.0f} ms "
        f"(n = {len(values)}, mean {statistics.mean(values):.0f} ms)"
    )


def describe(args, started, where, built, size, grafted, hemi, btc, items, report, unsettled) -> str:
    latencies = [s * 1000 for _, s in hemi]
    refresh: dict[str, list[float]] = {"hemi": [], "bitcoin": []}
    unfinished = 0
    for item in items:
        chain = item["payload"].get("chain")
        if chain not in refresh:
            continue
        if item["done_at"] is None:
            unfinished += 1
            continue
        refresh[chain].append((item["done_at"] - item["created_at"]).total_seconds() * 1000)
    rows = report["rows"]
    floor = rows[0]
    worst = max(rows[1:], key=lambda r: r[4])
    all_client = [r[4] for r in rows[1:]]
    errors = sum(r[2] for r in rows)
    s = built["summary"]
    lines = [
        f"Run {started} on {where}.",
        "",
        f"- **Data**: the `{args.scale}` scale database (`make_synthetic`, built {built['built_at']}: "
        f"{s['hemi_blocks']:,} Hemi blocks, {s['transactions']:,} transactions; now {size['hemi_blocks']:,} Hemi "
        f"block heights, {size['bytes'] / 2**30:.2f} GiB), continued by anvil from block {grafted[0]:,} "
        "(`devnet/graft.py`).",
        "- **Processes**: gunicorn (production settings, as `bench-scale`), one Celery worker (2 prefork "
        "processes) and beat (follow every 2 s), real Redis and PostgreSQL, all on this machine.",
        f"- **New blocks**: {len(hemi)} Hemi blocks of {args.transfers} ERC-20 transfers + the L1-info call, one "
        f"every {args.interval:g} s, mined on anvil; {len(btc)} Bitcoin blocks (one every {args.btc_every} Hemi "
        "blocks) stored by this process through the Bitcoin writer, each publishing the keystones not published "
        "yet (no node can continue the synthetic Bitcoin chain).",
        f"- **Page load meanwhile**: {args.rate:g} requests/s open loop over the {len(rows)} endpoints of "
        f"`bench-scale` (achieved {report['achieved_rate']:.1f}), {errors} errors; floor p99 {floor[4]:.1f} ms; "
        f"median endpoint p99 {statistics.median(all_client):.1f} ms; worst p99 {worst[4]:.1f} ms ({worst[0]}).",
        "",
        "| measure | figures |",
        "|---|---|",
        f"| Hemi tip latency: `evm_mine` replied -> `/block/N` answers 200 (includes up to 2 s waiting for beat's "
        f"follow tick) | {_ms(latencies)} |",
        f"| stored-verdict refresh after a Hemi block: its `chain.changed` item committed -> done by the worker | "
        f"{_ms(refresh['hemi'])} |",
        f"| stored-verdict refresh after a Bitcoin block: the same | {_ms(refresh['bitcoin'])} |",
    ]
    lines.append(
        f"\nUnsettled stored verdicts at the end (each refresh re-judges these besides the new rows): "
        f"{unsettled[0]:,} blocks, {unsettled[1]:,} mints."
    )
    if unfinished:
        lines.append(f"\n{unfinished} `chain.changed` items were not done 120 s after the last block.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
