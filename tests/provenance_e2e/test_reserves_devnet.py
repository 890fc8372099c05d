"""Reserve reconciliation on a real devnet (bcoin + anvil), indexed by the real Celery worker.

The tests run in file order on one devnet: the honest scenarios first (treasury lock,
withdrawal, a Bitcoin reorg orphaning a deposit: each balances), the compromised operator last
(its unbacked mints stay on the devnet for good).
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from devnet.scenarios import btc_reorg, treasury_lock, unbacked_mint, withdrawal
from explorer import reserves
from tests.provenance_e2e.test_provenance_devnet import index_both_chains

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def run_cli(*args: str) -> tuple[int, str]:
    """``manage.py reserves`` in-process: (exit code, printed text)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("reserves", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = int(exc.code)
    except Exception as exc:  # CommandError: what run_from_argv turns into its returncode
        code = getattr(exc, "returncode", None)
        if code is None:
            raise
        err.write(str(exc))
    return code, out.getvalue() + err.getvalue()


def terms(result: reserves.Reconciliation) -> dict[str, int]:
    return {t.key: t.sats for t in result.terms}


def test_a_treasury_lock_and_a_withdrawal_balance_at_every_position(devnet, celery_worker_process):
    from indexer.bitcoin.models import VaultOutflow, WithdrawalPayout
    from indexer.hemi.models import WithdrawalInitiation

    lock = treasury_lock.run(devnet.net)
    index_both_chains(devnet)
    after_lock = reserves.reconcile()
    assert after_lock.complete, after_lock.waiting_for
    assert after_lock.status == reserves.BALANCED, after_lock.equation()
    assert after_lock.supply_sats >= lock["net_sats"]
    assert terms(after_lock)["deposit_fees"] >= lock["fee_sats"]

    out = withdrawal.run(devnet.net)
    index_both_chains(devnet)
    result = reserves.reconcile()
    assert result.status == reserves.BALANCED and result.complete, result.equation()
    t = terms(result)
    assert t["withdrawal_fees"] >= out["fee_sats"] > 0
    assert t["network_fees"] > 0  # the payout's fee came out of the vault
    outflow = VaultOutflow.objects.get(transaction__txid_internal=bytes.fromhex(out["payout_txid"])[::-1])
    assert outflow.kind == VaultOutflow.PAYOUT and outflow.payout_sats == out["net_sats"]
    assert outflow.network_fee_sats == outflow.spent_sats - outflow.output_sats > 0

    code, text = run_cli()
    assert code == 0, text
    assert "BALANCED" in text and "withdrawal fees retained" in text

    # Pinned between the initiation and the payout: the burnt hemiBTC is owed, still balanced.
    w = WithdrawalInitiation.objects.get(uuid=out["uuid"], canonical=True)
    payout = WithdrawalPayout.objects.get(transaction__txid_internal=bytes.fromhex(out["payout_txid"])[::-1])
    before_payout = reserves.reconcile(at_btc_height=payout.block.height - 1, at_hemi_block=w.block.number)
    assert before_payout.status == reserves.BALANCED, before_payout.equation()
    assert terms(before_payout)["withdrawals_unpaid"] >= out["net_sats"]
    assert reserves.withdrawals_unpaid(before_payout.position).filter(uuid=out["uuid"]).exists()
    # Pinned on the Hemi side only, before the withdrawal: paired with its hVM view, balanced.
    before = reserves.reconcile(at_hemi_block=w.block.number - 1)
    assert before.status == reserves.BALANCED, before.equation()
    assert not reserves.withdrawal_fees(before.position).filter(uuid=out["uuid"]).exists()
    code, text = run_cli("--at-hemi-block", str(w.block.number - 1), "--min-confirmations", "2")
    assert code == 0, text

    # Not indexed yet: exit 2, naming the position.
    code, text = run_cli("--at-btc-height", str(result.position.btc_height + 100))
    assert code == 2 and "not indexed yet" in text
    code, text = run_cli("--at-hemi-block", str(result.position.hemi_block + 1000))
    assert code == 2 and "not indexed yet" in text


def test_a_bitcoin_reorg_that_orphans_a_deposit_leaves_it_uncounted(devnet, celery_worker_process, monkeypatch):
    from indexer.bitcoin.models import TunnelDeposit
    from indexer.bitcoin.tasks import follow_tip as btc_follow
    from indexer.models import ChainCursor

    index_both_chains(devnet)
    build_block_on = btc_reorg.build_block_on
    seen: list[reserves.Reconciliation] = []

    def index_then_build(*args, **kwargs):
        # The deposit's branch is mined and about to be orphaned: index it and reconcile there.
        if not seen:
            btc_follow.delay().get(timeout=120)
            # At the Bitcoin tip itself: the Hemi index has not seen this branch in any hVM view.
            seen.append(reserves.reconcile(at_btc_height=ChainCursor.objects.get(chain="bitcoin").height))
        return build_block_on(*args, **kwargs)

    monkeypatch.setattr(btc_reorg, "build_block_on", index_then_build)
    summary = btc_reorg.run(devnet.net)
    txid_internal = bytes.fromhex(summary["deposit_txid"])[::-1]
    # On the soon-orphaned branch the deposit was held and not yet minted: balanced.
    [on_branch] = seen
    assert on_branch.status == reserves.BALANCED, on_branch.equation()
    assert reserves.deposits_not_yet_minted(on_branch.position).filter(transaction__txid_internal=txid_internal)

    index_both_chains(devnet)
    deposit = TunnelDeposit.objects.get(transaction__txid_internal=txid_internal)
    assert not deposit.block.in_active_chain
    result = reserves.reconcile()
    assert result.status == reserves.BALANCED, result.equation()
    assert not reserves.deposits_not_yet_minted(result.position).filter(transaction__txid_internal=txid_internal)
    assert terms(result)["deposits_not_yet_minted"] == terms(on_branch)["deposits_not_yet_minted"] - deposit.value_sats
    # Pinned at the orphaned branch's height, the active chain has no such deposit either.
    pinned = reserves.reconcile(at_btc_height=summary["deposit_orphaned_height"])
    assert pinned.status == reserves.BALANCED, pinned.equation()


def test_an_unbacked_mint_is_reported_to_the_satoshi_everywhere(devnet, celery_worker_process, client):
    index_both_chains(devnet)
    assert reserves.reconcile().status == reserves.BALANCED

    forged = unbacked_mint.run(devnet.net)
    index_both_chains(devnet)
    result = reserves.reconcile()
    unbacked = sum(m["net_sats"] for m in forged["mints"])
    assert result.status == reserves.SHORTFALL, result.equation()
    assert -result.difference_sats == unbacked
    finding = {f.key: f for f in result.findings}["unbacked_mints"]
    assert finding.sats == unbacked and finding.rows == len(forged["mints"])

    code, text = run_cli()
    assert code == 1 and "SHORTFALL" in text and str(unbacked) in text

    from explorer.tasks import refresh_reserves

    # What beat runs, through Redis and the real worker.
    assert refresh_reserves.delay().get(timeout=120) == reserves.SHORTFALL
    alert = f"the vaults hold {unbacked} sat less than owed"
    for path in ("/tunnel", f"/token/{devnet.net.contracts['BTCToken'].lower()}", "/reserves"):
        page = client.get(path)
        assert page.status_code == 200 and alert in page.content.decode(), path
    health = client.get("/healthz")
    assert health.status_code == 200
    warnings = {w["code"]: w["message"] for w in health.json()["warnings"]}
    assert alert in warnings["reserves-mismatch"]
    api = client.get("/api/v1/reserves").json()
    assert api["status"] == "shortfall" and api["difference_sats"] == str(-unbacked)
