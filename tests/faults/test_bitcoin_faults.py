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

from .checks import assert_bitcoin_whole, lose_redis, own_backend_pid, terminate_backend
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
    for _ in range(ROUNDS):  # each round: new blocks, a worker killed half-way through them
        started = cursor_height()
        tip = grow(published_bcoin)
        strike = started + (tip - started) // 2
        worker = start_worker(BROKER_VISIBILITY_TIMEOUT_SECONDS="3")
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
        successor.stop()
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
    """On a real worker: the node goes down mid-sync and comes back; the run rides it out
    (the RPC client's backoff, then the task's retry) and finishes without a new message."""
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


def test_the_database_connection_dropped_inside_a_reorg_undo(published_bcoin, monkeypatch) -> None:
    """The reorg undo is one transaction (orphan marks, first publications, cursor): dropped
    half-way it leaves nothing undone by half; the next run does the whole reorg."""
    from devnet.btc import extend_chain
    from devnet.btckeys import DevKey
    from indexer.bitcoin import reorg

    tip = grow(published_bcoin, 10)
    source = RpcSource(published_bcoin.bitcoin_rpc_url, retry=FAST_RETRY)
    rpc = published_bcoin.rpc()
    try:
        assert follow_tip(source, bitcoin_network="regtest", start_height=0).cursor_height == tip
        depth = 3
        side = extend_chain(
            rpc, rpc.getblockhash(tip - depth), depth + 1, payout_script=DevKey.from_label("faults-side").p2pkh_script
        )
        recompute = reorg.recompute_first_publications

        def drop_connection_mid_undo(keystone_ids):
            terminate_backend(own_backend_pid())  # the orphan marks are written, not committed
            return recompute(keystone_ids)

        monkeypatch.setattr(reorg, "recompute_first_publications", drop_connection_mid_undo)
        with pytest.raises(TransientError, match="database"):
            follow_tip(source, bitcoin_network="regtest")
        assert not BitcoinBlock.objects.filter(in_active_chain=False).exists()  # nothing half-undone
        assert cursor_height() == tip
        assert_bitcoin_whole()

        monkeypatch.setattr(reorg, "recompute_first_publications", recompute)
        result = follow_tip(source, bitcoin_network="regtest")
        assert (result.rewinds, result.cursor_height) == (1, tip + 1)
        assert BitcoinBlock.objects.filter(in_active_chain=False).count() == depth
        assert bytes(ChainCursor.objects.get(chain="bitcoin").block_hash)[::-1].hex() == side[-1]
    finally:
        source.close()
        rpc.close()
    assert_at_tip(tip + 1)


def test_a_node_replaced_by_another_chain_is_refused_with_a_clear_error(
    published_bcoin, start_worker, tmp_path, client
) -> None:
    """The node at the configured address is replaced by a new regtest node (a reset devnet:
    same genesis, another, shorter history). The worker's run refuses it by name, writes
    nothing, shows an alert; with the real node back the next run passes and clears it."""
    from devnet.nodes import start_bcoin

    from .conftest import publish

    tip = grow(published_bcoin, 10)
    # The depth limit out of the way: on a long chain the replacement's fork lies deeper than
    # the default 1000 and the refusal would be reorg-too-deep (also right, but not this check).
    start_worker(BITCOIN_MAX_REORG_DEPTH="1000000")
    assert btc_tasks.follow_tip.apply_async(queue=QUEUE).get(timeout=300)["cursor_height"] == tip
    before = sorted(BitcoinBlock.objects.values_list("hash_internal", "in_active_chain"))
    with start_bcoin("replacement", root=tmp_path, memory=True, fresh=True) as other:
        rpc = other.rpc()
        mine(rpc, 5, MINER.p2pkh_address)  # shorter than ours (>= 10): less work
        rpc.close()
        publish(bitcoin_rpc_url=other.bitcoin_rpc_url)
        outcome = btc_tasks.follow_tip.apply_async(queue=QUEUE).get(timeout=120)
        assert outcome["refused"] == "less-work", outcome
        assert "less work than ours" in outcome["error"] and "Nothing was orphaned" in outcome["error"]
        assert sorted(BitcoinBlock.objects.values_list("hash_internal", "in_active_chain")) == before
        assert cursor_height() == tip
        warnings = client.get("/healthz").json()["warnings"]
        assert "bitcoin-less-work" in {w["code"] for w in warnings}
        assert_bitcoin_whole()
    publish(bitcoin_rpc_url=published_bcoin.bitcoin_rpc_url)
    assert btc_tasks.follow_tip.apply_async(queue=QUEUE).get(timeout=120)["cursor_height"] == tip
    assert "bitcoin-less-work" not in {w["code"] for w in client.get("/healthz").json()["warnings"]}
    assert_at_tip(tip)


def test_redis_flushed_and_restarted_loses_no_work(published_bcoin, start_worker) -> None:
    """A vault learned after its deposit was scanned needs a rescan: a durable work item plus a
    Celery nudge. Redis then loses everything (FLUSHALL, every client connection dropped, as a
    restart without persistence would). The nudge is gone; the next beat-style drain on a new
    worker still finds the item in PostgreSQL and the deposit."""

    from devnet.btc import CoinbaseWallet
    from devnet.btckeys import DevKey
    from devnet.btctx import TxOutput, deposit_recipient_script_ascii
    from indexer.bitcoin.chain import VAULT_RESCAN
    from indexer.bitcoin.models import TunnelDeposit
    from indexer.bitcoin.vaults import register_vault
    from indexer.crosschain import tasks as cross_tasks
    from indexer.models import WorkItem

    grow(published_bcoin, 105)  # mature coinbases for the wallet
    rpc = published_bcoin.rpc()
    custody = DevKey.from_label("faults-vault").p2pkh_script
    deposit = CoinbaseWallet(rpc, MINER).pay(
        [TxOutput(custody, 1_500_000), TxOutput(deposit_recipient_script_ascii("0x" + "ef" * 20), 0)]
    )
    mine(rpc, 2, MINER.p2pkh_address)
    tip = rpc.getblockcount()
    rpc.close()
    worker = start_worker()
    assert btc_tasks.follow_tip.apply_async(queue=QUEUE).get(timeout=180)["cursor_height"] == tip
    worker.stop()
    assert not TunnelDeposit.objects.exists()  # the vault was unknown when the block was scanned

    register_vault(bytes.fromhex("33" * 20), 0, custody, "", hemi_block=1)
    item = WorkItem.objects.get(kind=VAULT_RESCAN)
    assert item.state == WorkItem.PENDING
    lose_redis()

    start_worker()
    wait_for(
        lambda: cross_tasks.drain_work.apply_async(queue=QUEUE).get(timeout=120)
        and WorkItem.objects.get(pk=item.pk).state == WorkItem.DONE,
        timeout=120, interval=0.5, what="the rescan work item",
    )  # fmt: skip
    assert TunnelDeposit.objects.filter(transaction__txid_internal=bytes.fromhex(deposit)[::-1]).exists()
    assert_at_tip(tip)
