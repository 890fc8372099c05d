"""A web server process started by a test: wait until it answers, stop its whole process group.

Shared by the tests that run the production web path (gunicorn) as a real process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import requests


def wait_until_serving(proc: subprocess.Popen, base: str, log_path: Path, timeout: float) -> None:
    """Poll ``base``/healthz until it answers; a process that exits or never answers within
    ``timeout`` seconds raises with the end of its log."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(requests.RequestException):
            requests.get(f"{base}/healthz", timeout=2)
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"web did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.3)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (the server and its workers), SIGKILL it after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
