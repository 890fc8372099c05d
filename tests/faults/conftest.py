"""The fault suite's machinery: real nodes, real Celery workers we may SIGKILL, sizes.

Sizes follow the fuzz convention: ``make test`` runs every fault once on a short chain (the
slice); ``make faults`` sets ``HEMISCOPE_FAULT_ROUNDS`` and ``HEMISCOPE_FAULT_BLOCKS`` higher,
so each fault strikes at several points of a longer sync. Nothing is skipped in the slice.

Workers started here consume their own queue (``faults``), so a session worker that other
suites started (``celery_worker_process``, default queue) never takes our tasks, and we can
kill ours without touching it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devnet.btckeys import DevKey
from devnet.nodes import BcoinNode, start_bcoin
from tests.hemi_ingest.conftest import publish_devnet_state

REPO = Path(__file__).resolve().parents[2]
QUEUE = "faults"
ROUNDS = int(os.environ.get("HEMISCOPE_FAULT_ROUNDS") or 1)
BLOCKS = int(os.environ.get("HEMISCOPE_FAULT_BLOCKS") or 60)
MINER = DevKey.from_label("faults-miner")
# Node URLs go into the devnet state file the worker (and this process) resolve: the same merge
# the Hemi ingest tests use.
publish = publish_devnet_state


class Worker:
    """One real ``celery worker`` process (solo pool) on the ``faults`` queue, in its own
    process group so SIGKILL reaches it and nothing else."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.name = f"faults-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "hemiscope", "worker", "--pool", "solo",
                 "--concurrency", "1", "-Q", QUEUE, "-n", self.name,
                 "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        from hemiscope.celery import app

        deadline = time.monotonic() + 60
        # A connection of its own: a test may have cut every Redis client (a Redis restart).
        with app.connection_for_write() as conn:
            while not app.control.ping(destination=[self.name], timeout=0.5, connection=conn):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"celery worker did not start:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no message handed back - exactly a crashed host."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def stop(self) -> None:
        from hemiscope.services import stop_process

        if self.proc.poll() is None:
            stop_process(self.proc, timeout=15)


@pytest.fixture
def start_worker(django_db_blocker, tmp_path) -> Iterator:
    """``start_worker(**env)`` -> a running :class:`Worker` on the test database; all are
    stopped at the end of the test."""
    from tests.conftest import _test_database_url

    with django_db_blocker.unblock():
        base = dict(os.environ, DATABASE_URL=_test_database_url())
    started: list[Worker] = []

    def start(**env: str) -> Worker:
        worker = Worker({**base, **env}, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def bcoin_node(tmp_path_factory) -> Iterator[BcoinNode]:
    """A bcoin node whose chain lives on disk, so it can be stopped and started again."""
    root = tmp_path_factory.mktemp("faults-bcoin")
    with start_bcoin("bitcoin", root=root, memory=False, fresh=True, data_dir=root / "bcoin") as node:
        yield node


@pytest.fixture
def published_bcoin(bcoin_node) -> Iterator[BcoinNode]:
    publish(bitcoin_rpc_url=bcoin_node.bitcoin_rpc_url, hemi_rpc_url=None)
    try:
        yield bcoin_node
    finally:
        publish(bitcoin_rpc_url=None)


@pytest.fixture(scope="module")
def hemi_chain(tmp_path_factory):
    """A real anvil driven like the devnet's sequencer (``tests.hemi_ingest.conftest.DevChain``)."""
    from devnet.nodes import start_anvil
    from tests.hemi_ingest.conftest import DevChain

    with start_anvil("hemi", root=tmp_path_factory.mktemp("faults-anvil")) as node:
        chain = DevChain(node.hemi_rpc_url)
        yield chain
        chain.rpc.close()


@pytest.fixture
def published_hemi(hemi_chain):
    from devnet.constants import DEVNET_CHAIN_ID

    publish(hemi_rpc_url=hemi_chain.url, chain_id=DEVNET_CHAIN_ID, bitcoin_rpc_url=None)
    try:
        yield hemi_chain
    finally:
        publish(hemi_rpc_url=None, chain_id=None)


@contextmanager
def restarted(node) -> Iterator[None]:
    """Stop ``node`` (its process group) for the body, then start it again on the same ports
    and data directory: an outage and a restart, as an operator's node would have one."""
    node.stop()
    try:
        yield
    finally:
        node._spawn()
        node._wait_ready(60)


def wait_for(predicate, *, timeout: float, interval: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
