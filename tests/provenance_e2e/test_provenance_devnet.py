"""The product's promise on a real devnet: a treasury's 100 BTC lock is indexed from both chains
by the real Celery worker, its provenance page shows every link verified and superfinal, and
its evidence bundle verifies offline. Adversarial scenarios get the right verdicts."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from devnet.scenarios import alt_keystone, btc_reorg, hemi_reorg, treasury_lock, unbacked_mint, withdrawal
from explorer import anchoring, evidence, provenance, tunnel_audit, withdrawal_audit
from explorer.verdicts import FAILED, PENDING, VERIFIED
from explorer.verify import verify_bytes
from indexer.models import ChainCursor
from tests.explorer.verdict_checks import assert_stored_agrees_with_live

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def index_both_chains(devnet, *, timeout: float = 240, queue: str | None = None) -> None:
    """Run both chains' follow_tip tasks through Redis and the real worker until caught up.

    Vault custody scripts arrive through durable work items (custody read -> registration ->
    rescan) that the worker's drain task runs (beat sends it in production; here each round
    does), so "caught up" means both cursors at the node tips and no work left - stored
    verdicts refreshed from every chain change included. ``queue``: the workers to send to (the
    fault suite's own, or the default).
    """
    from indexer.bitcoin.models import VaultScript
    from indexer.bitcoin.tasks import follow_tip as btc_follow
    from indexer.crosschain.tasks import drain_work
    from indexer.hemi.tasks import follow_tip as hemi_follow
    from indexer.models import ChainCursor, WorkItem

    deadline = time.monotonic() + timeout
    while True:
        hemi_follow.apply_async(queue=queue).get(timeout=120)
        btc_follow.apply_async(queue=queue).get(timeout=120)
        drain_work.apply_async(queue=queue).get(timeout=120)
        cursors = dict(ChainCursor.objects.values_list("chain", "height"))
        caught_up = (
            cursors.get("hemi") == devnet.net.w3.eth.block_number
            and cursors.get("bitcoin") == devnet.net.btc.getblockcount()
            and VaultScript.objects.exists()
            and not WorkItem.objects.filter(state__in=[WorkItem.PENDING, WorkItem.RUNNING]).exists()
        )
        if caught_up:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"indexers did not catch up: cursors {cursors}")
        time.sleep(0.5)


def mint_row(tx_hash: str):
    return provenance.mints_in_transaction(bytes.fromhex(tx_hash.removeprefix("0x"))).first()


def listed(client, url: str) -> list[dict]:
    """Every item of an API list, following ``next``."""
    items, link = [], url
    while link:
        body = client.get(link).json()
        items += body["items"]
        link = body["next"]
    return items


def test_a_treasury_lock_is_verified_superfinal_and_provable_offline(devnet, celery_worker_process, client):
    summary = treasury_lock.run(devnet.net)
    index_both_chains(devnet)

    mint = mint_row(summary["mint_tx_hash"])
    assert mint is not None, "the mint was not indexed"
    assert mint.deposit_txid_display == summary["deposit_txid"]
    p = provenance.for_mint(mint, hemibtc=bytes.fromhex(devnet.net.contracts["BTCToken"][2:]))
    assert [(link.name, link.verdict) for link in p.links] == [
        ("Bitcoin lock", VERIFIED),
        ("Sequencer ordering", VERIFIED),
        ("Hemi block", VERIFIED),
        ("Bitcoin anchoring", VERIFIED),
    ], [link.reason for link in p.links]
    assert p.finality.superfinal and p.finality.keystone_number == summary["keystone_number"]
    assert p.finality.publication_height == summary["pop_publication_height"]
    assert assert_stored_agrees_with_live() > 0  # stored by the worker, with no page view

    page = client.get(f"/provenance/mint/{summary['mint_tx_hash']}").content.decode()
    assert 'Overall: <strong class="verdict-verified">verified</strong>' in page and "superfinal" in page

    bundle = evidence.export_bytes(mint)
    results = verify_bytes(bundle)
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert len(results) == 9
    tampered = bytearray(bundle)
    tampered[len(tampered) // 2] ^= 0x01
    assert not verify_bytes(bytes(tampered))[-1].ok


def test_unbacked_mints_and_alternate_keystones_are_caught(devnet, celery_worker_process, client):
    lock = treasury_lock.run(devnet.net)  # a backed mint beside them (tests run in any order)
    unbacked = unbacked_mint.run(devnet.net)
    alt = alt_keystone.run(devnet.net)
    index_both_chains(devnet)
    assert_stored_agrees_with_live()
    failed = {i["transaction_hash"] for i in listed(client, "/api/v1/tunnel/mints?verdict=failed&limit=100")}
    assert {m["mint_tx_hash"].lower() for m in unbacked["mints"]} <= failed
    verified = {i["transaction_hash"] for i in listed(client, "/api/v1/tunnel/mints?verdict=verified&limit=100")}
    assert lock["mint_tx_hash"].lower() in verified and not verified & failed

    for m in unbacked["mints"]:
        row = mint_row(m["mint_tx_hash"])
        assert row is not None
        link = tunnel_audit.audit_mint(row)
        assert link.verdict == FAILED, (m, link.reason)
        assert (
            link.reason.startswith("unbacked mint")
            or "another vault" in link.reason
            or ("minted to someone else" in link.reason)
        ), link.reason

    alerts = anchoring.alternate_chain_alerts()
    assert alt["keystone_number"] in {a.canonical_keystone.number for a in alerts}
    assert alt["pop_txid"] in {a.publication.transaction.txid_display for a in alerts}


def test_a_bitcoin_reorg_orphans_the_deposit_and_its_publication(devnet, celery_worker_process, monkeypatch):
    from explorer.models import DepositVerdict
    from indexer.bitcoin.models import BitcoinBlock, KeystoneFirstPublication, PopPublication, TunnelDeposit
    from indexer.bitcoin.tasks import follow_tip as btc_follow
    from indexer.crosschain.tasks import drain_work

    index_both_chains(devnet)  # vault known, cursors at the tips
    build_block_on = btc_reorg.build_block_on
    indexed_before_reorg = []
    before_reorg: list[tuple[str, int]] = []  # the newest deposit's stored verdict before the reorg

    def index_then_build(*args, **kwargs):
        # The scenario has mined the branch holding the deposit and the PoP publication and is
        # about to build the longer side chain: let the indexer see the soon-orphaned branch,
        # and the worker store the deposit's verdict on it.
        if not indexed_before_reorg:
            btc_follow.delay().get(timeout=120)
            drain_work.delay().get(timeout=120)
            indexed_before_reorg.append(BitcoinBlock.objects.filter(in_active_chain=True).count())
            before_reorg.extend(
                DepositVerdict.objects.filter(deposit__block__in_active_chain=True)
                .order_by("-deposit_id")
                .values_list("verdict", "bitcoin_height")[:1]
            )
        return build_block_on(*args, **kwargs)

    monkeypatch.setattr(btc_reorg, "build_block_on", index_then_build)
    summary = btc_reorg.run(devnet.net)
    index_both_chains(devnet)

    orphaned = BitcoinBlock.objects.filter(in_active_chain=False)
    assert set(orphaned.values_list("height", flat=True)) >= set(
        range(summary["fork_height"] + 1, summary["fork_height"] + summary["depth"] + 1)
    )
    pop = PopPublication.objects.get(
        transaction__txid_internal=bytes.fromhex(summary["pop_txid"])[::-1], block__in_active_chain=False
    )
    first = KeystoneFirstPublication.objects.filter(keystone_id_internal=pop.keystone_id_internal).first()
    assert first is None or first.publication.block.in_active_chain  # never points at an orphan
    deposit = TunnelDeposit.objects.get(transaction__txid_internal=bytes.fromhex(summary["deposit_txid"])[::-1])
    assert not deposit.block.in_active_chain
    check = tunnel_audit.deposit_status(deposit, anchoring.bitcoin_tip_height())
    assert check.verdict == FAILED and "orphaned" in check.detail
    # The stored verdict flipped from pending (judged on the branch the reorg orphaned) to
    # failed by the worker alone, from the chain.changed item the reorg's rewind recorded.
    assert before_reorg[0][0] == PENDING, before_reorg
    stored = DepositVerdict.objects.get(pk=deposit.pk)
    assert (stored.verdict, stored.stage) == (FAILED, "orphaned") and stored.bitcoin_height > before_reorg[0][1]
    assert_stored_agrees_with_live()


def test_a_withdrawal_is_seen_paid_on_bitcoin_and_finalized(devnet, celery_worker_process):
    from indexer.hemi.models import WithdrawalInitiation

    summary = withdrawal.run(devnet.net)
    index_both_chains(devnet)

    w = WithdrawalInitiation.objects.get(uuid=summary["uuid"], canonical=True)
    assert w.btc_address == summary["btc_address"]
    link = withdrawal_audit.audit_withdrawal(w)
    assert link.verdict == VERIFIED, link.reason
    assert withdrawal_audit.withdrawal_status(link) == "finalized"
    assert link.evidence["payout_txid"] == summary["payout_txid"]
    assert link.evidence["finalize_tx"] == summary["finalize_tx_hash"]
    assert_stored_agrees_with_live()


def test_status_and_healthz_follow_a_real_worker(devnet, celery_worker_process, client, settings):
    """/healthz and /status on what the real worker records: a fresh heartbeat, node tips, and
    the lag between them and our cursors - zero once indexed, shown when the nodes move on."""
    from hemiscope import telemetry

    index_both_chains(devnet)
    sent = time.time()

    def recorded(hemi_tip: int, btc_tip: int) -> bool:
        # Beat's two periodic tasks, sent as beat sends them; their results are not stored.
        telemetry.heartbeat.delay()
        telemetry.record_node_tips.delay()
        time.sleep(0.3)
        age, hemi, btc = telemetry.heartbeat_age(), telemetry.node_tip("hemi"), telemetry.node_tip("bitcoin")
        fresh = age is not None and age < time.time() - sent + 1
        return fresh and hemi is not None and hemi.height == hemi_tip and btc is not None and btc.height == btc_tip

    deadline = time.monotonic() + 60
    while not recorded(devnet.net.w3.eth.block_number, devnet.net.btc.getblockcount()):
        assert time.monotonic() < deadline, "the worker recorded no heartbeat and node tips"

    health = client.get("/healthz").json()
    assert health["status"] == "ok", health
    assert health["components"]["worker"] == "ok"
    assert {c: (s["state"], s["lag_blocks"]) for c, s in health["components"]["indexer"].items()} == {
        "hemi": ("ok", 0),
        "bitcoin": ("ok", 0),
    }
    page = client.get("/status").content.decode()
    assert page.count("0 blocks behind the node") == 2 and "none recorded" not in page
    assert "s ago" in page.split("Last heartbeat", 1)[1][:200]

    # The nodes move on; the indexers do not run; the worker reads the new tips.
    cursors = dict(ChainCursor.objects.values_list("chain", "height"))
    for _ in range(3):
        devnet.driver.tick()
    hemi_tip, btc_tip = devnet.net.w3.eth.block_number, devnet.net.btc.getblockcount()
    deadline = time.monotonic() + 60
    while not recorded(hemi_tip, btc_tip):
        assert time.monotonic() < deadline, "the worker did not read the new node tips"
    hemi_lag, btc_lag = hemi_tip - cursors["hemi"], btc_tip - cursors["bitcoin"]
    assert hemi_lag > 0
    page = client.get("/status").content.decode()
    assert f"{hemi_lag:,} block{'s' if hemi_lag != 1 else ''} behind the node" in page
    indexer = client.get("/healthz").json()["components"]["indexer"]
    assert (indexer["hemi"]["lag_blocks"], indexer["bitcoin"]["lag_blocks"]) == (hemi_lag, btc_lag)
    api = {c["chain"]: c["lag"] for c in client.get("/api/v1/status").json()["chains"]}
    assert api == {"hemi": hemi_lag, "bitcoin": btc_lag}

    # A lag above the operator's bound is a warning, still a 200.
    settings.HEALTH_MAX_LAG_HEMI_BLOCKS = hemi_lag - 1
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "warning"
    assert "lag-hemi" in {w["code"] for w in response.json()["warnings"]}


@pytest.mark.faults
def test_verdicts_stay_right_through_a_killed_worker_dropped_connections_and_a_lost_redis(devnet, start_worker):
    """The fault suite on the whole story: the treasury lock indexed while a worker is
    SIGKILLed, every worker database connection is terminated and Redis loses everything.
    The verdicts are the ones an undisturbed run gives, and both audits find nothing."""

    from indexer.hemi.tasks import follow_tip as hemi_follow
    from tests.faults.checks import assert_bitcoin_whole, assert_hemi_whole, lose_redis
    from tests.faults.conftest import QUEUE

    summary = treasury_lock.run(devnet.net)
    faulty = {"BROKER_VISIBILITY_TIMEOUT_SECONDS": "3", "HEMI_BATCH_SIZE": "5"}
    worker = start_worker(**faulty)
    hemi_follow.apply_async(queue=QUEUE)
    deadline = time.monotonic() + 120
    while not ChainCursor.objects.filter(chain="hemi").exists():
        assert time.monotonic() < deadline, "the worker did not start indexing"
        time.sleep(0.02)
    worker.kill()

    start_worker(**faulty)
    from indexer.bitcoin.tasks import follow_tip as btc_follow

    btc_follow.apply_async(queue=QUEUE)
    time.sleep(0.5)
    with connection.cursor() as cur:  # every other session on the test database: the worker's
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    lose_redis()

    index_both_chains(devnet, queue=QUEUE)
    mint = mint_row(summary["mint_tx_hash"])
    p = provenance.for_mint(mint, hemibtc=bytes.fromhex(devnet.net.contracts["BTCToken"][2:]))
    assert [(link.name, link.verdict) for link in p.links] == [
        ("Bitcoin lock", VERIFIED),
        ("Sequencer ordering", VERIFIED),
        ("Hemi block", VERIFIED),
        ("Bitcoin anchoring", VERIFIED),
    ], [link.reason for link in p.links]
    assert all(r.ok for r in verify_bytes(evidence.export_bytes(mint)))
    assert_bitcoin_whole()
    assert_hemi_whole()


def test_stored_verdicts_agree_with_live_after_a_hemi_reorg(devnet, celery_worker_process, monkeypatch):
    from explorer.models import BlockVerdict
    from indexer.crosschain.tasks import drain_work
    from indexer.hemi.tasks import follow_tip as hemi_follow

    index_both_chains(devnet)
    build_keystone_at = hemi_reorg.build_keystone_at

    def index_then_build(*args, **kwargs):
        # Branch A has reached its target and is about to be reverted: index it (and store
        # its verdicts), so the reorg orphans rows we judged.
        hemi_follow.delay().get(timeout=120)
        drain_work.delay().get(timeout=120)
        return build_keystone_at(*args, **kwargs)

    monkeypatch.setattr(hemi_reorg, "build_keystone_at", index_then_build)
    summary = hemi_reorg.run(devnet.net)
    index_both_chains(devnet)
    orphaned = BlockVerdict.objects.filter(block__canonical=False)
    assert orphaned.exists() and set(orphaned.values_list("verdict", flat=True)) == {FAILED}, summary
    assert_stored_agrees_with_live()
