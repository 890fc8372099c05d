"""The REST API on a backed, relayed, anchored mint story: every resource answers with its
fields in the promised encodings (EVM 0x-hex, Bitcoin display order, amounts as decimal
strings), and every error is JSON naming what was wrong."""

from __future__ import annotations

import pytest

from tests.explorer.conftest import store_verdicts


@pytest.fixture(autouse=True)
def _hemibtc(monkeypatch, tunnel):
    from dataclasses import replace

    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)


@pytest.fixture
def minted(story):
    built = story()
    store_verdicts()
    return built


def get(client, url, status=200, **headers):
    response = client.get(url, headers=headers)
    assert response.status_code == status, (url, response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), url
    return response.json()


def test_blocks_list_and_detail_by_number_and_hash(client, minted):
    hemi, *_ = minted
    page = get(client, "/api/v1/blocks?limit=5")
    assert [b["height"] for b in page["items"]] == [30, 29, 28, 27, 26]
    assert page["next"].startswith("http://testserver/api/v1/blocks?") and "limit=5" in page["next"]
    assert page["next_page_params"]["limit"] == "5" and page["next_page_params"]["cursor"]
    twelve = get(client, "/api/v1/blocks/12")
    assert twelve["hash"] == "0x" + bytes(hemi[12].hash).hex() and twelve["gas_limit"] == "30000000"
    assert twelve["finality_stage"] == "superfinal" and twelve["keystone_number"] == 25 and twelve["type"] == "block"
    assert get(client, "/api/v1/blocks/" + twelve["hash"]) == twelve
    finality = get(client, "/api/v1/blocks/12/finality")
    assert (
        finality["super_finality"] and finality["publication_height"] == 105 and finality["bitcoin_tip_height"] == 115
    )
    assert get(client, "/api/v1/blocks?from_block=3&to_block=4")["items"][0]["height"] == 4


def test_block_range_and_time_filters(client, minted):
    hemi, *_ = minted
    times = get(client, f"/api/v1/blocks?from_time={hemi[5].timestamp}&to_time={hemi[7].timestamp}")
    assert [b["height"] for b in times["items"]] == [7, 6, 5]
    iso = get(client, "/api/v1/blocks?to_time=2023-11-14T22:13:30Z")  # 1_700_000_010 = block 5
    assert iso["items"][0]["height"] == 5


def test_transaction_detail_has_fees_with_l1_fee_decoded_input_transfers_and_mint(client, minted, tunnel):
    *_, mint = minted
    tx = mint.transaction
    tx.gas_used, tx.effective_gas_price, tx.l1_fee = 50_000, 2, 7_000
    tx.save()
    tx_hash = "0x" + bytes(tx.hash).hex()
    data = get(client, f"/api/v1/transactions/{tx_hash}")
    assert data["fees"] == {"execution": "100000", "l1": "7000", "total": "107000"} and data["fee"] == "107000"
    assert data["from"] == "0x" + "01" * 20 and data["status"] == "ok" and data["block_number"] == 12
    assert data["token_transfers"][0]["token"]["symbol"] == "hemiBTC"
    assert data["token_transfers"][0]["value"] == str(int(mint.net_sats))
    assert data["mints"] == [
        {"log_index": 0, "deposit_txid": mint.deposit_txid_display, "provenance": f"/api/v1/provenance/mint/{tx_hash}"}
    ]
    logs = get(client, f"/api/v1/transactions/{tx_hash}/logs")
    assert [log["index"] for log in logs["items"]] == [0, 1] and logs["next"] is None


