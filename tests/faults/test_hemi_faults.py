"""Faults on the Hemi side, on a real anvil, PostgreSQL, Redis and Celery workers. A Hemi
batch of new blocks is ONE transaction (``ingest.write_run``), so a fault inside it must
leave the whole batch out; after each fault ``hemi_check`` finds nothing and the index
reaches the tip."""

from __future__ import annotations

import pytest

from devnet.constants import DEVNET_CHAIN_ID
from indexer.core.errors import TransientError
from indexer.hemi import ingest, sync, tokens_ingest
from indexer.hemi import tasks as hemi_tasks
from indexer.hemi.models import Block
from indexer.hemi.rpc import HemiRpc
from indexer.models import ChainCursor

from .checks import assert_hemi_whole, own_backend_pid, terminate_backend
from .conftest import BLOCKS, QUEUE, ROUNDS, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

CONFIG = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)


def cursor_height() -> int:
    return ChainCursor.objects.filter(chain="hemi").values_list("height", flat=True).first() or -1


def follow_to(tip: int) -> None:
    """Send follow_tip as beat would until the cursor is at ``tip`` (one run stops after
    10 batches; the chain is shared by the module's tests and may be long)."""
    while cursor_height() < tip:
        outcome = hemi_tasks.follow_tip.apply_async(queue=QUEUE).get(timeout=300)
        assert "height" in outcome, outcome


def assert_at_tip(tip: int) -> None:
    assert cursor_height() == tip
    assert Block.objects.canonical().count() == tip + 1
    assert_hemi_whole()


def test_a_worker_killed_mid_batch_has_its_task_redelivered_and_the_index_is_whole(
    published_hemi, start_worker
) -> None:
    """SIGKILL while a batch transaction is open: that batch is rolled back whole, the
    committed ones stay, and the killed run's own message runs again on a new worker."""
    small_batches = {"HEMI_BATCH_SIZE": "5", "BROKER_VISIBILITY_TIMEOUT_SECONDS": "3"}
    for _ in range(ROUNDS):  # each round: new blocks, a worker killed part-way through them
        started = cursor_height()
        published_hemi.mine_empty(BLOCKS)
        tip = published_hemi.tip()
        strike = started + 6  # past the first batches: a follow run stops after 10 batches (50 blocks)
        worker = start_worker(**small_batches)
        result = hemi_tasks.follow_tip.apply_async(queue=QUEUE)
        wait_for(lambda s=strike: cursor_height() >= s, timeout=120, what=f"the cursor to pass {strike}")
        worker.kill()
        killed_at = cursor_height()
        assert started < killed_at < tip, "the kill must land mid-sync"
        assert not Block.objects.filter(number__gt=killed_at).exists()  # no block past the cursor
        assert_hemi_whole()
        successor = start_worker(**small_batches)
        outcome = result.get(timeout=120)
        assert outcome["height"] >= killed_at, outcome  # the follow run's block limit may stop it short
        assert result.id in successor.log()
        follow_to(tip)  # what a follow run's block limit left for the next beat tick
        successor.stop()
    assert_at_tip(tip)


def test_the_database_connection_dropped_inside_a_batch_transaction(published_hemi, monkeypatch) -> None:
    published_hemi.mine_empty(BLOCKS)
    tip = published_hemi.tip()
    rpc = HemiRpc(published_hemi.url)
    record_followups = ingest._record_followups
    strikes = [1] * ROUNDS

    def drop_connection_mid_batch(results, after_commit):
        # Inside write_run's transaction: the batch's rows are written, not committed.
        if strikes:
            strikes.pop()
            terminate_backend(own_backend_pid())
        return record_followups(results, after_commit)

    monkeypatch.setattr(ingest, "_record_followups", drop_connection_mid_batch)
    try:
        for _ in range(ROUNDS):
            before = cursor_height()
            with pytest.raises(TransientError, match="database"):
                sync.follow_tip(rpc, network=published_hemi.network(), config=CONFIG, batch_size=7)
            assert cursor_height() == before  # the batch went whole or not at all
            assert not Block.objects.filter(number__gt=before).exists()
            assert_hemi_whole()
        monkeypatch.setattr(ingest, "_record_followups", record_followups)
        assert sync.follow_tip(rpc, network=published_hemi.network(), config=CONFIG).current == tip
    finally:
        rpc.close()
    assert_at_tip(tip)


