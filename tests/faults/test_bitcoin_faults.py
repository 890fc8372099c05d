"""Faults on the Bitcoin side, on a real bcoin node, a real PostgreSQL, a real Redis and real
Celery workers: after each, ``btc_check`` finds no gap, duplicate or dangling row and the
index reaches the node's tip."""

from __future__ import annotations

import pytest

from devnet.btc import mine
from indexer.bitcoin import ingest
from indexer.bitcoin import tasks as btc_tasks
from indexer.bitcoin.models import BitcoinBlock
from indexer.bitcoin.rpc import RpcSource
from indexer.bitcoin.sync import follow_tip
from indexer.core.errors import TransientError
from indexer.core.retry import RetryPolicy
from indexer.models import ChainCursor

from .checks import assert_bitcoin_whole, own_backend_pid, terminate_backend
from .conftest import BLOCKS, MINER, QUEUE, ROUNDS, restarted, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def cursor_height() -> int:
    return ChainCursor.objects.filter(chain="bitcoin").values_list("height", flat=True).first() or -1


def grow(node, blocks: int = BLOCKS) -> int:
    rpc = node.rpc()
    try:
        mine(rpc, blocks, MINER.p2pkh_address)
        return rpc.getblockcount()
    finally:
        rpc.close()


def assert_at_tip(tip: int) -> None:
    assert cursor_height() == tip
    assert BitcoinBlock.objects.active().count() == tip + 1  # genesis to tip, once each
    assert_bitcoin_whole()


