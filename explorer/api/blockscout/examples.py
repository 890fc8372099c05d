"""Schema examples of the Blockscout v2 answers (devnet-like values; checked against their
schemas by tests/explorer/api/test_api_schema.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

_TX = "0x7a15e4c0836710667fe2ca3c2b1aae2de409976bc68345d9844a057d538dd58a"
_BLOCK = "0x" + "5e" * 32
_HEMIBTC = "0xCafac3dD18aC6c6e92c921884f9E4176737C052c"


def _address(checksummed: str, is_contract: bool | None = None) -> dict:
    return {"hash": checksummed, "is_contract": is_contract, "name": None, "implementations": [],
            "is_verified": None, "ens_domain_name": None, "metadata": None, "private_tags": [],
            "public_tags": [], "watchlist_names": []}  # fmt: skip


_MINER = _address("0x4200000000000000000000000000000000000011")
_SENDER = _address("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
TOKEN_BODY = {
    "address": _HEMIBTC, "address_hash": _HEMIBTC, "name": "Hemi Bitcoin", "symbol": "hemiBTC", "decimals": "8",
    "type": "ERC-20", "total_supply": "9990000000", "holders": "1", "holders_count": "1", "exchange_rate": None,
    "volume_24h": None, "circulating_market_cap": None, "icon_url": None,
}  # fmt: skip
BLOCK_BODY = {
    "height": 13, "hash": _BLOCK, "parent_hash": "0x" + "4d" * 32, "timestamp": "2026-12-06T10:02:20Z",
    "transactions_count": 2, "tx_count": 2, "internal_transactions_count": None, "miner": _MINER, "size": None,
    "difficulty": None, "total_difficulty": None, "nonce": None, "gas_used": "84211", "gas_limit": "30000000",
    "base_fee_per_gas": "7", "burnt_fees": "589477", "priority_fee": None, "uncles_hashes": [], "rewards": [],
    "gas_target_percentage": None, "gas_used_percentage": 0.28070333333333334, "burnt_fees_percentage": 12.5,
    "type": "block", "transaction_fees": "4715816", "tx_fees": "4715816", "withdrawals_count": None,
    "is_pending_update": False, "btc_finality": 2,
}  # fmt: skip
TRANSFER_BODY = {
    "transaction_hash": _TX, "tx_hash": _TX, "from": _address("0x0000000000000000000000000000000000000000"),
    "to": _SENDER, "total": {"decimals": "8", "value": "9990000000"}, "token": TOKEN_BODY, "type": "token_minting",
    "timestamp": "2026-12-06T10:02:20Z", "block_hash": _BLOCK, "block_number": 13, "log_index": 1, "method": None,
}  # fmt: skip
TX_BODY = {
    "hash": _TX, "result": "success", "status": "ok", "block_number": 13, "block": 13, "block_hash": _BLOCK,
    "timestamp": "2026-12-06T10:02:20Z", "from": _SENDER, "to": _address("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
    "created_contract": None, "confirmations": 3, "confirmation_duration": None, "value": "0",
    "fee": {"type": "actual", "value": "4715816"}, "l1_fee": None, "gas_price": "56", "type": 2, "gas_used": "84211",
    "gas_limit": "100000", "max_fee_per_gas": "100", "max_priority_fee_per_gas": "49", "base_fee_per_gas": "7",
    "priority_fee": "4126339", "transaction_burnt_fee": "589477", "tx_burnt_fee": "589477", "nonce": 4,
    "position": 1, "revert_reason": None, "raw_input": "0x", "decoded_input": None,
    "token_transfers": [TRANSFER_BODY], "token_transfers_overflow": False, "method": None,
    "transaction_types": ["contract_call"], "tx_types": ["contract_call"], "transaction_tag": None,
    "has_error_in_internal_transactions": None, "is_pending_update": False, "actions": [], "exchange_rate": None,
}  # fmt: skip
LOG_BODY = {
    "address": _address(_HEMIBTC), "topics": ["0x" + "dd" * 32, "0x" + "00" * 32, "0x" + "3c" * 32, None],
    "data": "0x" + "00" * 31 + "01", "decoded": None, "index": 1, "transaction_hash": _TX, "tx_hash": _TX,
    "block_number": 13, "block_hash": _BLOCK, "smart_contract": None,
}  # fmt: skip
ADDRESS_BODY = {
    **_SENDER, "coin_balance": None, "exchange_rate": None, "block_number_balance_updated_at": None,
    "creator_address_hash": None, "creation_transaction_hash": None, "token": None, "has_tokens": None,
    "has_token_transfers": None, "has_logs": None,
}  # fmt: skip
HOLDER_BODY = {"address": _SENDER, "value": "9990000000", "token_id": None, "token": TOKEN_BODY}
SEARCH_BODY = {"type": "transaction", "url": f"/tx/{_TX}", "transaction_hash": _TX, "tx_hash": _TX,
               "timestamp": "2026-12-06T10:02:20Z"}  # fmt: skip


def _page(name: str, item: dict, more: dict | None) -> OpenApiExample:
    return OpenApiExample(name, value={"items": [item], "next_page_params": more}, response_only=True)


BLOCK = OpenApiExample("block", value=BLOCK_BODY, response_only=True)
BLOCKS = _page("blocks", BLOCK_BODY, {"block_number": 13, "items_count": 50})
TX = OpenApiExample("transaction", value=TX_BODY, response_only=True)
TXS = _page("transactions", {**TX_BODY, "token_transfers": None}, {"id": 812, "items_count": 50})
BLOCK_TXS = _page("transactions", {**TX_BODY, "token_transfers": None}, None)
LOGS = _page("logs", LOG_BODY, None)
TRANSFERS = _page("token transfers", TRANSFER_BODY, None)
ADDRESS = OpenApiExample("address", value=ADDRESS_BODY, response_only=True)
TOKEN = OpenApiExample("token", value=TOKEN_BODY, response_only=True)
TOKENS = _page("tokens", {**TOKEN_BODY, "holders": None, "holders_count": None}, None)
HOLDERS = _page("holders", HOLDER_BODY, None)
SEARCH = _page("search", SEARCH_BODY, None)
STATS = OpenApiExample(
    "stats",
    value={"total_blocks": "1201", "total_addresses": None, "total_transactions": None, "transactions_today": None,
           "average_block_time": 2000.0, "coin_price": None, "coin_price_change_percentage": None,
           "total_gas_used": None, "gas_used_today": None, "gas_prices": None, "static_gas_price": None,
           "market_cap": None, "network_utilization_percentage": None, "tvl": None},
    response_only=True,
)  # fmt: skip
INDEXING = OpenApiExample(
    "indexing status",
    value={"finished_indexing_blocks": True, "indexed_blocks_ratio": "1.00", "finished_indexing": True,
           "indexed_internal_transactions_ratio": None},
    response_only=True,
)  # fmt: skip