def test_addresses_tokens_and_balances(client, minted, tunnel):
    from indexer.hemi.models import Address, TokenBalance

    recipient = "0x" + tunnel.RECIPIENT.hex()
    Address.objects.create(address=tunnel.RECIPIENT, first_seen_block=12)
    TokenBalance.objects.create(token=tunnel.token, holder=tunnel.RECIPIENT, balance=99 * 10**8)
    assert get(client, f"/api/v1/addresses/{recipient}")["hash"] == recipient
    balances = get(client, f"/api/v1/addresses/{recipient}/token-balances")["items"]
    assert balances == [{"token": balances[0]["token"], "value": "9900000000"}]
    transfers = get(client, f"/api/v1/addresses/{recipient}/token-transfers?token=0x{tunnel.HEMIBTC.hex()}")
    assert transfers["items"][0]["to"] == recipient
    token = get(client, f"/api/v1/tokens/0x{tunnel.HEMIBTC.hex()}")
    assert token["is_hemibtc"] and token["holders_count"] == 1 and token["type"] == "ERC-20"
    assert get(client, f"/api/v1/tokens/0x{tunnel.HEMIBTC.hex()}/holders")["items"][0]["address"] == recipient
    assert len(get(client, f"/api/v1/tokens/0x{tunnel.HEMIBTC.hex()}/transfers?address={recipient}")["items"]) == 1
    assert get(client, "/api/v1/tokens")["items"][0]["symbol"] == "hemiBTC"


def test_keystones_publications_and_bitcoin_side_in_display_order(client, minted, chains):
    hemi, btc, mint = minted
    kid = chains.keystone_of(hemi[25]).abbreviate().id_display
    keystone = get(client, "/api/v1/keystones/25")
    assert keystone["keystone_id"] == kid and keystone["finality"]["stage"] == "superfinal"
    assert get(client, f"/api/v1/keystones/{kid}")["number"] == 25
    pubs = get(client, "/api/v1/keystones/25/publications")["items"]
    assert pubs[0]["block_height"] == 105 and pubs[0]["block_hash"] == btc[105].hash_display
    assert get(client, "/api/v1/pop-publications?from_keystone=25&to_keystone=25")["items"][0]["keystone_id"] == kid
    block = get(client, f"/api/v1/bitcoin/blocks/{btc[101].hash_display}")
    assert block["id"] == btc[101].hash_display and block["previousblockhash"] == btc[100].hash_display
    assert get(client, "/api/v1/bitcoin/blocks/101") == block
    assert [b["height"] for b in get(client, "/api/v1/bitcoin/blocks?from_height=110&limit=3")["items"]] == [
        115,
        114,
        113,
    ]
    txs = get(client, f"/api/v1/bitcoin/blocks/{btc[101].hash_display}/transactions")["items"]
    assert txs[0]["txid"] == mint.deposit_txid_display
    deposit_tx = get(client, f"/api/v1/bitcoin/transactions/{mint.deposit_txid_display}")
    assert deposit_tx["deposit"]["value"] == "10000000000" and deposit_tx["block_hash"] == btc[101].hash_display
    # the internal-order spelling of the same txid is another (unknown) txid
    get(client, f"/api/v1/bitcoin/transactions/{bytes(mint.deposit_txid_internal).hex()}", status=404)


