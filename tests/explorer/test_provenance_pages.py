from __future__ import annotations

from tests.explorer.conftest import store_verdicts


def test_the_mint_page_shows_every_link_verified_and_superfinal(tunnel, client, story):
    *_, mint = story()
    tx = bytes(mint.transaction.hash).hex()
    response = client.get(f"/provenance/mint/0x{tx}")
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("Bitcoin lock", "Sequencer ordering", "Hemi block", "Bitcoin anchoring"):
        assert name in html
    assert 'Overall: <strong class="verdict-verified">verified</strong>' in html
    assert "verdict-failed" not in html
    assert "superfinal" in html
    # Verified pages stop polling; htmx gets only the partial.
    assert "hx-trigger" not in html.split('id="provenance"')[1].split(">")[0]
    partial = client.get(f"/provenance/mint/{tx}", headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<section id="provenance"') and "<html" not in partial


def test_the_mint_json_names_verdicts_and_finality(tunnel, client, story):
    *_, mint = story(btc_tip=110)
    body = client.get(f"/api/v1/provenance/mint/0x{bytes(mint.transaction.hash).hex()}").json()
    assert body["verdict"] == "pending"
    assert [link["verdict"] for link in body["links"]] == ["verified", "verified", "verified", "pending"]
    assert body["finality"]["effective_confirmations"] == 5
    assert body["finality"]["btc_finality"] == -3
    assert body["finality"]["waiting_for"] == "5 more Bitcoin block(s) on top of the publication"


def test_a_malformed_hash_is_a_400_that_says_what_is_wrong(client, db):
    response = client.get("/provenance/mint/0x1234")
    assert response.status_code == 400
    assert "64 hex characters" in response.content.decode()
    assert client.get("/api/v1/provenance/mint/zz" + "0" * 62).json()["error"] == (
        "hash: a Hemi transaction hash must be hexadecimal"  # the API names the path parameter
    )


def test_an_unknown_mint_is_a_404(client, db):
    assert client.get("/provenance/mint/0x" + "ab" * 32).status_code == 404


def test_block_token_and_address_pages_list_the_mint(tunnel, client, story):
    *_, mint = story()
    store_verdicts()
    tx = bytes(mint.transaction.hash).hex()
    assert tx in client.get("/provenance/block/12").content.decode()
    # A token's mints moved to its token page (tests/explorer/test_hemi_pages.py); old links redirect.
    token_link = client.get(f"/provenance/token/0x{tunnel.HEMIBTC.hex()}")
    assert token_link.status_code == 302 and token_link["Location"] == f"/token/0x{tunnel.HEMIBTC.hex()}#mints"
    address_page = client.get(f"/provenance/address/0x{tunnel.RECIPIENT.hex()}").content.decode()
    assert tx[:10] in address_page and "verified" in address_page
    assert client.get("/provenance/address/0xnothex").status_code == 400


def test_the_home_page_shows_indexing_progress_keystones_and_mints(
    tunnel, client, story, django_assert_max_num_queries
):
    from indexer.models import ChainCursor

    *_, mint = story()
    ChainCursor.objects.create(chain="hemi", height=30, block_hash=b"\x01" * 32)
    ChainCursor.objects.create(chain="bitcoin", height=115, block_hash=b"\x02" * 32)
    with django_assert_max_num_queries(40):
        html = client.get("/").content.decode()
    assert "block 30" in html and "height 115" in html
    assert "superfinal" in html  # keystone 25, published at 105, tip 115
    assert bytes(mint.transaction.hash).hex()[:16] in html
