"""The Celery tasks through a real worker and real Redis (never eager), against real bcoin."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from devnet.btc import mine
from devnet.btckeys import DevKey
from devnet.btctx import TxOutput, deposit_recipient_script_ascii
from indexer.bitcoin import tasks
from indexer.bitcoin.chain import SYNC_LOCK
from indexer.bitcoin.models import BitcoinBlock, BitcoinTransaction, PopPublication, TunnelDeposit
from indexer.bitcoin.vaults import register_vault
from indexer.core.errors import PermanentError, TransientError
from indexer.core.locks import lock_key
from indexer.crosschain.tasks import drain_work
from indexer.hashing import display_to_internal
from indexer.models import ChainCursor

pytestmark = [pytest.mark.integration]
TIMEOUT = 60


def _rows() -> tuple[int, int, int]:
    return BitcoinBlock.objects.count(), BitcoinTransaction.objects.count(), PopPublication.objects.count()


def _drain(app) -> None:
    """The worker is a single solo process: once a ping sent after our tasks returns, every
    task queued before it has run."""
    from hemiscope.celery import ping

    assert ping.delay("drain").get(timeout=TIMEOUT) == "pong:drain"


@pytest.mark.django_db(transaction=True)
def test_follow_tip_runs_in_the_worker_and_a_duplicate_delivery_changes_nothing(
    celery_worker_process, published_bcoin, btc_rpc, wallet, miner, keystones, pop_out
):
    from hemiscope.celery import app

    result = tasks.follow_tip.delay().get(timeout=TIMEOUT)
    assert result["skipped"] is False
    cursor = ChainCursor.objects.get(chain="bitcoin")
    assert cursor.height == btc_rpc.getblockcount() == result["cursor_height"]

    keystone = keystones(8001)
    pop_txid = wallet.pay([pop_out(keystone)])
    mine(btc_rpc, 2, miner.p2pkh_address)
    # The same task (same id) delivered twice, as a broker redelivery after a lost ack would.
    first = tasks.follow_tip.apply_async(task_id="btc-follow-duplicate")
    tasks.follow_tip.apply_async(task_id="btc-follow-duplicate")
    first.get(timeout=TIMEOUT)
    _drain(app)
    after = _rows()
    assert PopPublication.objects.filter(transaction__txid_internal=display_to_internal(pop_txid)).count() == 1
    assert BitcoinBlock.objects.count() == btc_rpc.getblockcount() + 1
    assert bytes(ChainCursor.objects.get().block_hash) == display_to_internal(btc_rpc.getbestblockhash())
    assert tasks.follow_tip.delay().get(timeout=TIMEOUT)["ingested"] == 0
    assert _rows() == after


@pytest.mark.django_db(transaction=True)
def test_an_overlapping_follow_tip_skips_while_the_sync_lock_is_held(celery_worker_process, published_bcoin):
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", [lock_key(SYNC_LOCK)])
    try:
        assert tasks.follow_tip.delay().get(timeout=TIMEOUT) == {"skipped": True}
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", [lock_key(SYNC_LOCK)])
    assert not ChainCursor.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_backfill_range_then_a_late_vault_rescan_in_the_worker(
    celery_worker_process, published_bcoin, btc_rpc, wallet, miner
):
    vault = DevKey.from_label("bitcoin-ingest-task-vault")
    deposit_txid = wallet.pay(
        [TxOutput(vault.p2pkh_script, 4_000_000), TxOutput(deposit_recipient_script_ascii("0x" + "ef" * 20), 0)]
    )
    mine(btc_rpc, 1, miner.p2pkh_address)
    tip = btc_rpc.getblockcount()

    assert tasks.backfill_range.delay(0, 20).get(timeout=TIMEOUT)["cursor_height"] == 20
    assert tasks.backfill_range.delay(0, tip).get(timeout=TIMEOUT)["cursor_height"] == tip
    assert not TunnelDeposit.objects.exists()

    # Registration commits here (transactional test) with its rescan work item; the worker's
    # drain task (here sent by hand; the beat sends it in production) runs the rescan.
    assert register_vault(b"\x33" * 20, 2, vault.p2pkh_script, vault.p2pkh_address, hemi_block=1)
    drain_work.delay().get(timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while not TunnelDeposit.objects.filter(transaction__txid_internal=display_to_internal(deposit_txid)).exists():
        assert time.monotonic() < deadline, "the rescan task did not find the deposit"
        time.sleep(0.2)


class _CountingSource:
    def __init__(self, error: Exception):
        self.error = error
        self.calls = 0

    def tip_height(self):
        self.calls += 1
        raise self.error

    def close(self):
        pass


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("error", "runs"), [(TransientError("timeout"), 1 + tasks.MAX_RETRIES), (PermanentError("bad auth"), 1)]
)
def test_follow_tip_retries_only_transient_source_errors(monkeypatch, error, runs):
    source = _CountingSource(error)
    monkeypatch.setattr(tasks, "source_for", lambda network: source)
    outcome = tasks.follow_tip.apply()  # runs here; retries re-run at once (countdown ignored)
    assert isinstance(outcome.result, type(error))
    assert source.calls == runs