def test_tunnel_lists_and_provenance(client, minted, tunnel, chains):
    hemi, _btc, mint = minted
    tx_hash = "0x" + bytes(mint.transaction.hash).hex()
    mints = get(client, "/api/v1/tunnel/mints")["items"]
    assert mints[0]["verdict"] == "verified" and mints[0]["deposit_txid"] == mint.deposit_txid_display
    assert mints[0]["deposit_sats"] == "10000000000" and mints[0]["finality_stage"] == "superfinal"
    assert get(client, f"/api/v1/tunnel/mints?address=0x{'99' * 20}")["items"] == []
    deposits = get(client, "/api/v1/tunnel/deposits")["items"]
    assert deposits[0]["verdict"] == "verified" and deposits[0]["mint_transaction_hash"] == tx_hash
    tx = tunnel.hemi_tx(hemi[5], to=tunnel.VAULT)
    chains.hemi.WithdrawalInitiation.objects.create(
        log=tunnel.log(tx, tunnel.VAULT), transaction=tx, block=hemi[5], vault=tunnel.VAULT, withdrawer=b"\x07" * 20,
        btc_address="RAxgMnwsw5ikxfXoDekC6DDD5ppygc76AP", btc_address_hash=b"\x00" * 32, withdrawal_sats=10_000_000,
        net_sats=9_990_000, uuid=3,
    )  # fmt: skip
    store_verdicts()
    w = get(client, "/api/v1/tunnel/withdrawals")["items"][0]
    assert w["uuid"] == "3" and w["status"] == "pending" and w["verdict"] == "pending"
    p = get(client, f"/api/v1/provenance/mint/{tx_hash}")
    assert p["verdict"] == "verified" and next(link["name"] for link in p["links"]) == "Bitcoin lock"
    assert get(client, f"/provenance/mint/{tx_hash}.json") == p  # the page's JSON is the same serializer
    assert get(client, "/api/v1/provenance/block/12")["subject"] == "Hemi block 12"
    token_mints = get(client, f"/api/v1/provenance/token/0x{tunnel.HEMIBTC.hex()}")["items"]
    assert [m["transaction_hash"] for m in token_mints] == [tx_hash]
    address_mints = get(client, f"/api/v1/provenance/address/0x{tunnel.RECIPIENT.hex()}")["items"]
    assert address_mints == token_mints


def test_search_and_status(client, minted):
    hits = get(client, "/api/v1/search?q=12")
    assert hits["items"][0]["type"] == "Hemi block" and hits["redirect"] == "/block/12?q=12"
    assert get(client, "/api/v1/search?q=nothing-like-this")["items"] == []
    status = get(client, "/api/v1/status")
    assert {c["chain"] for c in status["chains"]} == {"hemi", "bitcoin"}


def test_status_reports_cursors_node_tips_and_lag(client, db, monkeypatch):
    from hemiscope import telemetry
    from indexer.models import ChainCursor

    ChainCursor.objects.create(chain="bitcoin", height=200, block_hash=bytes(range(32)))
    ChainCursor.objects.create(chain="hemi", height=90, block_hash=b"\x11" * 32)

    class Tip:
        def __init__(self, height):
            self.height, self.age_seconds = height, 3.04

    monkeypatch.setattr(telemetry, "node_tip", lambda chain: Tip(205) if chain == "bitcoin" else None)
    chains = {c["chain"]: c for c in get(client, "/api/v1/status")["chains"]}
    assert chains["bitcoin"]["cursor_hash"] == bytes(range(32))[::-1].hex()  # display order
    assert chains["bitcoin"]["lag"] == 5 and chains["bitcoin"]["node_tip_age_seconds"] == 3.0
    assert chains["hemi"]["cursor_hash"] == "0x" + "11" * 32 and chains["hemi"]["lag"] is None


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/blocks?cursor=nope", "cursor"),
        ("/api/v1/blocks?limit=0", "limit"),
        ("/api/v1/blocks?limit=101", "limit"),
        ("/api/v1/tunnel/mints?limit=101", "limit"),
        ("/api/v1/blocks?from_block=-1", "from_block"),
        ("/api/v1/blocks?from_block=9&to_block=3", "from_block"),
        ("/api/v1/blocks?from_time=yesterday", "from_time"),
        ("/api/v1/blocks?form_block=3", "form_block"),
        ("/api/v1/blocks/0x12", "ident"),
        ("/api/v1/blocks/twelve", "ident"),
        ("/api/v1/transactions/0x1234", "hash"),
        ("/api/v1/addresses/0xzz", "address"),
        ("/api/v1/keystones/abc", "ident"),
        ("/api/v1/bitcoin/transactions/12", "txid"),
        ("/api/v1/tunnel/withdrawals?verdict=failing", "verdict"),
        ("/api/v1/tunnel/mints?address=0x12", "address"),
        ("/api/v1/search?q=0x1234", "q"),
        ("/api/v1/search", "q"),
        ("/api/v1/keystones?cursor=" + "AWJsb2Nrcw.AAAA", "cursor"),
    ],
)
def test_a_bad_parameter_is_a_json_400_that_names_it(client, db, url, name):
    body = get(client, url, status=400)
    assert body["status"] == 400 and body["error"].startswith(f"{name}: "), body


