"""The Blockscout v2 subset (``/api/v2/``): upstream field names and their Hemi-fork aliases,
keyset paging through ``next_page_params`` while blocks arrive, upstream's error shape."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_utils import to_checksum_address

from tests.explorer import api_dataset
from tests.explorer.test_hemi_pages import _grow

UPSTREAM_BLOCK_FIELDS = {
    "height", "timestamp", "transactions_count", "internal_transactions_count", "miner", "size", "hash",
    "parent_hash", "difficulty", "total_difficulty", "gas_used", "gas_limit", "nonce", "base_fee_per_gas",
    "burnt_fees", "priority_fee", "uncles_hashes", "rewards", "gas_target_percentage", "gas_used_percentage",
    "burnt_fees_percentage", "type", "transaction_fees", "withdrawals_count", "is_pending_update",
}  # fmt: skip
UPSTREAM_TX_FIELDS = {
    "hash", "result", "status", "block_number", "timestamp", "from", "to", "created_contract", "confirmations",
    "confirmation_duration", "value", "fee", "gas_price", "type", "gas_used", "gas_limit", "max_fee_per_gas",
    "max_priority_fee_per_gas", "base_fee_per_gas", "priority_fee", "transaction_burnt_fee", "nonce", "position",
    "revert_reason", "raw_input", "decoded_input", "token_transfers", "token_transfers_overflow", "method",
    "transaction_types", "transaction_tag", "has_error_in_internal_transactions", "is_pending_update",
}  # fmt: skip


@pytest.fixture
def dataset(chains, tunnel, monkeypatch):
    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)
    return api_dataset.build(chains, tunnel)


def test_blocks_walk_three_pages_through_next_page_params_without_gap_or_duplicate_while_blocks_arrive(
    client, chains
):
    chains.hemi_chain(160)
    arriving = iter(range(161, 400))
    seen, pages, params = [], 0, {}
    while True:
        body = client.get("/api/v2/blocks", params).json()
        seen += [b["height"] for b in body["items"]]
        pages += 1
        n = next(arriving)
        _grow(chains, n, n)  # a block arrives at the head between pages
        if body["next_page_params"] is None:
            break
        params = body["next_page_params"]  # the keys, passed back as query parameters
        assert set(params) == {"block_number", "items_count"}
    assert pages >= 3
    assert seen == list(range(160, -1, -1))  # every block present at the start, once, newest first


def test_a_block_answers_with_upstream_field_names_and_the_hemi_fork_aliases(client, dataset):
    block = dataset.hemi[12]
    body = client.get("/api/v2/blocks/12").json()
    assert UPSTREAM_BLOCK_FIELDS <= set(body)
    assert body["height"] == 12 and body["hash"] == "0x" + bytes(block.hash).hex()
    assert body["parent_hash"] == "0x" + bytes(block.parent_hash).hex()
    assert body["timestamp"] == "2023-11-14T22:13:44Z"  # 1_700_000_024
    assert body["miner"]["hash"] == to_checksum_address(bytes(block.miner))
    assert body["transactions_count"] == body["tx_count"] == block.tx_count
    assert (body["gas_used"], body["gas_limit"]) == ("0", "30000000")
    assert body["type"] == "block" and body["size"] is None and body["internal_transactions_count"] is None
    # What its transactions paid: gas used x price (none set in the dataset: 0) + L1 fees.
    assert body["transaction_fees"] == body["tx_fees"] == "0"
    # The Hemi fork's btc_finality is the same legacy value /api/v1 reports for the block.
    assert body["btc_finality"] == client.get("/api/v1/blocks/12/finality").json()["btc_finality"]
    by_hash = client.get(f"/api/v2/blocks/{body['hash']}").json()
    assert by_hash == body


def test_a_transaction_answers_with_upstream_field_names(client, dataset):
    tx = dataset.tx_with_logs
    tx_hash = "0x" + bytes(tx.hash).hex()
    body = client.get(f"/api/v2/transactions/{tx_hash}").json()
    assert UPSTREAM_TX_FIELDS <= set(body)
    assert body["hash"] == tx_hash and body["block_number"] == body["block"] == tx.block.number
    assert body["from"]["hash"] == to_checksum_address(b"\x01" * 20)
    assert body["to"]["hash"] == to_checksum_address(b"\xee" * 20)
    assert (body["status"], body["result"]) == ("ok", "success")
    assert body["gas_used"] == "50000" and body["gas_limit"] == "100000"
    assert body["position"] == tx.index and body["revert_reason"] is None
    assert body["transaction_burnt_fee"] == body["tx_burnt_fee"]
    assert body["transaction_types"] == body["tx_types"]
    logs = client.get(f"/api/v2/transactions/{tx_hash}/logs").json()
    assert [log["index"] for log in logs["items"]] == sorted(log["index"] for log in logs["items"])
    assert len(logs["items"]) == 5 and logs["next_page_params"] is None
    assert all(log["transaction_hash"] == log["tx_hash"] == tx_hash for log in logs["items"])


def test_addresses_tokens_holders_and_transfers_answer_as_upstream(client, dataset, tunnel):
    holder = "0x" + dataset.holder.hex()
    token = "0x" + tunnel.HEMIBTC.hex()
    recipient = "0x" + tunnel.RECIPIENT.hex()
    address = client.get(f"/api/v2/addresses/{holder}").json()
    assert address["hash"] == to_checksum_address(dataset.holder) and address["coin_balance"] is None
    txs = client.get(f"/api/v2/addresses/{holder}/transactions").json()
    assert txs["items"] and all(t["from"]["hash"] == address["hash"] for t in txs["items"])
    ids = [t["hash"] for t in txs["items"]]
    assert len(ids) == len(set(ids))
    transfers = client.get(f"/api/v2/addresses/{recipient}/token-transfers").json()
    assert transfers["items"] and all(t["type"] == "token_minting" for t in transfers["items"])
    assert all(t["transaction_hash"] == t["tx_hash"] for t in transfers["items"])
    one = client.get(f"/api/v2/tokens/{token}").json()
    assert (one["symbol"], one["decimals"], one["type"]) == ("hemiBTC", "8", "ERC-20")
    assert one["holders"] == one["holders_count"] == "5"
    holders = client.get(f"/api/v2/tokens/{token}/holders").json()
    assert len(holders["items"]) == 5
    assert all(h["token"]["address"] == to_checksum_address(token) for h in holders["items"])
    listed = client.get("/api/v2/tokens").json()
    assert {t["symbol"] for t in listed["items"]} >= {"hemiBTC", "T1", "T5"}


def test_search_stats_and_indexing_status(client, dataset):
    tx_hash = "0x" + bytes(dataset.tx_with_logs.hash).hex()
    assert client.get("/api/v2/search", {"q": "12"}).json()["items"][0]["block_number"] == 12
    hit = client.get("/api/v2/search", {"q": tx_hash}).json()["items"]
    assert [h["type"] for h in hit] == ["transaction"] and hit[0]["transaction_hash"] == tx_hash
    assert {h["symbol"] for h in client.get("/api/v2/search", {"q": "Token"}).json()["items"]} >= {"T1", "T2"}
    assert client.get("/api/v2/search", {"q": "0xzz"}).json() == {"items": [], "next_page_params": None}
    stats = client.get("/api/v2/stats").json()
    assert stats["total_blocks"] == "131" and stats["average_block_time"] == 2000.0
    status = client.get("/api/v2/main-page/indexing-status").json()
    assert set(status) == {"finished_indexing_blocks", "indexed_blocks_ratio", "finished_indexing",
                           "indexed_internal_transactions_ratio"}  # fmt: skip


def test_errors_are_upstreams_message_shape(client, dataset):
    missing = client.get("/api/v2/blocks/99999")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not found"})
    bad = client.get("/api/v2/transactions/0x12")
    assert bad.status_code == 422 and set(bad.json()) == {"message"}
    assert client.get("/api/v2/blocks", {"block_number": "-1"}).status_code == 422
    assert client.get("/api/v2/blocks", {"type": "reorg"}).status_code == 422
    assert client.get("/api/v2/blocks", {"type": "uncle"}).json() == {"items": [], "next_page_params": None}
    elsewhere = client.get("/api/v2/no/such/path")
    assert (elsewhere.status_code, elsewhere.json()) == (404, {"message": "Not found"})
    post = client.post("/api/v2/blocks")
    assert post.status_code == 405 and set(post.json()) == {"message"}
