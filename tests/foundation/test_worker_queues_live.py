"""Two real Celery workers on separate queues, as the README's scaling guide runs them.

With ``CELERY_QUEUES_PER_CHAIN=true`` one worker consumes ``bitcoin``, the other ``hemi``,
``work`` and the default queue. Each must listen on exactly its queues (asked over the broker),
and a task sent to a queue must be run by the worker of that queue - the work drain, on the
test database, by the second worker. (Which queue a task goes to is checked in
``test_celery_queues.py``.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WORKERS = {"bitcoin-writer": "bitcoin", "hemi-writer": "hemi,work,celery"}


@pytest.fixture
def two_workers(django_db_setup, django_db_blocker):
    from hemiscope.celery import app
    from hemiscope.services import stop_process
    from tests.conftest import _test_database_url

    with django_db_blocker.unblock():
        env = dict(os.environ, DATABASE_URL=_test_database_url(), CELERY_QUEUES_PER_CHAIN="true")
    host = f"{os.getpid()}.test"
    procs, names = [], {}
    log_dir = REPO / "var"
    log_dir.mkdir(exist_ok=True)
    try:
        for name, queues in WORKERS.items():
            hostname = f"{name}@{host}"
            names[name] = hostname
            log = open(log_dir / f"test-worker-{name}.log", "wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "hemiscope", "worker", "--pool", "solo", "-Q", queues,
                 "-n", hostname, "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
        deadline = time.monotonic() + 90
        while True:
            answered = {next(iter(r)) for r in app.control.ping(destination=list(names.values()), timeout=0.5)}
            if answered == set(names.values()):
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"workers did not start (see var/test-worker-*.log); answered: {answered}")
        yield names
    finally:
        for proc in procs:
            stop_process(proc, timeout=15)


# The mark makes pytest-django create the test database even when this test runs alone (it only
# sets up the databases some collected test asks for); transaction=True because the workers'
# own connections write to it and must see committed rows.
@pytest.mark.django_db(transaction=True)
def test_each_worker_consumes_its_queues_and_runs_their_tasks(two_workers):
    from hemiscope.celery import app

    active = app.control.inspect(destination=list(two_workers.values()), timeout=5).active_queues()
    queues = {host: sorted(q["name"] for q in qs) for host, qs in active.items()}
    assert queues == {
        two_workers["bitcoin-writer"]: ["bitcoin"],
        two_workers["hemi-writer"]: ["celery", "hemi", "work"],
    }
    # The work drain, sent where CELERY_QUEUES_PER_CHAIN routes it, runs on the test database.
    task = app.send_task("indexer.crosschain.tasks.drain_work", queue="work")
    assert set(task.get(timeout=60)) >= {"done", "failed"}  # a DrainResult: the drain ran
    ran = f"drain_work[{task.id}] received"  # the worker that took it logs so before running it
    assert ran in (REPO / "var" / "test-worker-hemi-writer.log").read_text()
    assert ran not in (REPO / "var" / "test-worker-bitcoin-writer.log").read_text()
