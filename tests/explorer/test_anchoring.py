from __future__ import annotations

from dataclasses import replace

from explorer import anchoring


def test_a_block_is_anchored_by_its_own_keystones_first_publication(chains):
    hemi = chains.hemi_chain(60)
    btc = chains.btc_chain(120, start=100)
    chains.publish(btc[103], chains.keystone_of(hemi[50]).abbreviate())

    f = anchoring.block_finality(37)
    assert (f.keystone_number, f.publication_height, f.anchoring_keystone_number) == (50, 103, 50)
    assert f.confirmations == 120 - 103
    assert f.superfinal and f.stage == "superfinal"
    assert f.legacy_btc_finality == 120 - 103 + 1 - 9


def test_a_descendants_earlier_publication_anchors_its_ancestors(chains):
    hemi = chains.hemi_chain(80)
    btc = chains.btc_chain(110, start=100)
    chains.publish(btc[108], chains.keystone_of(hemi[50]).abbreviate())
    chains.publish(btc[104], chains.keystone_of(hemi[75]).abbreviate())

    f = anchoring.block_finality(30)
    assert (f.publication_height, f.anchoring_keystone_number, f.confirmations) == (104, 75, 6)
    assert not f.superfinal and f.waiting_for == "4 more Bitcoin block(s) on top of the publication"


def test_an_ancestors_publication_does_not_anchor_a_later_block(chains):
    hemi = chains.hemi_chain(60)
    btc = chains.btc_chain(110, start=100)
    chains.publish(btc[101], chains.keystone_of(hemi[25]).abbreviate())

    f = anchoring.block_finality(40)
    assert f.keystone_number == 50 and f.publication_height is None
    assert f.stage == "keystone produced"


def test_a_block_whose_keystone_is_not_produced_yet_is_only_produced(chains):
    chains.hemi_chain(60)
    chains.btc_chain(101, start=100)
    f = anchoring.block_finality(61)
    assert (f.keystone_number, f.keystone_produced, f.stage) == (75, False, "produced")


def test_a_publication_that_differs_from_the_canonical_keystone_raises_an_alternate_chain_alert(chains):
    hemi = chains.hemi_chain(50)
    btc = chains.btc_chain(102, start=100)
    good = chains.keystone_of(hemi[50]).abbreviate()
    # Same L2 number, one byte of the state root changed: not our chain's keystone 50.
    forged = replace(good, state_root=bytes([good.state_root[0] ^ 1]) + good.state_root[1:])
    chains.publish(btc[101], good)
    bad = chains.publish(btc[102], forged, tx_index=2)

    alerts = anchoring.alternate_chain_alerts()
    assert [a.publication.pk for a in alerts] == [bad.pk]
    assert alerts[0].canonical_keystone.number == 50
    # The forged publication must not anchor anything.
    assert anchoring.block_finality(50).publication_height == 101


def test_publications_on_orphaned_bitcoin_blocks_do_not_anchor(chains):
    hemi = chains.hemi_chain(50)
    btc = chains.btc_chain(112, start=100)
    abrev = chains.keystone_of(hemi[50]).abbreviate()
    pub = chains.publish(btc[101], abrev)
    # The reorg logic removes the first-publication row of an orphaned block; emulate its outcome.
    btc[101].in_active_chain = False
    btc[101].save()
    chains.btc.KeystoneFirstPublication.objects.filter(publication=pub).delete()

    assert anchoring.block_finality(50).publication_height is None
    assert list(anchoring.publications_of(chains.hemi.Keystone.objects.get(number=50))) == [pub]
