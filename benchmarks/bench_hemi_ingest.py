"""Benchmark: Hemi ingest into PostgreSQL vs the raw batched RPC fetch vs ethereum-etl 2.4.2.

Run: ``python -m hemiscope.services run -- .venv/bin/python benchmarks/bench_hemi_ingest.py``
(needs DATABASE_URL and REDIS_URL; the benchmark creates and drops its own database next to
the one DATABASE_URL names, so it never touches indexed data).

All three read the same blocks from the same local anvil in one run:

* raw fetch - ``HemiRpc.blocks_with_receipts`` with the indexer's own parallelism (its fetch
  workers x batch size), nothing else: the ceiling for anything that reads over JSON-RPC;
* Hemiscope - ``sync.backfill``: fetch (workers ahead of the writer), map, verify the header
  hash, every tx hash and both trie roots, lay out the rows (in worker processes for a range
  this long), then write blocks, transactions (+ raw consensus bytes), logs, addresses, token
  transfers and balances, keystones - one transaction per fetched batch of 20 blocks;
* ethereum-etl 2.4.2 - ``export_blocks_and_transactions`` + ``export_receipts_and_logs`` to
  CSV, in its own venv ``.venv-peers/`` (created here when missing; see
  ../shared/spec/peers.md for why it needs its own).

Goals: Hemiscope >= 2x ethereum-etl and >= 0.5x the raw fetch (transactions per second).

``--on-scale small|1m`` (``make bench-ingest-scale``): the same contest with a big index already
stored - the database ``bench-scale`` built (``hemiscope_scale_<scale>``), so every insert
keeps the indexes of a million blocks up to date. anvil starts above the stored synthetic chain
and its first block is grafted onto it (``devnet.graft``: the cursor moves onto the node's
block; one height left empty); each of the ``--runs`` runs then ingests the next ``--blocks``
node blocks with the production follower (``sync.follow_tip``: cursor check, fetch, verify,
``write_run``), and the raw fetch and ethereum-etl read those same blocks. The blocks stay in
that database (a few hundred blocks on top of it); the ``chain.changed`` items the runs record
are drained at the end (every stored verdict the new blocks touch refreshed, timed and
reported). Goals at scale (issue 21): >= 2x ethereum-etl, >= 0.7x the raw fetch.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
PEERS_VENV = REPO / ".venv-peers"
ETL_VERSION = "2.4.2"
GOAL_VS_ETL = 2.0
GOAL_VS_FETCH = 0.5
GOAL_VS_FETCH_AT_SCALE = 0.7  # issue 21: with 1M blocks stored


def ensure_peers_venv() -> Path:
    """``.venv-peers/bin/ethereumetl``, installing ethereum-etl there first if needed."""
    etl = PEERS_VENV / "bin" / "ethereumetl"
    if etl.exists():
        return etl
    print(f"creating {PEERS_VENV} with ethereum-etl {ETL_VERSION} (one-time)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    pip = [str(PEERS_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, f"ethereum-etl=={ETL_VERSION}"], check=True)
    # Its pins break on Python 3.11 (inspect.getargspec); these two releases fix the import.
    subprocess.run([*pip, "--no-deps", "parsimonious==0.10.0", "regex"], check=True)
    return etl


def bench_database_url() -> str:
    """Create a scratch database next to DATABASE_URL's and return its URL."""
    import psycopg

    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is not set: run through `python -m hemiscope.services run --`")
    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_bench_hemi"
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name))


def admin_url(url: str) -> str:
    """The same server's maintenance database (the named one need not exist yet)."""
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def _names(bench_url: str) -> tuple[str, str]:
    """The bench database and its migrated template."""
    name = urlsplit(bench_url).path.lstrip("/")
    return name, name + "_template"


def save_template(bench_url: str) -> None:
    """Keep a copy of the freshly migrated bench database to start every ingest run from."""
    name, template = _names(bench_url)
    _admin(bench_url, f'DROP DATABASE IF EXISTS "{template}"', f'CREATE DATABASE "{template}" TEMPLATE "{name}"')


