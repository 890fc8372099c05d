"""Run every benchmark in this folder, one after another, and report which failed to run.

Each benchmark's output (it prints its own figures and its ratio to the peer measured in the
same run) is also written to its section of BENCHMARKS.md, with the date and the machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import results  # noqa: E402 - a sibling module, found through the path set just above

# Benchmarks that write their own section (a table) when they succeed.
OWN_SECTION = {"bench_reports"}


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} ===", flush=True)
        started = results.stamp()
        where = results.machine()
        proc = subprocess.run(
            [sys.executable, str(script)], cwd=HERE.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        print(proc.stdout, end="", flush=True)
        if proc.returncode != 0:
            failed.append(script.name)
        # The figures as the benchmark printed them; a failed run says so instead of leaving
        # the previous run's figures in place under a new date.
        # The figures, without JSON log lines and pip's index warnings (the peers' venv setup).
        lines = [ln for ln in proc.stdout.splitlines() if not ln.startswith(("{", "WARNING: Location"))]
        status = "" if proc.returncode == 0 else f"**the run failed (exit {proc.returncode})**\n\n"
        body = f"Run {started} on {where}.\n\n{status}```\n" + "\n".join(lines[-40:]) + "\n```\n"
        if proc.returncode != 0 or script.stem not in OWN_SECTION:
            results.write_section(script.stem, f"make bench: {script.stem}", body)
    if failed:
        print(f"\nbenchmarks that could not run: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
