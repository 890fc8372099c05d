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


# --- Fuzz targets: count cases, bound time, drive with random bytes (tests/fuzzing.py) ----------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    from tests import fuzzing

    return (yield from fuzzing.run_counted(item))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    from tests import fuzzing

    return fuzzing.drive_with_bytes(pyfuncitem)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests import fuzzing

    fuzzing.report(terminalreporter, config)