def test_the_database_connection_dropped_inside_a_reorg_undo(published_hemi, monkeypatch) -> None:
    chain = published_hemi
    rpc = HemiRpc(chain.url)
    network = chain.network()
    try:
        chain.mine_empty(3)
        snapshot = chain.rpc.call("evm_snapshot")
        chain.mine_empty(4)
        tip = chain.tip()
        assert sync.follow_tip(rpc, network=network, config=CONFIG).current == tip
        fork = tip - 4
        assert chain.rpc.call("evm_revert", [snapshot]) is True
        chain.mine([{"from": chain.accounts[0], "to": chain.accounts[1], "value": 1}])  # another branch
        chain.mine_empty(5)
        new_tip = chain.tip()
        recompute = tokens_ingest.recompute_balances

        def drop_connection_mid_undo(pairs):
            terminate_backend(own_backend_pid())  # blocks marked orphaned, not committed
            return recompute(pairs)

        monkeypatch.setattr(tokens_ingest, "recompute_balances", drop_connection_mid_undo)
        with pytest.raises(TransientError, match="database"):
            sync.follow_tip(rpc, network=network, config=CONFIG)
        assert not Block.objects.filter(canonical=False).exists()  # nothing half-undone
        assert cursor_height() == tip
        assert_hemi_whole()

        monkeypatch.setattr(tokens_ingest, "recompute_balances", recompute)
        state = sync.follow_tip(rpc, network=network, config=CONFIG)
        assert (state.reorgs, state.current) == (1, new_tip)
        assert Block.objects.filter(canonical=False, number__gt=fork).count() == tip - fork
    finally:
        rpc.close()
    assert_at_tip(new_tip)


def test_a_node_replaced_by_another_chain_is_refused_with_a_clear_error(
    published_hemi, start_worker, tmp_path, client
) -> None:
    """The Hemi URL now answers for another chain (another chain id): the worker's run
    refuses by name, writes nothing, and /healthz shows the alert."""
    from devnet.nodes import start_anvil

    from .conftest import publish

    published_hemi.mine_empty(3)
    tip = published_hemi.tip()
    start_worker()
    follow_to(tip)
    before = sorted(Block.objects.values_list("hash", "canonical"))
    with start_anvil("other", root=tmp_path, chain_id=DEVNET_CHAIN_ID + 1) as other:
        publish(hemi_rpc_url=other.hemi_rpc_url)
        outcome = hemi_tasks.follow_tip.apply_async(queue=QUEUE).get(timeout=120)
        assert outcome["refused"] == "wrong-chain", outcome
        assert str(DEVNET_CHAIN_ID + 1) in outcome["error"], outcome
        assert sorted(Block.objects.values_list("hash", "canonical")) == before
        assert "hemi-wrong-chain" in {w["code"] for w in client.get("/healthz").json()["warnings"]}
        assert_hemi_whole()
    publish(hemi_rpc_url=published_hemi.url)
    assert hemi_tasks.follow_tip.apply_async(queue=QUEUE).get(timeout=120)["height"] == tip
    assert_at_tip(tip)


def test_a_node_outage_mid_sync_then_restart(published_hemi, monkeypatch) -> None:
    """The node stops answering between two batches (connections reset, then refused): a
    named transient error, the committed batches whole; back at the same address, the next
    run reaches the tip."""
    import dataclasses
    from urllib.parse import urlparse

    from .proxy import NodeProxy

    published_hemi.mine_empty(BLOCKS)
    tip = published_hemi.tip()
    proxy = NodeProxy(urlparse(published_hemi.url).port)
    rpc = HemiRpc(proxy.url, max_retries=1)
    write_run = ingest.write_run
    outage = []

    def cut_after_first_batch(*args, **kwargs):
        results = write_run(*args, **kwargs)
        if not outage:
            outage.append(proxy.down())
        return results

    monkeypatch.setattr(ingest, "write_run", cut_after_first_batch)
    network = dataclasses.replace(published_hemi.network(), hemi_rpc_url=proxy.url)
    try:
        with pytest.raises(TransientError):
            sync.follow_tip(rpc, network=network, config=CONFIG, batch_size=7)
        stopped = cursor_height()
        assert 0 <= stopped < tip
        assert not Block.objects.filter(number__gt=stopped).exists()
        assert_hemi_whole()
        proxy.up()
        monkeypatch.setattr(ingest, "write_run", write_run)
        assert sync.follow_tip(rpc, network=network, config=CONFIG).current == tip
    finally:
        rpc.close()
        proxy.down()
    assert_at_tip(tip)
