"""The audit functions judged at a chain position (``explorer.at.At``): Bitcoin blocks above the
height and Hemi blocks above the block do not exist there. Built on the story of
tests/explorer/conftest.py: Bitcoin 100..115 (deposit in 101, the hVM view's tip 104, keystone
25 published in 105), Hemi 0..30 (relay in 10, mint in 12, keystone 25)."""

from __future__ import annotations

from explorer import anchoring, provenance, tunnel_audit, withdrawal_audit
from explorer.at import At
from explorer.queries import tunnel as tunnel_queries
from explorer.verdicts import FAILED, PENDING, VERIFIED

TIPS = At(btc_height=115, hemi_block=30)


def verdicts(p) -> dict[str, tuple[str, str | None]]:
    return {link.name: (link.verdict, link.reason) for link in p.links}


def test_at_the_tips_the_verdict_is_the_one_pages_give(story):
    _, _, mint = story()
    here, now = provenance.for_mint(mint, at=TIPS), provenance.for_mint(mint)
    assert here.verdict == now.verdict == VERIFIED
    assert [(link.name, link.checks, link.evidence) for link in here.links] == [
        (link.name, link.checks, link.evidence) for link in now.links
    ]
    assert here.finality == now.finality and here.finality.confirmations == 10


def test_confirmations_count_to_the_height_judged_at(story):
    _, _, mint = story()
    p = provenance.for_mint(mint, at=At(114, 30))
    assert p.verdict == PENDING
    assert p.finality.tip_height == 114 and p.finality.confirmations == 9 and not p.finality.superfinal
    waiting = "waiting for 1 more Bitcoin block(s) on top of the publication"
    assert verdicts(p)["Bitcoin anchoring"] == (PENDING, waiting)
    assert p.links[-1].evidence["confirmations"] == 9
    assert all(link.verdict == VERIFIED for link in p.links[:-1])


def test_a_publication_above_the_height_does_not_count(story):
    _, _, mint = story()
    p = provenance.for_mint(mint, at=At(104, 30))
    assert p.finality.publication_height is None and p.finality.keystone_produced
    assert verdicts(p)["Bitcoin anchoring"][0] == PENDING
    assert "a Bitcoin PoP publication of keystone 25" in verdicts(p)["Bitcoin anchoring"][1]
    assert anchoring.first_anchor(25, At(104, 30)) is None and anchoring.first_anchor(25, At(105, 30)) is not None


def test_an_hvm_view_whose_tip_is_above_the_height_waits_as_an_unindexed_tip_does(story):
    _, _, mint = story()
    p = provenance.for_mint(mint, at=At(103, 30))
    lock = p.links[0]
    confirmations = next(c for c in lock.checks if c.name.startswith("≥ 4 confirmations"))
    assert confirmations.verdict == PENDING, confirmations
    assert confirmations.detail == "the hVM tip (Bitcoin height 104) lies above the Bitcoin height judged at (103)"
    assert lock.verdict == PENDING and p.verdict == PENDING  # never "failed" for a wait
    assert tunnel_audit.MintRows.read([mint], at=At(104, 30)).hvm(mint)[0] == 4


def test_a_deposit_above_the_height_is_a_wait_for_bitcoin_indexing_not_an_unbacked_mint(story):
    _, _, mint = story()
    assert tunnel_audit.deposit_for(mint, At(100, 30)) is None
    lock = tunnel_audit.audit_mint(mint, at=At(100, 30))
    assert lock.verdict == PENDING, lock.reason
    assert "Bitcoin indexing up to the mint's hVM view" in lock.reason and "above Bitcoin height 100" in lock.reason


def test_a_keystone_above_the_block_is_not_produced_there(story):
    _, _, mint = story()
    p = provenance.for_mint(mint, at=At(115, 24))
    assert not p.finality.keystone_produced
    assert verdicts(p)["Hemi block"] == (PENDING, "waiting for Hemi blocks up to keystone 25")
    assert verdicts(p)["Bitcoin anchoring"] == (PENDING, "waiting for Hemi keystone 25 to be produced")
    assert verdicts(provenance.for_mint(mint, at=At(115, 25)))["Hemi block"][0] == VERIFIED


def test_a_second_credit_above_the_block_does_not_exist_there(story, tunnel):
    hemi, _, mint = story()
    tunnel.mint(hemi[28], mint.deposit_txid_internal)  # the same txid credited again, in block 28
    assert tunnel_audit.audit_mint(mint).verdict == FAILED
    assert tunnel_audit.audit_mint(mint, at=At(115, 28)).verdict == FAILED
    assert tunnel_audit.audit_mint(mint, at=At(115, 27)).verdict == VERIFIED


def test_deposits_are_judged_at_the_height_and_minted_only_by_mints_at_or_below_the_block(story, tunnel):
    _, btc, mint = story()
    minted = tunnel_audit.deposit_for(mint)
    young = tunnel.deposit(btc[112], label="young")
    rows = [minted, young]
    assert [(v.verdict, v.reason) for v in tunnel_queries.deposit_verdicts(rows)] == [
        (VERIFIED, None),
        (PENDING, "4 confirmations and not minted yet"),
    ]
    assert [(v.verdict, v.reason) for v in tunnel_queries.deposit_verdicts(rows, At(113, 11))] == [
        (PENDING, "13 confirmations and not minted yet"),  # its mint (block 12) is above block 11
        (PENDING, "waiting for 4 confirmations"),
    ]


def test_withdrawals_are_paid_challenged_and_finalized_only_at_or_below_the_position(withdrawals):
    w = withdrawals.initiate()
    withdrawals.pay(height=103)
    withdrawals.finalize()  # Hemi block 9

    def status(at):
        return withdrawal_audit.withdrawal_status(withdrawal_audit.audit_withdrawal(w, at))

    assert status(None) == "finalized"
    assert status(At(110, 20)) == "finalized"
    assert status(At(110, 8)) == "paid"  # the finalization is in block 9
    assert status(At(102, 20)) == "pending"  # the payout is at height 103
    withdrawals.challenge()  # Hemi block 15: paid AND challenged
    assert status(None) == "failed"
    assert status(At(110, 14)) == "finalized"
    assert [v.status for v in tunnel_queries.withdrawal_verdicts([w], At(110, 14))] == ["finalized"]


def test_alternate_keystone_alerts_above_the_position_are_not_raised_there(story, chains):
    from dataclasses import replace

    hemi, btc, _ = story()
    alt = chains.keystone_of(hemi[25])
    alt = replace(alt, state_root=b"\x99" * 32)
    chains.publish(btc[110], alt.abbreviate(), tx_index=2, first=False)
    assert [a.canonical_keystone.number for a in anchoring.alternate_chain_alerts()] == [25]
    assert anchoring.alternate_chain_alerts(at=At(109, 30)) == []
    assert anchoring.alternate_chain_alerts(at=At(110, 24)) == []
    assert len(anchoring.alternate_chain_alerts(at=At(110, 25))) == 1


def test_first_anchors_of_many_keystones_take_the_position_as_first_anchor_does(story):
    story()
    for at in (None, At(115, 30), At(105, 30), At(104, 30), At(115, 24)):
        many = anchoring.first_anchors([25], at)
        assert many == {25: anchoring.first_anchor(25, at)} if hemi_ok(at) else many == {25: None}, at
    assert anchoring.first_anchors([25], At(104, 30)) == {25: None}
    assert anchoring.first_anchors([25], At(105, 30))[25].height == 105


def hemi_ok(at) -> bool:
    return at is None or at.hemi_block >= 25
