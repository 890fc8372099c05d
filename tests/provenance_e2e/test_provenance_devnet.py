"""The product's promise on a real devnet: a treasury's 100 BTC lock is indexed from both chains
by the real Celery worker, its provenance page shows every link verified and superfinal, and
its evidence bundle verifies offline. Adversarial scenarios get the right verdicts."""

from __future__ import annotations

import time

import pytest

from devnet.scenarios import alt_keystone, btc_reorg, treasury_lock, unbacked_mint, withdrawal
from explorer import anchoring, evidence, provenance, tunnel_audit, withdrawal_audit
from explorer.verdicts import FAILED, VERIFIED
from explorer.verify import verify_bytes

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def index_both_chains(devnet, *, timeout: float = 240) -> None:
    """Run both chains' follow_tip tasks through Redis and the real worker until caught up.

    Vault custody scripts arrive through durable work items (custody read -> registration ->
    rescan) that the worker's drain task runs (beat sends it in production; here each round
    does), so "caught up" means both cursors at the node tips and no work left.
    """
    from indexer.bitcoin.models import VaultScript
    from indexer.bitcoin.tasks import follow_tip as btc_follow
    from indexer.crosschain.tasks import drain_work
    from indexer.hemi.tasks import follow_tip as hemi_follow
    from indexer.models import ChainCursor, WorkItem

    deadline = time.monotonic() + timeout
    while True:
        hemi_follow.delay().get(timeout=120)
        btc_follow.delay().get(timeout=120)
        drain_work.delay().get(timeout=120)
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

    page = client.get(f"/provenance/mint/{summary['mint_tx_hash']}").content.decode()
    assert 'Overall: <strong class="verdict-verified">verified</strong>' in page and "superfinal" in page

    bundle = evidence.export_bytes(mint)
    results = verify_bytes(bundle)
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    assert len(results) == 9
    tampered = bytearray(bundle)
    tampered[len(tampered) // 2] ^= 0x01
    assert not verify_bytes(bytes(tampered))[-1].ok


def test_unbacked_mints_and_alternate_keystones_are_caught(devnet, celery_worker_process):
    unbacked = unbacked_mint.run(devnet.net)
    alt = alt_keystone.run(devnet.net)
    index_both_chains(devnet)

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
    from indexer.bitcoin.models import BitcoinBlock, KeystoneFirstPublication, PopPublication, TunnelDeposit
    from indexer.bitcoin.tasks import follow_tip as btc_follow

    index_both_chains(devnet)  # vault known, cursors at the tips
    build_block_on = btc_reorg.build_block_on
    indexed_before_reorg = []

    def index_then_build(*args, **kwargs):
        # The scenario has mined the branch holding the deposit and the PoP publication and is
        # about to build the longer side chain: let the indexer see the soon-orphaned branch.
        if not indexed_before_reorg:
            btc_follow.delay().get(timeout=120)
            indexed_before_reorg.append(BitcoinBlock.objects.filter(in_active_chain=True).count())
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
