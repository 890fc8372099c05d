from __future__ import annotations

from dataclasses import replace

from explorer import provenance
from explorer.verdicts import FAILED, PENDING, VERIFIED


def test_a_backed_anchored_mint_is_verified_end_to_end(chains, tunnel, story):
    *_, mint = story()
    p = provenance.for_mint(mint, hemibtc=tunnel.HEMIBTC)
    assert [link.name for link in p.links] == ["Bitcoin lock", "Sequencer ordering", "Hemi block", "Bitcoin anchoring"]
    assert [link.verdict for link in p.links] == [VERIFIED] * 4, [link.reason for link in p.links]
    assert p.verdict == VERIFIED
    assert p.finality.superfinal and p.finality.confirmations == 10
    assert [e.done for e in p.timeline] == [True] * 5


def test_an_unpublished_keystone_leaves_the_mint_pending_and_says_why(chains, tunnel, story):
    *_, mint = story(publish=False)
    p = provenance.for_mint(mint, hemibtc=tunnel.HEMIBTC)
    assert p.verdict == PENDING
    assert p.links[-1].reason == "waiting for a Bitcoin PoP publication of keystone 25 or a later keystone"
    assert [e.done for e in p.timeline] == [True, True, False, False, False]


def test_a_block_not_yet_linked_to_its_keystone_is_pending(chains, tunnel, story):
    chains.hemi_chain(20)
    chains.btc_chain(101, start=100)
    block = chains.hemi.Block.objects.get(number=12)
    p = provenance.for_block(block)
    assert p.links[0].reason == "waiting for Hemi blocks up to keystone 25"
    assert p.verdict == PENDING


def test_an_unbacked_mint_fails_at_the_first_link(chains, tunnel, story):
    hemi = chains.hemi_chain(30)
    chains.btc_chain(101, start=100)
    mint = tunnel.mint(hemi[12], b"\x42" * 32)
    p = provenance.for_mint(mint)
    assert p.verdict == FAILED
    assert p.links[0].verdict == FAILED and p.links[0].reason.startswith("unbacked mint")


def test_a_conflicting_publication_raises_an_alert_on_the_page(chains, tunnel, story):
    hemi, btc, mint = story()
    good = chains.keystone_of(hemi[25]).abbreviate()
    forged = replace(good, ep_hash_prefix=b"\xff" * 12)
    chains.publish(btc[106], forged, tx_index=7)
    p = provenance.for_mint(mint, hemibtc=tunnel.HEMIBTC)
    assert len(p.alerts) == 1 and "conflicts with our canonical chain" in p.alerts[0]
    assert p.verdict == VERIFIED  # the real keystone's publication still anchors the mint
