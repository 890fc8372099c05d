"""The breadcrumb trail of a mint across both chains: every hop a page, in order, each page
along it showing the trail with itself marked and its neighbours one click away; hops that do
not exist yet say what they wait for."""

from __future__ import annotations

import re

import pytest

from explorer.queries import trail
from indexer.bitcoin.decode import decode_header, decode_tx
from tests.explorer.evidence_story import EvidenceStory, load_into_db

ORDER = ["deposit", "deposit-block", "relay", "mint", "block", "keystone", "pop", "pop-block", "superfinal"]


@pytest.fixture
def told(db):
    story = EvidenceStory()
    return story, load_into_db(story)


def test_a_superfinal_mint_has_every_hop_from_deposit_to_superfinality(told):
    from indexer.hemi.models import HvmUpdate

    story, mint = told
    t = trail.mint_trail(mint)
    assert [h.key for h in t.hops] == ORDER
    block_hash = {h: decode_header(story.btc_headers[h - 100]).hash_display for h in (101, 105, 115)}
    relay = "0x" + bytes(HvmUpdate.objects.get().transaction.hash).hex()
    assert {h.key: h.path for h in t.hops} == {
        "deposit": f"/btc/tx/{decode_tx(story.deposit_raw).txid_display}",
        "deposit-block": f"/btc/block/{block_hash[101]}",
        "relay": f"/tx/{relay}",
        "mint": f"/tx/0x{bytes(mint.transaction.hash).hex()}",
        "block": "/block/12",
        "keystone": "/keystone/25",
        "pop": f"/btc/tx/{decode_tx(story.pop_raw).txid_display}",
        "pop-block": f"/btc/block/{block_hash[105]}",
        "superfinal": f"/btc/block/{block_hash[115]}",
    }


def test_hops_that_do_not_exist_yet_say_what_they_wait_for(told):
    from indexer.bitcoin.models import BitcoinBlock

    _, mint = told
    BitcoinBlock.objects.filter(height__gte=110).delete()  # the tip is now 109: not superfinal yet
    hop = trail.mint_trail(mint).hops[-1]
    assert hop.path is None and hop.waiting == "waiting for block 115, 10 on top of the publication"


def test_an_unbacked_mint_trail_starts_at_the_mint(db, chains, tunnel):
    hemi = chains.hemi_chain(30)
    chains.btc_chain(105, start=100)
    mint = tunnel.mint(hemi[12], b"\x99" * 32)  # no deposit with this txid
    hops = trail.mint_trail(mint).hops
    assert [h.path for h in hops[:3]] == [None, None, None]
    assert "pays a vault" in hops[0].waiting and hops[3].key == "mint" and hops[3].path


def test_each_page_along_the_trail_marks_itself_and_links_both_neighbours(client, told):
    _, mint = told
    mint_hex = "0x" + bytes(mint.transaction.hash).hex()
    t = trail.mint_trail(mint)
    for i, hop in enumerate(t.hops):
        html = client.get(t.url(hop)).content.decode()
        assert f'data-hop="{hop.key}" aria-current="step"' in html, hop.key
        prev = re.search(r'rel="prev" class="trail-prev" href="([^"]+)"', html)
        nxt = re.search(r'rel="next" class="trail-next" href="([^"]+)"', html)
        if i > 0:
            assert prev.group(1).replace("&amp;", "&") == t.url(t.hops[i - 1]), hop.key
        else:
            assert prev is None
        if i < len(t.hops) - 1:
            assert nxt.group(1).replace("&amp;", "&") == t.url(t.hops[i + 1]), hop.key
        else:
            assert nxt is None
        assert f"mint={mint_hex}" in html


def test_the_provenance_page_always_shows_the_trail_starting_at_the_deposit(client, told):
    story, mint = told
    html = client.get(f"/provenance/mint/0x{bytes(mint.transaction.hash).hex()}").content.decode()
    nxt = re.search(r'rel="next" class="trail-next" href="([^"]+)"', html).group(1)
    assert nxt.startswith(f"/btc/tx/{decode_tx(story.deposit_raw).txid_display}?mint=")


def test_a_bad_mint_parameter_is_a_400_naming_it(client, told):
    for value, reason in (("0x12", "mint: a Hemi mint transaction hash"), ("0x" + "00" * 32, "mint: no hemiBTC mint")):
        response = client.get(f"/block/12?mint={value}")
        assert response.status_code == 400 and reason in response.content.decode()


def test_the_relay_page_links_back_to_the_bitcoin_block_and_on_to_the_mint(client, told):
    from indexer.hemi.models import HvmUpdate

    story, mint = told
    relay = "0x" + bytes(HvmUpdate.objects.get().transaction.hash).hex()
    html = client.get(f"/tx/{relay}").content.decode()
    deposit_block = decode_header(story.btc_headers[1]).hash_display
    assert f'href="/btc/block/{deposit_block}"' in html
    assert f'href="/btc/tx/{decode_tx(story.deposit_raw).txid_display}"' in html
    assert f'href="/tx/0x{bytes(mint.transaction.hash).hex()}"' in html
