"""GET /search?q=: a unique hit redirects to a 200 page that shows what was searched; several
are listed; none is a helpful 404; malformed input a 400 with the reason; never a 500."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import FUZZ


def land(client, q: str):
    response = client.get("/search", {"q": q}, follow=True)
    return response, response.content.decode()


def test_a_mint_tx_hash_lands_on_its_transaction_page(client, story):
    *_, mint = story()
    q = "0x" + bytes(mint.transaction.hash).hex()
    response, html = land(client, q)
    assert response.status_code == 200 and response.redirect_chain[-1][0] == f"/tx/{q}"
    assert q in html


def test_a_block_number_lands_on_the_hemi_block_with_links_to_bitcoin_and_keystone(client, story):
    story()
    response, html = land(client, "25")
    assert response.status_code == 200 and response.redirect_chain[-1][0].startswith("/block/25")
    assert "Hemi block 25" in html and 'href="/keystone/25"' in html
    _, btc = land(client, "105")  # no Hemi block 105: the Bitcoin reading is offered instead
    assert "Bitcoin block 105" in btc


def test_an_address_and_the_hemibtc_token_land_on_their_pages(client, story, tunnel):
    story()
    recipient = "0x" + tunnel.RECIPIENT.hex()
    response, html = land(client, recipient.upper().replace("0X", "0x"))
    assert response.status_code == 200 and response.redirect_chain[-1][0] == f"/address/{recipient}"
    assert recipient in html
    token = "0x" + tunnel.HEMIBTC.hex()
    response, html = land(client, token)
    assert response.status_code == 200 and response.redirect_chain[-1][0] == f"/token/{token}"
    assert token in html and "Hemi Bitcoin" in html


def test_bitcoin_hashes_match_in_either_byte_order_and_heights_as_btc_n(client, story, chains):
    _, btc, _ = story()
    display = btc[105].hash_display
    for q in (display, bytes(btc[105].hash_internal).hex(), "btc:105"):
        response, html = land(client, q)
        assert response.status_code == 200 and "Bitcoin block 105" in html, q
        assert 'href="/keystone/25"' in html  # its PoP publication's keystone


def test_keystone_ids_and_token_prefixes_are_found(client, story, chains):
    hemi, *_ = story()
    response, html = land(client, chains.keystone_of(hemi[25]).abbreviate().id_display)
    assert response.redirect_chain[-1][0] == "/keystone/25" and "Keystone 25" in html
    response, html = land(client, "hemib")
    assert response.redirect_chain[-1][0].startswith("/token/0x") and "Hemi Bitcoin" in html


@pytest.mark.parametrize(
    ("q", "status", "reason"),
    [
        ("", 400, "type a block number"),
        ("0x1234", 400, "40 hex digits (an address) or 64"),
        ("0xzz" + "0" * 62, 400, "hexadecimal"),
        ("btc:abc", 400, "Bitcoin height"),
        ("9" * 40, 400, "too large"),
        ("x" * 201, 400, "longer than 200"),
        ("no such token", 404, "Search understands"),
        ("0x" + "ab" * 32, 404, "Search understands"),
        ("0x" + "ab" * 20, 404, "Search understands"),
        ("123456", 404, "Search understands"),
    ],
)
def test_garbage_is_a_400_with_the_reason_or_a_helpful_404(client, db, q, status, reason):
    response = client.get("/search", {"q": q})
    assert response.status_code == status
    assert reason in response.content.decode()


# The database mark (not a db fixture argument, which hypothesis would share across examples)
# makes pytest-django create the test database even when this target is the only test collected:
# run alone, it used to query the unmigrated development database.
@pytest.mark.fuzz
@pytest.mark.django_db
@FUZZ
@given(q=st.one_of(st.text(max_size=80), st.from_regex(r"(0x)?[0-9a-fA-F]{0,70}", fullmatch=True),
                   st.from_regex(r"btc:[0-9]{0,25}", fullmatch=True)))  # fmt: skip
def test_search_never_answers_500(q):
    from django.test import Client

    response = Client().get("/search", {"q": q})
    assert response.status_code in (200, 302, 400, 404), (q, response.status_code)


def test_bitcoin_deposit_block_pop_and_keystone_ids_land_on_pages_showing_them(client, db):
    """The four kinds the Bitcoin pages made findable: each ends, after redirects, on a 200 page
    that shows what was typed (the display order; the internal order lands there too)."""
    from indexer.bitcoin.decode import decode_header, decode_tx
    from tests.explorer.evidence_story import EvidenceStory, load_into_db

    story = EvidenceStory()
    load_into_db(story)
    deposit = decode_tx(story.deposit_raw).txid_display
    block = decode_header(story.btc_headers[1]).hash_display  # height 101
    pop = decode_tx(story.pop_raw).txid_display
    keystone_id = story.keystone.abbreviate().id_display
    for q, lands in [
        (deposit, f"/btc/tx/{deposit}"),
        (block, f"/btc/block/{block}"),
        (pop, f"/btc/tx/{pop}"),
        (keystone_id, "/keystone/25"),
        (bytes.fromhex(deposit)[::-1].hex(), f"/btc/tx/{deposit}"),  # internal order
        (bytes.fromhex(block)[::-1].hex(), f"/btc/block/{block}"),
    ]:
        response, html = land(client, q)
        assert response.status_code == 200 and response.redirect_chain[-1][0] == lands, q
        assert q in html, q
    response, html = land(client, "btc:101")
    assert response.redirect_chain[-1][0] == f"/btc/block/{block}" and "Bitcoin block 101" in html