def test_a_cursor_from_another_list_is_refused(client, chains):
    chains.hemi_chain(30)
    cursor = get(client, "/api/v1/blocks?limit=2")["next_page_params"]["cursor"]
    assert "issued for another list" in get(client, f"/api/v1/keystones?cursor={cursor}", status=400)["error"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/blocks/999",
        "/api/v1/transactions/0x" + "ab" * 32,
        "/api/v1/addresses/0x" + "ab" * 20,
        "/api/v1/tokens/0x" + "ab" * 20,
        "/api/v1/keystones/50",
        "/api/v1/bitcoin/blocks/7",
        "/api/v1/provenance/mint/0x" + "ab" * 32,
        "/api/v1/no-such-thing",
    ],
)
def test_unknown_ids_are_json_404s(client, db, url):
    body = get(client, url, status=404)
    assert body["status"] == 404 and body["error"]


def test_other_methods_are_json_405s_and_cors_allows_any_origin_to_get(client, chains):
    chains.hemi_chain(3)
    response = client.post("/api/v1/blocks", data={})
    assert response.status_code == 405 and response.json() == {"error": 'Method "POST" not allowed.', "status": 405}
    response = client.get("/api/v1/blocks", headers={"Origin": "https://wallet.example"})
    assert response["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/api/v1/blocks",
        headers={"Origin": "https://wallet.example", "Access-Control-Request-Method": "GET"},
    )
    assert (
        "GET" in preflight["Access-Control-Allow-Methods"] and "POST" not in preflight["Access-Control-Allow-Methods"]
    )
    assert "Access-Control-Allow-Origin" not in client.get("/blocks", headers={"Origin": "https://x.example"})


def test_throttled_requests_are_json_429s_with_retry_after(client, chains, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import AnonRateThrottle

    from explorer.api.v1.views.base import ReadOnlyApi

    chains.hemi_chain(3)

    # The rate itself is configured once in settings by the hardening work; here a 1/min DRF
    # throttle stands in, to see what a throttled client gets.
    class OnePerMinute(AnonRateThrottle):
        rate = "1/min"

    monkeypatch.setattr(ReadOnlyApi, "throttle_classes", [OnePerMinute])
    cache.clear()
    try:
        get(client, "/api/v1/blocks")
        body = get(client, "/api/v1/blocks", status=429)
        assert body["status"] == 429 and "throttled" in body["error"].lower()
        assert int(client.get("/api/v1/blocks")["Retry-After"]) > 0
    finally:
        cache.clear()


def test_final_blocks_and_transactions_are_cached_and_young_ones_revalidated(client, minted):
    hemi, _, mint = minted
    final = client.get("/api/v1/blocks/12")
    assert "immutable" in final["Cache-Control"] and "max-age=86400" in final["Cache-Control"]
    again = client.get("/api/v1/blocks/12", headers={"If-None-Match": final["ETag"]})
    assert again.status_code == 304 and again["ETag"] == final["ETag"]
    young = client.get("/api/v1/blocks/30")  # keystone 50 not produced: reorgable
    assert young["Cache-Control"] == "no-cache" and young["ETag"]
    tx = client.get("/api/v1/transactions/0x" + bytes(mint.transaction.hash).hex())
    assert "immutable" in tx["Cache-Control"]
    hemi[12].canonical = False  # reorged out: no longer final, whatever its anchoring said
    hemi[12].save()
    assert client.get("/api/v1/blocks/" + "0x" + bytes(hemi[12].hash).hex())["Cache-Control"] == "no-cache"