def strike_points(start: int, tip: int) -> list[int]:
    """Cursor heights at which to strike: ROUNDS points spread over the sync, never at its ends."""
    return [start + (tip - start) * (i + 1) // (ROUNDS + 2) for i in range(ROUNDS)]


def test_a_worker_killed_mid_sync_has_its_task_redelivered_and_the_index_is_whole(
    published_bcoin, start_worker
) -> None:
    """SIGKILL mid-batch: ``acks_late`` leaves the message unacknowledged in Redis, and after
    the broker's visibility timeout another worker runs it again - no new message is sent."""
    tip = grow(published_bcoin, BLOCKS * ROUNDS)
    for strike in strike_points(0, tip):
        worker = start_worker(BROKER_VISIBILITY_TIMEOUT_SECONDS="3")
        started = cursor_height()
        result = btc_tasks.follow_tip.apply_async(queue=QUEUE)
        wait_for(lambda s=strike: cursor_height() >= s, timeout=120, what=f"the cursor to pass {strike}")
        worker.kill()
        killed_at = cursor_height()
        assert started < killed_at < tip, "the kill must land mid-sync"
        assert_bitcoin_whole()  # what the killed worker committed is whole, block by block
        # A new worker, and nothing sent: the killed run's own message comes back.
        successor = start_worker(BROKER_VISIBILITY_TIMEOUT_SECONDS="3")
        outcome = result.get(timeout=120)
        assert outcome.get("cursor_height") == tip, outcome
        assert result.id in successor.log()
    assert_at_tip(tip)


def test_the_database_connection_dropped_inside_a_block_transaction(published_bcoin, monkeypatch) -> None:
    """``pg_terminate_backend`` of the writer while its block transaction is open: nothing of
    that block stays, the error is a retryable one, and the next run finishes the chain."""
    tip = grow(published_bcoin)
    source = RpcSource(published_bcoin.bitcoin_rpc_url, retry=FAST_RETRY)
    write_tunnel_activity = ingest.write_tunnel_activity
    strikes = strike_points(0, tip)

    def drop_connection_mid_block(block_id, block, activity, tx_ids):
        # Inside ingest_block's transaction: the block row and its transactions are written,
        # the tunnel rows and the cursor move are not yet.
        height = BitcoinBlock.objects.values_list("height", flat=True).get(pk=block_id)
        if strikes and height >= strikes[0]:
            strikes.pop(0)
            terminate_backend(own_backend_pid())
        return write_tunnel_activity(block_id, block, activity, tx_ids)

    monkeypatch.setattr(ingest, "write_tunnel_activity", drop_connection_mid_block)
    try:
        for _ in range(ROUNDS):
            before = cursor_height()
            with pytest.raises(TransientError, match="database"):
                follow_tip(source, bitcoin_network="regtest", start_height=0)
            stopped = cursor_height()
            assert before <= stopped < tip
            assert not BitcoinBlock.objects.filter(height__gt=stopped).exists()  # no half-written block
            assert_bitcoin_whole()
        assert follow_tip(source, bitcoin_network="regtest").cursor_height == tip
    finally:
        source.close()
    assert_at_tip(tip)


def test_a_node_outage_mid_sync_then_restart(published_bcoin, monkeypatch) -> None:
    """The node stops answering mid-sync: a named transient error, the index whole where it
    stopped; once the node is back (same data, same address) the next run reaches the tip."""
    tip = grow(published_bcoin)
    source = RpcSource(published_bcoin.bitcoin_rpc_url, retry=FAST_RETRY)
    ingest_block = ingest.ingest_block
    strike = strike_points(0, tip)[0]
    outage = []

    def stop_node_after(raw, height, **kwargs):
        result = ingest_block(raw, height, **kwargs)
        if height >= strike and not outage:
            outage.append(restarted(published_bcoin))
            outage[0].__enter__()  # the node goes down between two fetches
        return result

    monkeypatch.setattr(ingest, "ingest_block", stop_node_after)
    try:
        with pytest.raises(TransientError):
            follow_tip(source, bitcoin_network="regtest", start_height=0)
        assert strike <= cursor_height() < tip
        assert_bitcoin_whole()
        outage[0].__exit__(None, None, None)  # the node comes back
        monkeypatch.setattr(ingest, "ingest_block", ingest_block)
        assert follow_tip(source, bitcoin_network="regtest").cursor_height == tip
    finally:
        source.close()
    assert_at_tip(tip)


def test_a_worker_rides_out_a_node_outage_with_retries(published_bcoin, start_worker) -> None:
    """On a real worker: the task retries with backoff while the node is down and finishes
    after it restarts, without a new message."""
    tip = grow(published_bcoin)
    start_worker()
    strike = strike_points(0, tip)[0]
    result = btc_tasks.follow_tip.apply_async(queue=QUEUE)
    wait_for(lambda: cursor_height() >= strike, timeout=120, what="the sync to start")
    with restarted(published_bcoin):
        stopped = cursor_height()
        assert stopped < tip, "the outage must land mid-sync"
        assert_bitcoin_whole()
    outcome = result.get(timeout=180)
    assert outcome.get("cursor_height") == tip, outcome
    assert_at_tip(tip)


def test_duplicate_delivery_of_one_message_writes_each_block_once(published_bcoin, start_worker) -> None:
    """The same message (same task id) delivered twice, to two workers at once, and a third
    copy run here: one writer at a time, every block once, and no copy fails - the one that
    finds the sync lock taken is postponed, however long the other holds it."""
    tip = grow(published_bcoin, BLOCKS * 2)
    workers = [start_worker(), start_worker()]
    task_id = "duplicate-delivery-of-one-backfill"
    for _ in workers:
        btc_tasks.backfill_range.apply_async((0, tip), queue=QUEUE, task_id=task_id)
    source = RpcSource(published_bcoin.bitcoin_rpc_url, retry=FAST_RETRY)
    try:
        follow_tip(source, bitcoin_network="regtest", start_height=0)
    finally:
        source.close()
    wait_for(lambda: cursor_height() == tip, timeout=120, what="the copies to finish")
    # Every copy (and each postponed one) ends in "succeeded", none in a failure or a retry.
    wait_for(
        lambda: sum(w.log().count(f"[{task_id}] succeeded") for w in workers) >= len(workers),
        timeout=120, what="both deliveries to succeed",
    )  # fmt: skip
    for worker in workers:
        assert " ERROR" not in worker.log() and "Retry in" not in worker.log(), worker.log()[-2000:]
    assert_at_tip(tip)


def test_a_backfill_queued_behind_a_long_sync_is_postponed_never_failed(published_bcoin, start_worker) -> None:
    """A backfill that found the sync lock taken used ``self.retry(max_retries=None)``, which in
    Celery means the default budget: behind a sync longer than 8 waits it failed. Here it
    arrives having used its whole budget, the lock is taken, and it must still get done."""
    from indexer.bitcoin.chain import SYNC_LOCK
    from indexer.core.locks import session_lock

    tip = grow(published_bcoin, 5)
    worker = start_worker()
    with session_lock(SYNC_LOCK) as acquired:  # a long sync elsewhere holds it
        assert acquired
        first = btc_tasks.backfill_range.apply_async((0, tip), queue=QUEUE, retries=btc_tasks.MAX_RETRIES)
        assert first.get(timeout=60) == {"postponed": True, "start": 0, "end": tip}
    wait_for(lambda: cursor_height() == tip, timeout=120, what="the postponed backfill")
    assert " ERROR" not in worker.log()
    assert_at_tip(tip)
