"""``make bench-ingest-scale [SCALE=tiny|small|1m]``: ingest re-measured with a big index stored.

1. ``bench_hemi_ingest.py --on-scale SCALE``: Hemi ingest (the production follower) against
   ethereum-etl 2.4.2 and the raw batched RPC fetch, on the same node blocks, with the
   ``hemiscope_scale_<SCALE>`` database ``make bench-scale`` built already stored, so every
   insert keeps its indexes up to date; the node's chain is grafted onto the synthetic one
   (``devnet/graft.py``). Then the stored-verdict refresh of the new blocks.
2. ``bench_btc_decode.py``: the Bitcoin decoder against python-bitcoinlib. It decodes one block
   in memory and touches no database, so stored data cannot change it; it is re-run here only
   so both figures come from the same session on the same machine.

Both outputs replace the ``bench-ingest-scale-<SCALE>`` section of BENCHMARKS.md. Extra
arguments are passed to ``bench_hemi_ingest.py`` (``--blocks``, ``--runs``, ``--skip-etl``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
sys.path.insert(0, str(BENCH))

import results  # noqa: E402 - benchmarks/results.py, through the path set above


def main() -> int:
    scale = os.environ.get("SCALE") or "small"
    started, where = results.stamp(), results.machine()
    parts, failed = [], False
    for title, argv in (
        (f"Hemi ingest on the {scale} scale database", [str(BENCH / "bench_hemi_ingest.py"), "--on-scale", scale,
                                                        *sys.argv[1:]]),
        ("Bitcoin decode (no stored data involved; same session)", [str(BENCH / "bench_btc_decode.py")]),
    ):  # fmt: skip
        print(f"\n=== {title} ===", flush=True)
        proc = subprocess.run([sys.executable, *argv], cwd=BENCH.parent, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
        print(proc.stdout, end="", flush=True)
        lines = [ln for ln in proc.stdout.splitlines() if not ln.startswith(("{", "WARNING: Location"))]
        status = "" if proc.returncode == 0 else f"**the run failed (exit {proc.returncode})**\n\n"
        failed |= proc.returncode != 0
        parts.append(f"### {title}\n\n{status}```\n" + "\n".join(lines[-30:]) + "\n```\n")
    body = f"Run {started} on {where}.\n\n" + "\n".join(parts)
    results.write_section(f"bench-ingest-scale-{scale}", f"make bench-ingest-scale SCALE={scale}", body)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
