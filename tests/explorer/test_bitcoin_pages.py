"""The Bitcoin pages on byte-correct rows (real regtest headers, real transactions and merkle
branches: tests/explorer/evidence_story.py): a block with its proof of work, PoP outputs judged
against our keystones, deposits with their mints and the hVM relay; a stored transaction with
its role, inclusion proof and raw bytes; every list keyset-paged at a table-size-independent
query count."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from indexer.bitcoin.decode import decode_header, decode_tx
from tests.explorer.evidence_story import DEPOSIT_SATS, FEE, RECIPIENT, VAULT, EvidenceStory, load_into_db


@pytest.fixture
def told(db):
    story = EvidenceStory()
    mint = load_into_db(story)
    return story, mint


def get(client, url, status=200, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == status, (url, response.status_code, response.content[:400])
    return response.content.decode()


def block_hash(story, height):
    return decode_header(story.btc_headers[height - 100]).hash_display


def test_block_page_shows_header_proof_of_work_and_both_byte_orders(client, told):
    story, _ = told
    display = block_hash(story, 101)
    html = get(client, f"/btc/block/{display}")
    assert "Bitcoin block 101" in html and display in html and "display order" in html
    internal = bytes.fromhex(display)[::-1].hex()
    assert internal in html and "internal order" in html
    # regtest bits 0x207fffff: target 7fffff << 232, and the ground header meets it
    assert "7fffff" + "0" * 58 in html and "the hash, read as a number, is at most the target" in html
    assert f'href="/btc/block/{block_hash(story, 100)}"' in html  # parent
    assert f'href="/btc/block/{block_hash(story, 102)}"' in html  # child
    by_height = get(client, "/btc/block/101")  # a height names the active block at it
    assert "Bitcoin block 101" in by_height and display in by_height


def test_an_internal_order_hash_redirects_to_the_display_order_url(client, told):
    story, _ = told
    display = block_hash(story, 105)
    response = client.get("/btc/block/" + bytes.fromhex(display)[::-1].hex())
    assert response.status_code == 302 and response["Location"] == f"/btc/block/{display}"


def test_block_page_links_deposit_mint_relay_and_pop_to_keystone_and_hemi_block(client, told):
    story, mint = told
    deposit_txid = decode_tx(story.deposit_raw).txid_display
    html = get(client, "/btc/block/101")
    assert f'href="/btc/tx/{deposit_txid}"' in html and "100 BTC" in html
    assert f'href="/tx/0x{bytes(mint.transaction.hash).hex()}"' in html  # the mint it funded
    assert f'href="/address/0x{RECIPIENT.hex()}"' in html and f'href="/address/0x{VAULT.hex()}"' in html
    assert "Hemi's sequencer showed this header to the hVM in" in html and 'href="/block/10"' in html
    pop = get(client, "/btc/block/105")
    assert 'href="/keystone/25"' in pop and 'href="/block/25"' in pop and "our keystone" in pop
    assert f'href="/btc/tx/{decode_tx(story.pop_raw).txid_display}"' in pop


def test_the_block_ten_on_top_of_a_publication_says_what_it_makes_superfinal(client, told):
    html = get(client, "/btc/block/115")
    assert "it makes" in html and 'href="/keystone/25"' in html and "superfinal" in html
    assert "nothing turns superfinal here" in get(client, "/btc/block/114")


def test_an_alternate_keystone_publication_is_marked_against_our_chain(client, told, chains):
    from dataclasses import replace

    story, _ = told
    from indexer.bitcoin.models import BitcoinBlock

    forged = replace(story.keystone, state_root=b"\xee" * 32).abbreviate()
    chains.publish(BitcoinBlock.objects.get(height=110), forged, first=False)
    html = get(client, "/btc/block/110")
    assert "alternate" in html and "differs from our keystone 25" in html


def test_orphaned_blocks_keep_their_page_with_a_banner(client, told):
    from indexer.bitcoin.models import BitcoinBlock

    story, _ = told
    BitcoinBlock.objects.filter(height=115).update(in_active_chain=False)
    html = get(client, f"/btc/block/{block_hash(story, 115)}")
    assert "Orphaned." in html and "Final: nothing shown here can change" in html


def test_transaction_page_shows_the_deposit_vault_amount_fee_recipient_and_mint(client, told):
    story, mint = told
    txid = decode_tx(story.deposit_raw).txid_display
    html = get(client, f"/btc/tx/{txid}")
    assert txid in html and "Tunnel deposit" in html
    assert "100 BTC (10,000,000,000 sats)" in html and f"{FEE:,} sats" in html  # amount and the fee kept
    assert f'href="/address/0x{RECIPIENT.hex()}"' in html and f'href="/address/0x{VAULT.hex()}"' in html
    mint_hex = "0x" + bytes(mint.transaction.hash).hex()
    assert f'href="/tx/{mint_hex}"' in html and f'href="/provenance/mint/{mint_hex}"' in html
    assert f"{DEPOSIT_SATS - FEE:,} sats" in html
    # the mint's trail, with this page marked as its first hop
    assert 'data-hop="deposit" aria-current="step"' in html


def test_transaction_page_proves_inclusion_with_the_stored_merkle_branch(client, told):
    from indexer.bitcoin.models import BitcoinTransaction

    story, _ = told
    txid = decode_tx(story.deposit_raw).txid_display
    assert "the block header's merkle root" in get(client, f"/btc/tx/{txid}")
    tx = BitcoinTransaction.objects.get(txid_internal=bytes.fromhex(txid)[::-1])
    tx.merkle_branch = b"\x00" * 32  # a branch that does not fold to the header's root
    tx.save()
    assert "a different root than the block header" in get(client, f"/btc/tx/{txid}")


def test_transaction_page_decodes_the_pop_keystone_and_links_its_hemi_block(client, told):
    story, _ = told
    txid = decode_tx(story.pop_raw).txid_display
    html = get(client, f"/btc/tx/{txid}")
    assert "Proof-of-Proof" in html and "keystone 25, decoded" in html and "same bytes" in html
    assert 'href="/block/25"' in html and 'href="/keystone/25"' in html
    assert story.keystone.abbreviate().id_display in html
    raw = get(client, f"/btc/tx/{txid}?raw=1")
    assert story.pop_raw.hex() in raw


def test_payout_page_links_the_withdrawal_it_pays(client, withdrawals):
    w = withdrawals.initiate(index=0)
    payout = withdrawals.pay(index=0)
    html = get(client, f"/btc/tx/{payout.transaction.txid_display}")
    assert "Withdrawal payout" in html and f'href="/tx/0x{bytes(w.transaction.hash).hex()}"' in html
    # the stored bytes of this synthetic row are not a transaction: said, not a 500
    assert "do not decode as a Bitcoin transaction" in html


def test_bad_and_unknown_identifiers_are_400_and_404(client, told):
    assert "height or a 64-hex block hash" in get(client, "/btc/block/xyz", 400)
    assert "hexadecimal" in get(client, "/btc/block/" + "zz" * 32, 400)
    assert "not indexed" in get(client, "/btc/block/99999", 404)
    assert "is not stored" in get(client, "/btc/tx/" + "00" * 32, 404)
    assert "64 hex digits" in get(client, "/btc/tx/abc", 400)


def _header(label: str, height: int, *, active: bool = True):
    from decimal import Decimal

    from indexer.bitcoin.models import BitcoinBlock
    from tests.explorer.conftest import h32

    return BitcoinBlock.objects.create(
        hash_internal=h32(label), height=height, prev_hash_internal=h32("x"), merkle_root_internal=h32("m"),
        version=1, time=0, bits=0x207FFFFF, nonce=0, header_raw=b"\x00" * 80, chainwork=Decimal(height),
        in_active_chain=active,
    )  # fmt: skip


def test_the_block_list_walks_every_header_once_orphans_included_while_blocks_arrive(client, chains):
    from indexer.bitcoin.models import BitcoinBlock

    chains.btc_chain(40)
    for height in (12, 30):  # a reorg left one orphan at each of these heights
        _header(f"orphan-{height}", height, active=False)
    expected = [(b.height, b.id) for b in BitcoinBlock.objects.order_by("-height", "-id")]
    arrived = iter(range(41, 100))
    seen, url, pages = [], "/btc/blocks?limit=10", 0
    while url:
        html = get(client, url)
        seen += [int(h) for h in re.findall(r'<td><a href="/btc/block/[0-9a-f]{64}">(\d+)</a></td>', html)]
        nxt = re.search(r'rel="next" href="([^"]+)"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
        pages += 1
        n = next(arrived)
        _header(f"late-{n}", n)  # a new block arrives between two pages
    assert pages >= 3
    assert seen == [h for h, _ in expected]  # every header present at the start, once, highest first
    assert "orphaned" in get(client, "/btc/blocks")


def test_bitcoin_pages_cost_the_same_queries_whatever_the_table_size(client, chains, tunnel):
    blocks = chains.btc_chain(120, start=100)
    tunnel.deposit(blocks[110], label="d-110")

    def counts():
        out = {}
        for url in ("/btc/blocks", "/btc/block/110", "/btc/blocks?limit=100"):
            with CaptureQueriesContext(connection) as ctx:
                get(client, url)
            out[url] = len(ctx)
        return out

    small = counts()
    for n in range(121, 400):
        _header(f"more-{n}", n)
    for i in range(40):
        tunnel.deposit(blocks[100 + i % 20], label=f"more-{i}")
    large = counts()
    assert small == large, (small, large)
    assert max(large.values()) <= 16


def test_a_blocks_pop_outputs_and_deposits_are_keyset_paged(client, chains, tunnel):
    blocks = chains.btc_chain(105, start=100)
    hemi = chains.hemi_chain(25)
    abrev = chains.keystone_of(hemi[25]).abbreviate()
    for i in range(60):
        chains.publish(blocks[103], abrev, tx_index=i + 1, first=(i == 0))
    for i in range(30):
        tunnel.deposit(blocks[103], label=f"dep-{i}")
    with CaptureQueriesContext(connection) as ctx:
        html = get(client, "/btc/block/103")
    first = len(ctx)
    assert html.count('<span class="badge verdict-verified">our keystone</span>') == 25
    nxt = re.search(r'href="(/btc/block/103\?pops_cursor=[^"#]+)', html).group(1)
    with CaptureQueriesContext(connection) as ctx:
        second = get(client, nxt.replace("&amp;", "&"))
    assert len(ctx) <= first
    assert second.count("our keystone</span>") == 25 and "deposits_cursor=" in html


def test_a_block_page_polls_while_something_on_it_can_change_and_says_what(client, told):
    # 101: relayed, deposit minted, 15 deep -> final. 110: Hemi's hVM view stops at 104.
    assert 'data-live="final"' in get(client, "/btc/block/101")
    waiting = get(client, "/btc/block/110")
    assert 'data-live="polling"' in waiting and "Hemi&#x27;s sequencer to relay this header" in waiting
    assert "Bitcoin block 120 (10 blocks on top of this one)" in waiting