def reset_database(bench_url: str) -> None:
    """Re-create the bench database from the template: an empty, never-analyzed schema.

    Not TRUNCATE: autovacuum may ANALYZE a just-truncated table (the previous run's inserts
    count as changes), and PostgreSQL then believes it empty; plans made in the next run (the
    upserts' conflict checks, prepared once per connection) may then stay sequential scans
    while the table grows - one run in five took 3x longer on the database server, for
    nothing the indexer does.
    """
    name, template = _names(bench_url)
    _admin(bench_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def drop_database(bench_url: str) -> None:
    name, template = _names(bench_url)
    _admin(bench_url, f'DROP DATABASE IF EXISTS "{name}"', f'DROP DATABASE IF EXISTS "{template}"')


def _admin(bench_url: str, *statements: str) -> None:
    """Run statements on the maintenance database, with no connection open to the bench one."""
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin_url(bench_url), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def build_chain(rpc, blocks: int, transfers: int) -> tuple[int, int]:
    """Deploy an ERC-20 and mine ``blocks`` blocks of ``transfers`` transfers (+ the L1-info call).

    Returns the node's tip and the transactions from the node's tip before (included) to the tip."""
    from eth_abi import encode as abi_encode

    from devnet.constants import L1_BLOCK_PREDEPLOY, L1_INFO_DEPOSITOR
    from devnet.evm import load_artifact

    accounts = rpc.call("eth_accounts")
    senders = accounts[:10]
    rpc.call("anvil_setCode", [L1_BLOCK_PREDEPLOY, load_artifact("L1Block")["deployedBytecode"]])
    rpc.call("anvil_impersonateAccount", [L1_INFO_DEPOSITOR])
    rpc.call("anvil_setBalance", [L1_INFO_DEPOSITOR, hex(10**21)])
    artifact = load_artifact("DevnetUSD")
    creation = artifact["bytecode"] + abi_encode(["uint256"], [10**30]).hex()
    start = int(rpc.call("eth_blockNumber"), 16)
    rpc.call("eth_sendTransaction", [{"from": senders[0], "gas": hex(3_000_000), "data": creation}])
    rpc.call("evm_mine")
    deploy_block = int(rpc.call("eth_blockNumber"), 16)
    token = rpc.call("eth_getTransactionReceipt",
                     [rpc.call("eth_getBlockByNumber", [hex(deploy_block), False])["transactions"][0]])  # fmt: skip
    token = token["contractAddress"]
    selector = bytes.fromhex("a9059cbb")  # transfer(address,uint256)
    fund = [("eth_sendTransaction", [{"from": senders[0], "to": token, "gas": hex(100_000),
             "data": "0x" + (selector + abi_encode(["address", "uint256"], [s, 10**24])).hex()}])
            for s in senders[1:]]  # fmt: skip
    rpc.batch(fund)
    rpc.call("evm_mine")
    mine_transfer_blocks(rpc, token, blocks, transfers, seed=7)
    tip = int(rpc.call("eth_blockNumber"), 16)
    txs = sum(len(b["transactions"]) for b in rpc.blocks_by_number(range(start, tip + 1), full_tx=False))
    return tip, txs


def mine_transfer_blocks(rpc, token: str, blocks: int, transfers: int, seed: int) -> None:
    """``blocks`` more blocks of ``transfers`` transfers of ``token`` (+ the L1-info call) on a
    chain ``build_chain`` set up."""
    from eth_abi import encode as abi_encode

    from devnet.constants import L1_BLOCK_PREDEPLOY, L1_INFO_DEPOSITOR
    from indexer.hemi.l1info import L1BlockInfo, encode_l1_info

    senders = rpc.call("eth_accounts")[:10]
    nonces = {a: int(rpc.call("eth_getTransactionCount", [a, "pending"]), 16) for a in [*senders, L1_INFO_DEPOSITOR]}
    selector = bytes.fromhex("a9059cbb")
    rng = random.Random(seed)
    holders = ["0x" + rng.randbytes(20).hex() for _ in range(500)]
    first = int(rpc.call("eth_blockNumber"), 16) + 1
    for n in range(first, first + blocks):
        info = encode_l1_info(L1BlockInfo(
            layout="ecotone", number=20_000_000 + n, timestamp=1_700_000_000 + 12 * n, base_fee=7,
            block_hash=n.to_bytes(32, "big"), sequence_number=0, batcher_hash=bytes(32), base_fee_scalar=1,
            blob_base_fee_scalar=1, blob_base_fee=1))  # fmt: skip
        calls = []
        for sender, to, data, gas in [(L1_INFO_DEPOSITOR, L1_BLOCK_PREDEPLOY, info, 200_000)] + [
            (senders[k % 10], token, selector + abi_encode(["address", "uint256"],
             [rng.choice(holders), rng.randrange(1, 10**18)]), 100_000) for k in range(transfers)
        ]:  # fmt: skip
            calls.append(("eth_sendTransaction", [{"from": sender, "to": to, "data": "0x" + data.hex(),
                          "gas": hex(gas), "nonce": hex(nonces[sender]), "gasPrice": hex(3 * 10**9)}]))  # fmt: skip
            nonces[sender] += 1
        rpc.batch(calls)
        rpc.call("evm_mine")


def time_fetch(url: str, tip: int, workers: int, chunk: int, first: int = 0) -> float:
    """Fetch only, with the indexer's own parallelism (threads x batch size) and client."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from indexer.hemi.rpc import HemiRpc

    local = threading.local()
    clients: list[HemiRpc] = []

    def fetch(numbers: list[int]) -> int:
        if not hasattr(local, "rpc"):
            local.rpc = HemiRpc(url)
            clients.append(local.rpc)
        blocks, _receipts = local.rpc.blocks_with_receipts(numbers)
        return len(blocks)

    ranges = [list(range(a, min(a + chunk, tip + 1))) for a in range(first, tip + 1, chunk)]
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        fetched = sum(pool.map(fetch, ranges))
    elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    assert fetched == tip + 1 - first
    return elapsed


def time_ingest(url: str, tip: int, network, bench_url: str) -> float:
    from indexer.hemi import ingest, sync
    from indexer.hemi.rpc import HemiRpc

    reset_database(bench_url)  # a clean slate for each run
    config = ingest.IngestConfig.from_network(network)
    with HemiRpc(url) as rpc:
        started = time.perf_counter()
        state = sync.backfill(rpc, 0, tip, config=config, network=network)
        elapsed = time.perf_counter() - started
    assert state.current == tip, state
    return elapsed


def time_etl(etl: Path, url: str, tip: int, workdir: Path, first: int = 0) -> float:
    out = workdir / "etl"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    started = time.perf_counter()
    subprocess.run(
        [str(etl), "export_blocks_and_transactions", "--start-block", str(first), "--end-block", str(tip),
         "--provider-uri", url, "--blocks-output", str(out / "blocks.csv"),
         "--transactions-output", str(out / "transactions.csv")],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    exported = time.perf_counter() - started
    # Not timed: turning the CSV into the hash list the second export takes.
    subprocess.run(
        [str(etl), "extract_csv_column", "--input", str(out / "transactions.csv"), "--column", "hash",
         "--output", str(out / "hashes.txt")],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    started = time.perf_counter()
    subprocess.run(
        [str(etl), "export_receipts_and_logs", "--transaction-hashes", str(out / "hashes.txt"),
         "--provider-uri", url, "--receipts-output", str(out / "receipts.csv"), "--logs-output", str(out / "logs.csv")],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    return exported + time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--transfers", type=int, default=50, help="token transfers per block")
    # Best of 3 by default: on a shared 2-CPU machine one run can take 30% longer than the next.
    parser.add_argument("--runs", type=int, default=3, help="best of N for each contender")
    parser.add_argument("--skip-etl", action="store_true")
    parser.add_argument(
        "--on-scale", choices=["tiny", "small", "1m"], help="ingest on top of that bench-scale database (docstring)"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    etl = None if args.skip_etl else ensure_peers_venv()
    if args.on_scale:
        return main_on_scale(args, etl)
    bench_url = bench_database_url()
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hemiscope.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import dataclasses

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from devnet.constants import DEVNET_CHAIN_ID
    from devnet.nodes import start_anvil
    from hemiscope import networks
    from indexer.hemi.rpc import HemiRpc

    workdir = Path(tempfile.mkdtemp(prefix="bench-hemi-"))
    try:
        call_command("migrate", verbosity=0)
        save_template(bench_url)
        with start_anvil("bench", root=workdir) as node:
            url = node.hemi_rpc_url
            with HemiRpc(url) as rpc:
                print(f"building {args.blocks} blocks x {args.transfers} ERC-20 transfers on anvil...", flush=True)
                tip, txs = build_chain(rpc, args.blocks, args.transfers)
            network = dataclasses.replace(networks.PRESETS["devnet"], chain_id=DEVNET_CHAIN_ID, hemi_rpc_url=url)
            from indexer.hemi.fetch import FETCH_CHUNK, FETCH_WORKERS

            chunk = max(1, min(settings.HEMI_BATCH_SIZE, FETCH_CHUNK))
            results: dict[str, float] = {}
            for _ in range(args.runs):
                for name, fn in (
                    ("raw batched RPC fetch", lambda: time_fetch(url, tip, FETCH_WORKERS, chunk)),
                    ("Hemiscope ingest -> PostgreSQL", lambda: time_ingest(url, tip, network, bench_url)),
                    *([("ethereum-etl 2.4.2 export", lambda: time_etl(etl, url, tip, workdir))] if etl else []),
                ):
                    elapsed = fn()
                    results[name] = min(results.get(name, elapsed), elapsed)
    finally:
        drop_database(bench_url)
        shutil.rmtree(workdir, ignore_errors=True)

    blocks = tip + 1
    print(f"\n{blocks} blocks, {txs} transactions (best of {args.runs}; fetch: {FETCH_WORKERS} x {chunk} blocks)")
    print_contenders(results, blocks, txs, GOAL_VS_FETCH)
    # A benchmark that ran reports its goals in words; a non-zero exit means it could not run.
    return 0


def main_on_scale(args, etl: Path | None) -> int:
    """The contest on top of a bench-scale database (``--on-scale``; module docstring)."""
    import dataclasses

    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is not set: run through `python -m hemiscope.services run --`")
    marker = REPO / "var" / "scale" / f"{args.on_scale}.json"
    if not marker.exists():
        sys.exit(
            f"no {args.on_scale} scale database yet: build it first with "
            f"`make bench-scale SCALE={args.on_scale} BUILD_ONLY=1`"
        )
    import json

    built = json.loads(marker.read_text())
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(url)._replace(path=f"/hemiscope_scale_{args.on_scale}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hemiscope.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["HEMI_NETWORK"] = "devnet"
    from devnet import synthetic

    os.environ.update(synthetic.explorer_settings())  # verdicts judged as the explorer judges them
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from devnet import graft
    from devnet.constants import DEVNET_CHAIN_ID
    from devnet.nodes import start_anvil
    from explorer import verdict_store
    from hemiscope import networks
    from indexer.hemi import ingest, sync
    from indexer.hemi.fetch import FETCH_CHUNK, FETCH_WORKERS
    from indexer.hemi.rpc import HemiRpc

    def stored() -> tuple[int, int]:
        with connection.cursor() as cur:
            cur.execute("SELECT max(number) FROM hemi_block")
            top = cur.fetchone()[0]
            cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'hemi_transaction'")
            return top, cur.fetchone()[0]

    stored_top, stored_txs = stored()
    genesis = graft.node_genesis_number()
    chunk = max(1, min(settings.HEMI_BATCH_SIZE, FETCH_CHUNK))
    results: dict[str, float] = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-hemi-scale-"))
    try:
        with start_anvil("bench", root=workdir, genesis_number=genesis) as node:
            node_url = node.hemi_rpc_url
            network = dataclasses.replace(
                networks.PRESETS["devnet"],
                chain_id=DEVNET_CHAIN_ID,
                hemi_rpc_url=node_url,
                tunnel_manager_address=synthetic.explorer_settings()["TUNNEL_MANAGER_ADDRESS"],
            )
            config = ingest.IngestConfig.from_network(network)
            with HemiRpc(node_url) as rpc:
                grafted = graft.graft_hemi(rpc, config=config)
                total = args.runs * args.blocks
                print(
                    f"stored: Hemi blocks up to {stored_top:,}, ~{stored_txs:,} transactions; anvil grafted at block "
                    f"{grafted[0]:,}; building {total} blocks x {args.transfers} ERC-20 transfers on it...",
                    flush=True,
                )
                tip, _ = build_chain(rpc, total, args.transfers)
                # The token's deployment and funding blocks (graft + 1, + 2): not timed.
                sync.follow_tip(rpc, 2, config=config, network=network)
                first = grafted[0] + 3
                segments = [(first + i * args.blocks, first + (i + 1) * args.blocks - 1) for i in range(args.runs)]
                txs = sum(
                    len(b["transactions"])
                    for b in rpc.blocks_by_number(range(segments[0][0], segments[0][1] + 1), full_tx=False)
                )

            def follow(last: int) -> float:
                with HemiRpc(node_url) as client:
                    started = time.perf_counter()
                    state = sync.follow_tip(client, args.blocks, config=config, network=network)
                    elapsed = time.perf_counter() - started
                assert state.current == last and state.reorgs == 0, state
                return elapsed

            for lo, hi in segments:  # each run: the next blocks, on top of everything stored so far
                for name, fn in (
                    (
                        "raw batched RPC fetch",
                        lambda lo=lo, hi=hi: time_fetch(node_url, hi, FETCH_WORKERS, chunk, first=lo),
                    ),
                    ("Hemiscope ingest -> PostgreSQL", lambda hi=hi: follow(hi)),
                    *(
                        [
                            (
                                "ethereum-etl 2.4.2 export",
                                lambda lo=lo, hi=hi: time_etl(etl, node_url, hi, workdir, first=lo),
                            )
                        ]
                        if etl
                        else []
                    ),
                ):
                    elapsed = fn()
                    results[name] = min(results.get(name, elapsed), elapsed)
            # What the worker does next: refresh every stored verdict the new blocks touch.
            started = time.perf_counter()
            drained = verdict_store.refresh_all()
            refresh_s = time.perf_counter() - started
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    blocks = args.blocks
    new_blocks = tip - grafted[0] + 1
    print(
        f"\n{args.on_scale} scale database (make_synthetic, built {built['built_at']}): Hemi blocks 0..{stored_top:,} "
        f"and ~{stored_txs:,} transactions stored before this run; index upkeep included"
    )
    print(
        f"each run: the next {blocks} node blocks, {txs} transactions, on top of the stored chain and the runs "
        f"before (best of {args.runs}; fetch: {FETCH_WORKERS} x {chunk} blocks; ingest: sync.follow_tip)"
    )
    print_contenders(results, blocks, txs, GOAL_VS_FETCH_AT_SCALE)
    print(
        f"stored-verdict refresh of the {new_blocks} new blocks afterwards (verdict_store.refresh_all, "
        f"{drained.done} chain.changed items): {refresh_s:.2f} s = {refresh_s / new_blocks * 1000:.1f} ms a block"
    )
    print(
        f"the {new_blocks} blocks stay in hemiscope_scale_{args.on_scale} (grafted at {grafted[0]:,}; devnet/graft.py)"
    )
    return 0


def print_contenders(results: dict[str, float], blocks: int, txs: int, fetch_goal: float) -> None:
    """The table of contenders and Hemiscope's ratios to both peers (an empty or a scale database)."""
    print(f"{'contender':34} {'seconds':>8} {'blocks/s':>9} {'txs/s':>8}")
    for name, seconds in results.items():
        print(f"{name:34} {seconds:8.2f} {blocks / seconds:9.1f} {txs / seconds:8.0f}")
    ingest_s = results["Hemiscope ingest -> PostgreSQL"]
    vs_fetch = results["raw batched RPC fetch"] / ingest_s
    print(f"\nHemiscope / raw fetch:    {vs_fetch:5.2f}x  (goal >= {fetch_goal}x: {_met(vs_fetch, fetch_goal)})")
    if "ethereum-etl 2.4.2 export" in results:
        vs_etl = results["ethereum-etl 2.4.2 export"] / ingest_s
        print(f"Hemiscope / ethereum-etl: {vs_etl:5.2f}x  (goal >= {GOAL_VS_ETL}x: {_met(vs_etl, GOAL_VS_ETL)})")
    else:
        print("ethereum-etl could not be measured in this run (see above): no ratio against it")


def _met(ratio: float, goal: float) -> str:
    return "MET" if ratio >= goal else "NOT MET"


if __name__ == "__main__":
    raise SystemExit(main())
