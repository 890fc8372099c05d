from __future__ import annotations

import pytest

from explorer.verdicts import FAILED, PENDING, VERIFIED
from explorer.withdrawal_audit import audit_withdrawal, split_uuid, withdrawal_status
from tests.explorer.conftest import store_verdicts


def test_uuid_is_vault_index_and_withdrawal_index():
    assert split_uuid((3 << 32) | 17) == (3, 17)


def test_a_paid_and_finalized_withdrawal_is_verified(withdrawals):
    w = withdrawals.initiate()
    withdrawals.pay()
    withdrawals.finalize()
    link = audit_withdrawal(w)
    assert link.verdict == VERIFIED, link.reason
    assert withdrawal_status(link) == "finalized"
    assert link.evidence["payout_txid"]


def test_a_paid_but_not_finalized_withdrawal_is_pending(withdrawals):
    w = withdrawals.initiate()
    withdrawals.pay()
    link = audit_withdrawal(w)
    assert (link.verdict, withdrawal_status(link)) == (PENDING, "paid")
    assert link.reason == "waiting for finalizeWithdrawal on the vault"


def test_an_unpaid_withdrawal_waits_for_the_operator(withdrawals):
    link = audit_withdrawal(withdrawals.initiate())
    assert (link.verdict, withdrawal_status(link)) == (PENDING, "pending")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"amount": 9_999_999}, "paid a different amount"),
        ({"script": bytes.fromhex("76a914" + "00" * 20 + "88ac")}, "paid to another script"),
    ],
)
def test_a_wrong_payout_fails(withdrawals, kwargs, reason):
    w = withdrawals.initiate()
    withdrawals.pay(**kwargs)
    withdrawals.finalize()
    link = audit_withdrawal(w)
    assert (link.verdict, link.reason) == (FAILED, reason)


def test_a_challenged_withdrawal_is_reported_as_challenged(withdrawals):
    w = withdrawals.initiate()
    withdrawals.challenge()
    link = audit_withdrawal(w)
    assert withdrawal_status(link) == "challenged"
    assert "re-minted" in link.reason


def test_paying_and_being_challenged_is_a_double_payment(withdrawals):
    w = withdrawals.initiate()
    withdrawals.pay()
    withdrawals.challenge()
    link = audit_withdrawal(w)
    assert link.verdict == FAILED and "paid twice" in link.reason


def test_a_payout_in_an_orphaned_block_does_not_count(withdrawals):
    w = withdrawals.initiate()
    payout = withdrawals.pay()
    payout.block.in_active_chain = False
    payout.block.save()
    assert withdrawal_status(audit_withdrawal(w)) == "pending"


def test_a_finalization_for_another_index_does_not_count(withdrawals):
    w = withdrawals.initiate(index=0)
    withdrawals.pay()
    withdrawals.finalize(index=1)
    assert withdrawal_status(audit_withdrawal(w)) == "paid"


def test_the_tunnel_page_lists_mints_unminted_deposits_and_withdrawals(withdrawals, tunnel, chains, client):
    w = withdrawals.initiate()
    withdrawals.pay()
    lonely = tunnel.deposit(withdrawals.btc[108], label="never-minted")
    store_verdicts()
    html = client.get("/tunnel").content.decode()
    assert "Bitcoin tunnel" in html
    assert lonely.transaction.txid_display[:15] in html and "waiting for 4 confirmations" in html
    assert w.btc_address in html and ">paid<" in html
    partial = client.get("/tunnel", headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<section id="tunnel"')
    body = client.get("/api/v1/tunnel/withdrawals").json()
    assert [(i["uuid"], i["status"]) for i in body["items"]] == [("0", "paid")]
