"""Benchmark: Hemiscope's Bitcoin decoder vs python-bitcoinlib on a real 1 MB testnet3 block.

Run: ``.venv/bin/python benchmarks/bench_btc_decode.py [--runs N]``

Both sides do the same job on the same bytes, interleaved in one process so machine load hits
them alike: deserialize the whole block and produce every txid. The goal is a ratio
(python-bitcoinlib time / Hemiscope time) of at least 10. The rows after the first Hemiscope
row show what the lazy design defers, so the headline number can be judged honestly.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "bitcoin" / "testnet3-3802509.bin"
GOAL = 10.0

Case = Callable[[bytes], object]


def measure(cases: dict[str, Case], raw: bytes, runs: int) -> dict[str, list[float]]:
    """Round-robin the cases ``runs`` times (after one warm-up each) and collect wall times."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn(raw)
    for _ in range(runs):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn(raw)
            times[name].append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    # Run as a script from anywhere: make the project importable first.
    sys.path.insert(0, str(REPO))
    from bitcoin.core import CBlock  # python-bitcoinlib

    from indexer.bitcoin import pop
    from indexer.bitcoin.decode import decode_block

    def bitcoinlib_block_and_txids(raw: bytes) -> list[bytes]:
        return [tx.GetTxid() for tx in CBlock.deserialize(raw).vtx]

    def hemiscope_block_and_txids(raw: bytes) -> list[bytes]:
        return decode_block(raw).txids_internal  # computed (and merkle-checked) eagerly

    def hemiscope_with_tx_objects(raw: bytes) -> list[bytes]:
        return [tx.txid_internal for tx in decode_block(raw).txs]

    def hemiscope_fully_parsed(raw: bytes) -> int:
        txs = decode_block(raw).txs
        return sum(len(tx.inputs) + len(tx.outputs) for tx in txs)

    def hemiscope_decode_and_pop(raw: bytes) -> int:
        return len(pop.scan_block(decode_block(raw)).outputs)

    raw = FIXTURE.read_bytes()
    reference = bitcoinlib_block_and_txids(raw)
    assert hemiscope_block_and_txids(raw) == reference, "txids differ from python-bitcoinlib"

    # PoP scan with an empty miner-address cache: each of the block's ~3000 distinct miners costs
    # one secp256k1 decompression + keccak; later blocks by the same miners hit the cache.
    pop.miner_address_for_pubkey.cache_clear()
    start = time.perf_counter()
    pop_count = hemiscope_decode_and_pop(raw)
    cold_pop = time.perf_counter() - start

    cases: dict[str, Case] = {
        "python-bitcoinlib: CBlock.deserialize + GetTxid": bitcoinlib_block_and_txids,
        "hemiscope: decode_block (txids + merkle check)": hemiscope_block_and_txids,
        "hemiscope: ... + build all Tx objects": hemiscope_with_tx_objects,
        "hemiscope: ... + parse every input/output": hemiscope_fully_parsed,
        "hemiscope: decode_block + PoP scan (warm cache)": hemiscope_decode_and_pop,
    }
    times = measure(cases, raw, args.runs)

    print(f"block: {FIXTURE.name}, {len(raw):,} bytes, {len(reference):,} txs, {pop_count:,} PoP outputs")
    print(f"runs: {args.runs} per case, interleaved\n")
    cold_label = "hemiscope: decode_block + PoP scan (cold cache, 1 run)"
    width = max(len(cold_label), *map(len, cases))
    print(f"{'case':<{width}}  {'best ms':>9}  {'median ms':>9}")
    for name, samples in times.items():
        print(f"{name:<{width}}  {min(samples) * 1e3:9.2f}  {statistics.median(samples) * 1e3:9.2f}")
    print(f"{cold_label:<{width}}  {cold_pop * 1e3:9.2f}")

    names = list(cases)
    lib, ours = times[names[0]], times[names[1]]
    best_ratio = min(lib) / min(ours)
    median_ratio = statistics.median(lib) / statistics.median(ours)
    print(f"\nratio python-bitcoinlib / hemiscope: best {best_ratio:.1f}x, median {median_ratio:.1f}x")
    met = best_ratio >= GOAL and median_ratio >= GOAL
    print(f"goal >= {GOAL:.0f}x: {'MET' if met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
