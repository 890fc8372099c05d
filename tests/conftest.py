"""Shared fixtures. Services are real: PostgreSQL and Redis come from DATABASE_URL/REDIS_URL,
which `make test` points at the embedded servers when the caller has not set them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parent.parent

# Tests must never find (or clobber) a developer's running devnet in var/devnet/network.json.
# Set before any worker process starts, so the Celery worker inherits the same private file;
# suites that start their own nodes publish their RPC URLs there.
if not os.environ.get("DEVNET_STATE_FILE"):
    os.environ["DEVNET_STATE_FILE"] = str(Path(tempfile.mkdtemp(prefix="hemiscope-tests-")) / "network.json")

# The suite requests hundreds of pages from one address; the throttle tests set their own rate.
# The environment variable reaches processes the tests start (servers, workers); the fixture
# below covers this process, whose settings pytest-django loaded before this file.
TEST_THROTTLE_RATE = "100000/min"
os.environ.setdefault("THROTTLE_ANON_RATE", TEST_THROTTLE_RATE)


@pytest.fixture(autouse=True, scope="session")
def _generous_throttle_rate():
    from django.conf import settings

    settings.THROTTLE_ANON_RATE = os.environ["THROTTLE_ANON_RATE"]


def _test_database_url() -> str:
    """DATABASE_URL rewritten to the database pytest-django created for this session."""
    from django.db import connection

    s = connection.settings_dict
    host = quote(s["HOST"], safe="") if s["HOST"].startswith("/") else s["HOST"]
    port = f":{s['PORT']}" if s["PORT"] else ""
    auth = s["USER"] + (f":{quote(s['PASSWORD'], safe='')}" if s["PASSWORD"] else "")
    return f"postgresql://{auth}@{host}{port}/{s['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker in its own process, on the real Redis broker, using the test DB.

    Never eager mode: tasks travel through Redis exactly as in production.
    """
    with django_db_blocker.unblock():
        env = dict(os.environ, DATABASE_URL=_test_database_url())
    log_path = REPO / "var" / "test-celery-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "hemiscope",
                "worker",
                "--pool",
                "solo",
                "--concurrency",
                "1",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        from hemiscope.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start:\n{log_path.read_text()[-3000:]}")
        yield proc
    finally:
        from hemiscope.services import stop_process

        stop_process(proc, timeout=15)


# --- Fuzz targets: count cases, bound time, require a minimum (tests/fuzzing.py) ---------------


class FuzzTimeBudgetExceeded(BaseException):
    """Raised between two cases once a target used up HEMISCOPE_FUZZ_SECONDS.

    A BaseException, not an Exception: hypothesis must not take it for a failing example (and
    shrink it); it ends the target at once and pytest reports it with the count reached."""


_FUZZ_RESULTS = pytest.StashKey[dict]()


def _fuzz_env_float(name: str) -> float | None:
    value = os.environ.get(name, "").strip()
    return float(value) if value else None


def _counting(inner, record: dict, budget_s: float | None):
    from hypothesis.errors import UnsatisfiedAssumption

    def run_case(*args, **kwargs):
        if budget_s is not None and time.monotonic() - record["started"] > budget_s:
            raise FuzzTimeBudgetExceeded(f"time bound of {budget_s:.0f} s reached after {record['cases']} cases")
        try:
            result = inner(*args, **kwargs)
        except UnsatisfiedAssumption:
            record["rejected"] += 1
            raise
        record["cases"] += 1
        return result

    return run_case


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if item.get_closest_marker("fuzz") is None or handle is None:
        return (yield)
    record = {"cases": 0, "rejected": 0, "started": time.monotonic()}
    item.config.stash.setdefault(_FUZZ_RESULTS, {})[item.nodeid] = record
    inner = handle.inner_test
    handle.inner_test = _counting(inner, record, _fuzz_env_float("HEMISCOPE_FUZZ_SECONDS"))
    try:
        result = yield
    finally:
        handle.inner_test = inner
        record["seconds"] = time.monotonic() - record["started"]
    minimum = _fuzz_env_float("HEMISCOPE_FUZZ_MIN_CASES")
    if minimum is not None and record["cases"] < minimum:
        pytest.fail(f"fuzz target ran {record['cases']} cases, fewer than HEMISCOPE_FUZZ_MIN_CASES={minimum:.0f}")
    return result


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = config.stash.get(_FUZZ_RESULTS, {})
    if not results:
        return
    terminalreporter.section("fuzz targets: cases run")
    for nodeid, record in sorted(results.items()):
        terminalreporter.write_line(
            f"{record['cases']:>9} cases {record.get('seconds', 0.0):8.1f} s"
            f"{'':2}{nodeid}" + (f"  ({record['rejected']} rejected)" if record["rejected"] else "")
        )
