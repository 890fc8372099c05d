"""The Celery tasks through Redis and a real worker process; duplicate delivery is harmless."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from devnet.constants import DEVNET_CHAIN_ID
from indexer.core.errors import TransientError
from indexer.core.locks import lock_key
from indexer.crosschain.tasks import drain_work
from indexer.hemi import tasks
from indexer.hemi.chain import FOLLOW_LOCK
from indexer.hemi.models import Block, Token, TokenBalance, TokenTransfer, Transaction
from indexer.hemi.rpc import HemiRpc
from indexer.models import ChainCursor

from .conftest import DevChain, publish_devnet_state

HEMI_FOLLOW_LOCK = lock_key(FOLLOW_LOCK)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def worker_chain(chain: DevChain) -> Iterator[dict]:
    """Blocks with a token on the module's anvil, published where the worker looks for the node."""
    a = chain.accounts
    usd = chain.deploy("DevnetUSD", 10**12)
    token = chain.contract("DevnetUSD", usd)
    for n in range(6):
        chain.mine([chain.call_tx(token, "transfer", a[1 + n % 5], 1_000 + n, gas=100_000)])
    publish_devnet_state(hemi_rpc_url=chain.url, chain_id=DEVNET_CHAIN_ID)
    yield {"usd": bytes.fromhex(usd[2:]), "tip": chain.tip()}
    publish_devnet_state(hemi_rpc_url=None, chain_id=None)


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the worker"
        time.sleep(0.1)


def snapshot() -> dict:
    return {
        model.__name__: sorted(repr(sorted(row.items())) for row in model.objects.values())
        for model in (Block, Transaction, TokenTransfer, TokenBalance, ChainCursor)
    }


def test_follow_tip_runs_in_the_worker_and_nudges_the_metadata_reads(worker_chain, celery_worker_process) -> None:
    result = tasks.follow_tip.delay().get(timeout=60)
    assert result["height"] == worker_chain["tip"] and result["blocks"] == worker_chain["tip"] + 1
    assert Block.objects.count() == worker_chain["tip"] + 1
    # The metadata read was recorded as work with the block; the nudge made the worker drain it.
    wait_for(lambda: Token.objects.filter(address=worker_chain["usd"], symbol="dUSD").exists())


def test_duplicate_deliveries_change_nothing(chain: DevChain, worker_chain, celery_worker_process) -> None:
    first = [tasks.follow_tip.delay(), tasks.follow_tip.delay()]
    results = [r.get(timeout=60) for r in first]
    assert sum(r.get("blocks", 0) for r in results) == worker_chain["tip"] + 1  # the lock or the cursor
    wait_for(lambda: Token.objects.filter(metadata_read_at_block__isnull=False).exists())
    before = snapshot()
    token_id = Token.objects.get(address=worker_chain["usd"]).id
    again = [tasks.backfill_range.delay(0, worker_chain["tip"]), drain_work.delay(), drain_work.delay(),
             tasks.follow_tip.delay()]  # fmt: skip
    for r in again:
        r.get(timeout=60)
    assert snapshot() == before
    balance = TokenBalance.objects.get(token_id=token_id, holder=bytes.fromhex(chain.accounts[1][2:]))
    assert balance.balance == 1_000 + 1_005  # transfers n=0 and n=5 to accounts[1], counted once


def test_an_overlapping_follow_tip_run_skips(worker_chain, celery_worker_process) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", [HEMI_FOLLOW_LOCK])
    try:
        assert tasks.follow_tip.delay().get(timeout=60) == {"skipped": "another follow_tip run holds the lock"}
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [HEMI_FOLLOW_LOCK])
    assert not Block.objects.exists()


def test_only_transient_errors_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = []

    def dead_node() -> HemiRpc:
        attempts.append(1)
        return HemiRpc("http://127.0.0.1:9", max_retries=0, timeout=1)

    monkeypatch.setattr(tasks, "_client", dead_node)
    monkeypatch.setattr(tasks, "task_countdown", lambda retries: 0)
    result = tasks.backfill_range.apply(args=[0, 1])
    assert isinstance(result.result, TransientError)
    assert len(attempts) == tasks.MAX_RETRIES + 1

    attempts.clear()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("not transient")

    monkeypatch.setattr(tasks.sync, "backfill", broken)
    monkeypatch.setattr(tasks, "_client", lambda: attempts.append(1) or HemiRpc("http://127.0.0.1:9"))
    result = tasks.backfill_range.apply(args=[0, 1])
    assert isinstance(result.result, ValueError) and len(attempts) == 1
