"""The Hemi pages on a backed, relayed, anchored mint story: each page answers 200 with its
fields, htmx gets the named partial, and each page's query count is bounded."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.explorer.conftest import store_verdicts


@pytest.fixture
def minted(story):
    built = story()
    store_verdicts()
    return built


@pytest.fixture(autouse=True)
def _hemibtc(monkeypatch, tunnel):
    """The network's hemiBTC is the story's token (its mints get verdicts on the token page)."""
    from dataclasses import replace

    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)


def get(client, url, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    return response.content.decode()


def test_blocks_page_lists_canonical_blocks_with_keystone_marker_and_finality(client, minted):
    html = get(client, "/blocks")
    assert 'href="/block/30"' in html and 'href="/keystone/25"' in html
    assert "superfinal" in html  # blocks 1..25 anchored by the publication at 105, tip 115
    partial = get(client, "/blocks", **{"HX-Request": "true"})
    assert partial.lstrip().startswith('<section id="blocks"') and "<html" not in partial


def test_block_page_by_number_and_by_hash_shows_header_hvm_view_and_anchoring(client, minted):
    hemi, _, mint = minted
    html = get(client, "/block/12")
    assert "Hemi block 12" in html and "0x" + bytes(hemi[12].hash).hex() in html
    assert 'href="/keystone/25"' in html and "superfinal" in html
    assert "Bitcoin tip this block saw" in html and "height 104" in html
    assert 'rel="prev" href="/block/11"' in html and 'rel="next" href="/block/13"' in html
    assert bytes(mint.transaction.hash).hex() in html
    assert "Hemi block 12" in get(client, "/block/0x" + bytes(hemi[12].hash).hex())
    relayed = get(client, "/block/10")
    assert "Bitcoin headers relayed in this block" in relayed and "display order" in relayed


def test_an_orphaned_block_shows_the_reorg_banner(client, minted):
    hemi, *_ = minted
    hemi[30].canonical = False
    hemi[30].save()
    assert "Reorged out." in get(client, "/block/30")


def test_tx_page_shows_fee_with_the_l1_data_fee_decoded_input_logs_and_the_mint(client, minted, tunnel):
    *_, mint = minted
    tx = mint.transaction
    tx.gas_used, tx.effective_gas_price, tx.l1_fee, tx.l1_gas_used, tx.l1_gas_price = 50_000, 2, 7_000, 1_600, 3
    tx.save()
    html = get(client, "/tx/0x" + bytes(tx.hash).hex())
    # 50 000 gas x 2 wei + 7 000 wei L1 data fee = 107 000 wei
    assert "107,000 wei" in html and "L1 data fee 0.000000000000007 ETH (7,000 wei)" in html
    assert f"/provenance/mint/0x{bytes(tx.hash).hex()}" in html
    assert "Token transfers" in html and "hemiBTC" in html
    raw = get(client, "/tx/0x" + bytes(tx.hash).hex() + "?raw=1")
    assert "Consensus encoding" in raw


def test_tx_page_decodes_known_calls(client, withdrawals):
    from explorer.views.hemi import transactions

    tx = withdrawals.finalize(index=3)
    html = get(client, "/tx/0x" + bytes(tx.hash).hex())
    assert "finalizeWithdrawal" in html and "withdrawal_index" in html
    assert transactions.get_transaction(bytes(tx.hash)).pk == tx.pk


def test_system_and_deposit_transactions_are_decoded_into_their_fields(client, db):
    from tests.explorer.evidence_story import EvidenceStory, load_into_db

    story = EvidenceStory()
    load_into_db(story)
    from indexer.hashing import keccak256

    l1_info = "0x" + keccak256(story.hemi_txs[25][0]).hex()
    html = get(client, f"/tx/{l1_info}")
    assert "0x7E OP deposit" in html and "source hash" in html and "is system tx" in html


def test_address_page_lists_transactions_balances_transfers_and_hemibtc_provenance(client, minted, tunnel):
    from indexer.hemi.models import TokenBalance

    TokenBalance.objects.create(token=tunnel.token, holder=tunnel.RECIPIENT, balance=99 * 10**8)
    html = get(client, "/address/0x" + tunnel.RECIPIENT.hex())
    assert "hemiBTC received from Bitcoin" in html and "verified" in html
    assert "99 (9,900,000,000 raw)" in html
    assert "/provenance/address/0x" + tunnel.RECIPIENT.hex() in html
    sender = get(client, "/address/0x" + ("01" * 20))
    assert "Transactions" in sender and "/tx/0x" in sender


def test_token_pages_show_metadata_counts_and_hemibtc_mints_with_verdicts(client, minted, tunnel):
    html = get(client, "/tokens")
    assert "Hemi Bitcoin" in html and "/token/0x" + tunnel.HEMIBTC.hex() in html
    token = get(client, "/token/0x" + tunnel.HEMIBTC.hex())
    assert "hemiBTC mints" in token and "verified" in token and "Holders" in token


def test_a_token_that_never_mints_has_no_mint_section_and_hostile_metadata_stays_text(client, db, chains):
    from indexer.hemi.models import Token

    Token.objects.create(
        address=b"\x09" * 20, standard="erc20", name="<script>x</script>\u202e", symbol="EVIL", first_seen_block=0
    )
    html = get(client, "/token/0x" + "09" * 20)
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    # The right-to-left override is shown as its escape, never applied to the text around it.
    assert "\u202e" not in html and '<span class="hidden-char" title="U+202E RIGHT-TO-LEFT OVERRIDE">' in html
    assert "\u202e" not in get(client, "/tokens")
    assert "mints" not in html.lower().split("<main")[1].split("transfers")[0]


def test_keystone_pages_show_publications_lifecycle_and_id_redirect(client, minted, chains):
    hemi, *_ = minted
    html = get(client, "/keystones")
    assert 'href="/keystone/25"' in html and "height 105" in html
    page = get(client, "/keystone/25")
    assert "Keystone 25" in page and "superfinal" in page and "PoP publications" in page
    kid = chains.keystone_of(hemi[25]).abbreviate().id_display
    response = client.get(f"/keystone/{kid}")
    assert response.status_code == 302 and response["Location"] == "/keystone/25"


def test_alternate_keystone_alert_is_explained_on_the_keystone_block_and_home_pages(client, minted, chains):
    from dataclasses import replace

    hemi, btc, _ = minted
    forged = replace(chains.keystone_of(hemi[25]), state_root=b"\xee" * 32).abbreviate()
    chains.publish(btc[107], forged, first=False)
    for url in ("/keystone/25", "/block/12", "/", "/tunnel"):
        html = get(client, url)
        assert "Alternate keystone published" in html or "Alternate chain alert" in html, url
        assert "not proof of" in html


@pytest.mark.parametrize("url", ["/blocks", "/keystones", "/tokens"])
def test_list_pages_cost_the_same_queries_whatever_the_table_size(client, chains, url):
    chains.hemi_chain(40)
    with CaptureQueriesContext(connection) as small:
        get(client, url)
    _grow(chains, 41, 160)
    with CaptureQueriesContext(connection) as large:
        get(client, url)
    assert len(large) == len(small) <= 8


def _grow(chains, start: int, upto: int) -> None:
    """Extend the canonical chain (and its keystones) from ``start`` to ``upto``."""
    from tests.explorer.conftest import h32

    for n in range(start, upto + 1):
        block = chains.hemi.Block.objects.create(
            number=n,
            hash=h32(f"main-{n}"),
            parent_hash=chains.hemi_blocks[n - 1].hash,
            timestamp=1_700_000_000 + 2 * n,
            miner=b"\x00" * 20,
            state_root=h32(f"root-main-{n}"),
            transactions_root=h32("t"),
            receipts_root=h32("r"),
            gas_used=0,
            gas_limit=30_000_000,
            header_rlp=b"",
            tx_count=0,
            l1_origin_number=1000 + n // 10,
        )
        chains.hemi_blocks[n] = block
        if n % 25 == 0:
            chains.keystone(block)


def test_detail_pages_have_a_bounded_query_count(client, minted, tunnel, django_assert_max_num_queries):
    *_, mint = minted
    tx = "0x" + bytes(mint.transaction.hash).hex()
    for url, bound in [
        ("/block/12", 25),
        (f"/tx/{tx}", 10 + 12),  # + its finality, the live stamp and the mint's cross-chain trail
        ("/keystone/25", 15),
        ("/token/0x" + tunnel.HEMIBTC.hex(), 12 + 20),  # + one live verdict (about 15) per mint row
        ("/address/0x" + tunnel.RECIPIENT.hex(), 10 + 20),
        ("/", 20 + 20),
    ]:
        with django_assert_max_num_queries(bound):
            get(client, url)


def test_an_unbacked_mint_offers_no_evidence_and_its_409_is_a_styled_page(client, chains, tunnel):
    hemi = chains.hemi_chain(30)
    mint = tunnel.mint(hemi[12], b"\x42" * 32)  # no such Bitcoin deposit
    tx = "0x" + bytes(mint.transaction.hash).hex()
    page = get(client, f"/provenance/mint/{tx}")
    assert f"/provenance/mint/{tx}/evidence" not in page and "will never be backed" in page
    response = client.get(f"/provenance/mint/{tx}/evidence")
    assert response.status_code == 409 and "<html" in response.content.decode()
    assert "Evidence not available" in response.content.decode()
