from __future__ import annotations

from explorer import tunnel_audit
from explorer.verdicts import FAILED, PENDING, VERIFIED


def setup_story(chains, tunnel, *, relay_upto=104, **mint_kwargs):
    hemi = chains.hemi_chain(20)
    btc = chains.btc_chain(110, start=100)
    deposit = tunnel.deposit(btc[101])
    tunnel.relay(hemi[10], [btc[h] for h in range(100, relay_upto + 1)], tip=btc[relay_upto])
    mint = tunnel.mint(hemi[12], deposit.transaction.txid_internal, **mint_kwargs)
    return hemi, btc, deposit, mint


def checks_by_name(link):
    return {c.name: c for c in link.checks}


def test_a_backed_mint_is_verified_with_every_rule_checked(chains, tunnel):
    *_, mint = setup_story(chains, tunnel)
    link = tunnel_audit.audit_mint(mint, hemibtc=tunnel.HEMIBTC)
    assert link.verdict == VERIFIED, link.reason
    checks = checks_by_name(link)
    assert checks["≥ 4 confirmations in the hVM view"].found == "4"  # tip 104 - 101 + 1
    assert checks["amount - fee = minted"].found == str(100 * 10**8 - 10**7)
    assert len(link.checks) == 8


def test_a_mint_without_a_bitcoin_deposit_is_unbacked(chains, tunnel):
    hemi = chains.hemi_chain(20)
    mint = tunnel.mint(hemi[12], b"\x42" * 32)
    link = tunnel_audit.audit_mint(mint)
    assert link.verdict == FAILED
    assert link.reason.startswith("unbacked mint")


def test_three_confirmations_in_the_hvm_view_are_not_enough(chains, tunnel):
    *_, mint = setup_story(chains, tunnel, relay_upto=103)
    link = tunnel_audit.audit_mint(mint)
    check = checks_by_name(link)["≥ 4 confirmations in the hVM view"]
    assert (link.verdict, check.verdict, check.found) == (FAILED, FAILED, "3")


def test_minting_more_than_deposit_minus_fee_fails(chains, tunnel):
    *_, mint = setup_story(chains, tunnel, minted=100 * 10**8)
    link = tunnel_audit.audit_mint(mint)
    assert link.verdict == FAILED
    assert link.reason == "minted amount is wrong"


def test_minting_to_another_recipient_fails(chains, tunnel):
    *_, mint = setup_story(chains, tunnel, recipient=b"\x99" * 20)
    assert tunnel_audit.audit_mint(mint).reason == "minted to someone else"


def test_a_deposit_whose_block_was_orphaned_fails(chains, tunnel):
    _, btc, _deposit, mint = setup_story(chains, tunnel)
    btc[101].in_active_chain = False
    btc[101].save()
    assert tunnel_audit.audit_mint(mint).reason == "the deposit's Bitcoin block was orphaned by a reorg"


def test_crediting_the_same_txid_twice_fails(chains, tunnel):
    hemi, _, deposit, mint = setup_story(chains, tunnel)
    tunnel.mint(hemi[13], deposit.transaction.txid_internal)
    assert checks_by_name(tunnel_audit.audit_mint(mint))["one credit per txid"].verdict == FAILED


def test_a_deposit_never_minted_is_listed_and_pending(chains, tunnel):
    chains.hemi_chain(5)
    btc = chains.btc_chain(103, start=100)
    deposit = tunnel.deposit(btc[101], label="lonely")
    assert list(tunnel_audit.unminted_deposits()) == [deposit]
    assert tunnel_audit.deposit_status(deposit, tip_height=103).verdict == PENDING
    assert "waiting for 4" in tunnel_audit.deposit_status(deposit, tip_height=103).detail
