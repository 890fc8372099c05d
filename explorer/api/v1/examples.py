"""Response examples for the schema (one per endpoint). tests/api/test_schema.py checks each
against its own response schema, so an example can never drift from what the API sends."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

H = "0x" + "5e" * 32  # an EVM hash
TX = "0x" + "7a" * 32
ADDR = "0x" + "c0" * 20
TOKEN_ADDR = "0x" + "aa" * 20
VAULT = "0x" + "ba" * 20
BTC = "3f" * 32  # a Bitcoin hash, display order
CURSOR = "AWJsb2NrcwBbMTFd.2b4d9c1a7e0f3c5d8e9a1b2c"
T = "2026-01-15T10:32:48Z"


def _example(name: str, value: dict) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=["200"])


def _page(name: str, item: dict, path: str, **params) -> OpenApiExample:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    query = (query + "&" if query else "") + f"cursor={CURSOR}"
    return _example(
        name,
        {
            "items": [item],
            "next": f"https://hemiscope.example/api/v1/{path}?{query}",
            "next_page_params": {**params, "cursor": CURSOR},
        },
    )


FINALITY_VALUE = {
    "block_number": 12,
    "stage": "superfinal",
    "keystone_number": 25,
    "keystone_produced": True,
    "anchoring_keystone_number": 25,
    "publication_height": 105,
    "bitcoin_tip_height": 115,
    "effective_confirmations": 10,
    "super_finality": True,
    "btc_finality": 2,
    "waiting_for": None,
}
FINALITY = _example("superfinal block", FINALITY_VALUE)

BLOCK_ITEM = {
    "height": 12,
    "hash": H,
    "parent_hash": "0x" + "4d" * 32,
    "timestamp": T,
    "miner": "0x" + "00" * 20,
    "transactions_count": 3,
    "gas_used": "84211",
    "gas_limit": "30000000",
    "base_fee_per_gas": "1000000",
    "l1_origin_number": 1001,
    "is_keystone": False,
    "finality": FINALITY_VALUE,
}
BLOCK_PAGE = _page("blocks", BLOCK_ITEM, "blocks", limit=25)
BLOCK = _example(
    "a superfinal block",
    {
        **{k: v for k, v in BLOCK_ITEM.items() if k not in ("is_keystone", "finality")},
        "state_root": "0x" + "51" * 32,
        "transactions_root": "0x" + "52" * 32,
        "receipts_root": "0x" + "53" * 32,
        "canonical": True,
        "type": "block",
        "keystone_number": 25,
        "finality_stage": "superfinal",
        "super_finality": True,
        "integrity": [],
    },
)

TX_ITEM = {
    "hash": TX,
    "block_number": 12,
    "block_hash": H,
    "timestamp": T,
    "position": 1,
    "type": 2,
    "from": "0x" + "01" * 20,
    "to": "0x" + "ee" * 20,
    "created_contract": None,
    "value": "0",
    "nonce": "7",
    "gas_limit": "100000",
    "gas_used": "50000",
    "gas_price": None,
    "status": "ok",
    "fee": "107000",
    "canonical": True,
}
TRANSACTION_PAGE = _page("transactions", TX_ITEM, "blocks/12/transactions")
TOKEN_SUMMARY = {"address": TOKEN_ADDR, "name": "Hemi Bitcoin", "symbol": "hemiBTC", "decimals": 8, "type": "ERC-20"}
TRANSFER_INLINE = {
    "log_index": 1,
    "token": TOKEN_SUMMARY,
    "from": "0x" + "00" * 20,
    "to": ADDR,
    "value": "9990000000",
    "token_id": None,
}
DECODED = {
    "method_call": "confirmDeposit(uint32,bytes32,uint256,bytes)",
    "name": "confirmDeposit",
    "parameters": [{"name": "vault_index", "type": "uint32", "value": "0"}],
    "error": None,
}
TRANSACTION = _example(
    "a hemiBTC mint",
    {
        **TX_ITEM,
        "type_name": "dynamic fee (EIP-1559)",
        "max_fee_per_gas": "3",
        "max_priority_fee_per_gas": "1",
        "effective_gas_price": "2",
        "cumulative_gas_used": "71000",
        "fees": {"execution": "100000", "l1": "7000", "total": "107000"},
        "l1_fee": "7000",
        "l1_gas_used": "1600",
        "l1_gas_price": "3",
        "l1_blob_base_fee": None,
        "l1_base_fee_scalar": None,
        "l1_blob_base_fee_scalar": None,
        "l1_fee_scalar": None,
        "raw_input": "0x",
        "decoded_input": DECODED,
        "system_fields": None,
        "token_transfers": [TRANSFER_INLINE],
        "token_transfers_overflow": False,
        "mints": [{"log_index": 0, "deposit_txid": BTC, "provenance": f"/api/v1/provenance/mint/{TX}"}],
    },
)
LOG_PAGE = _page(
    "logs",
    {
        "index": 0,
        "address": "0x" + "ee" * 20,
        "topics": ["0x" + "ab" * 32, "0x" + "00" * 12 + "ba" * 20],
        "data": "0x",
        "decoded": None,
    },
    f"transactions/{TX}/logs",
)
ADDRESS = _example("a token holder", {"hash": ADDR, "is_contract": False, "first_seen_block": 12, "token": None})
TRANSFER_PAGE = _page(
    "token transfers",
    {**TRANSFER_INLINE, "transaction_hash": TX, "block_number": 12, "timestamp": T, "canonical": True},
    f"addresses/{ADDR}/token-transfers",
)
BALANCE_PAGE = _page("balances", {"token": TOKEN_SUMMARY, "value": "9990000000"}, f"addresses/{ADDR}/token-balances")
TOKEN_ITEM = {**TOKEN_SUMMARY, "total_supply": "9990000000", "first_seen_block": 12}
TOKEN_PAGE = _page("tokens", TOKEN_ITEM, "tokens")
TOKEN = _example(
    "hemiBTC",
    {
        **TOKEN_ITEM,
        "metadata_problems": "",
        "holders_count": 1,
        "holders_count_capped": False,
        "transfers_count": 1,
        "transfers_count_capped": False,
        "is_hemibtc": True,
    },
)
HOLDER_PAGE = _page("holders", {"address": ADDR, "value": "9990000000"}, f"tokens/{TOKEN_ADDR}/holders")
KEYSTONE_ITEM = {
    "number": 25,
    "keystone_id": "9c" * 32,
    "block_hash": H,
    "timestamp": T,
    "l1_block_number": 1002,
    "parent_ep_hash": "0x" + "41" * 32,
    "prev_ep_keystone_hash": "0x" + "00" * 32,
    "state_root": "0x" + "51" * 32,
    "ep_hash": H,
    "abbreviation": "0x01" + "00" * 75,
    "canonical": True,
    "finality": {**FINALITY_VALUE, "block_number": 25},
}
KEYSTONE_PAGE = _page("keystones", KEYSTONE_ITEM, "keystones")
KEYSTONE = _example("a keystone", {**KEYSTONE_ITEM, "alerts": []})
POP_ITEM = {
    "txid": BTC,
    "vout": 1,
    "block_hash": "4a" * 32,
    "block_height": 105,
    "in_best_chain": True,
    "format": "v1",
    "keystone_id": "9c" * 32,
    "l2_block_number": 25,
    "l1_block_number": 1002,
    "payload": "0x01" + "00" * 75,
    "parent_ep_hash_prefix": "0x" + "41" * 12,
    "prev_keystone_ep_hash_prefix": "0x" + "00" * 12,
    "state_root": "0x" + "51" * 32,
    "ep_hash_prefix": "0x" + "5e" * 12,
    "miner_pubkey": None,
    "miner_hemi_address": None,
}
POP_PAGE = _page("publications", POP_ITEM, "pop-publications")
BTC_BLOCK_VALUE = {
    "id": "4a" * 32,
    "height": 105,
    "version": 536870912,
    "timestamp": 1700063000,
    "bits": 545259519,
    "nonce": 0,
    "merkle_root": "6d" * 32,
    "previousblockhash": "49" * 32,
    "chainwork": "212",
    "in_best_chain": True,
    "tx_count": 2,
    "size": 512,
}
BTC_BLOCK = _example("a regtest block", BTC_BLOCK_VALUE)
BTC_BLOCK_PAGE = _page("Bitcoin blocks", BTC_BLOCK_VALUE, "bitcoin/blocks")
BTC_TX_ITEM = {
    "txid": BTC,
    "block_hash": "4a" * 32,
    "block_height": 101,
    "block_time": 1700060600,
    "position": 1,
    "in_best_chain": True,
}
BTC_TX_PAGE = _page("stored transactions", BTC_TX_ITEM, f"bitcoin/blocks/{'4a' * 32}/transactions")
BTC_TX = _example(
    "a tunnel deposit",
    {
        **BTC_TX_ITEM,
        "pop_publications": [],
        "deposit": {"vout": 0, "value": "10000000000", "vault": VAULT, "recipient": ADDR},
        "payout": None,
    },
)
COMPUTED_AT = {
    "bitcoin_height": 113,
    "bitcoin_hash": "5b" * 32,
    "hemi_block": 60,
    "hemi_hash": "0x" + "6c" * 32,
    "at": "2023-11-15T16:00:00Z",
}
MINT_ITEM = {
    "transaction_hash": TX,
    "log_index": 0,
    "block_number": 12,
    "timestamp": T,
    "vault": VAULT,
    "recipient": ADDR,
    "deposit_txid": BTC,
    "deposit_sats": "10000000000",
    "net_sats": "9990000000",
    "canonical": True,
    "verdict": "verified",
    "reason": None,
    "computed_at": COMPUTED_AT,
    "finality_stage": "superfinal",
    "provenance": f"/api/v1/provenance/mint/{TX}",
}
MINT_PAGE = _page("mints", MINT_ITEM, "tunnel/mints")
DEPOSIT_PAGE = _page(
    "deposits",
    {
        "txid": BTC,
        "vout": 0,
        "block_hash": "4a" * 32,
        "block_height": 101,
        "block_time": 1700060600,
        "in_best_chain": True,
        "vault": VAULT,
        "custody_address": "bcrt1q...",
        "value_sats": "10000000000",
        "recipient": ADDR,
        "verdict": "verified",
        "reason": None,
        "computed_at": COMPUTED_AT,
        "stage": "minted",
        "mint_transaction_hash": TX,
    },
    "tunnel/deposits",
)
WITHDRAWAL_PAGE = _page(
    "withdrawals",
    {
        "uuid": "3",
        "transaction_hash": TX,
        "block_number": 5,
        "timestamp": T,
        "vault": VAULT,
        "withdrawer": "0x" + "07" * 20,
        "btc_address": "RAxgMnwsw5ikxfXoDekC6DDD5ppygc76AP",
        "withdrawal_sats": "10000000",
        "net_sats": "9990000",
        "status": "finalized",
        "verdict": "verified",
        "reason": None,
        "computed_at": COMPUTED_AT,
        "evidence": {"uuid": 3, "vault_index": 0, "withdrawal_index": 3, "payout_txid": BTC, "payout_height": 103},
    },
    "tunnel/withdrawals",
)
_LINK = {
    "name": "Hemi block",
    "verdict": "verified",
    "reason": None,
    "checks": [
        {
            "name": "block is canonical",
            "verdict": "verified",
            "detail": "block 12 on our canonical chain",
            "expected": None,
            "found": None,
        },
    ],
    "evidence": {"number": 12, "hash": H},
}
_TIMELINE = [
    {"stage": "produced", "done": True, "detail": "Hemi block 12", "timestamp": 1700000024},
    {"stage": "superfinal", "done": True, "detail": "superfinal", "timestamp": None},
]
PROVENANCE = _example(
    "a verified mint",
    {
        "subject": f"mint {TX}",
        "verdict": "verified",
        "links": [_LINK],
        "finality": FINALITY_VALUE,
        "timeline": _TIMELINE,
        "alerts": [],
    },
)
BLOCK_PROVENANCE = _example(
    "a superfinal block",
    {
        "subject": "Hemi block 12",
        "verdict": "verified",
        "links": [_LINK],
        "finality": FINALITY_VALUE,
        "timeline": _TIMELINE,
        "alerts": [],
    },
)
SEARCH = _example(
    "a block number",
    {
        "query": "12",
        "items": [{"type": "Hemi block", "label": "Hemi block 12", "url": "/block/12?q=12", "detail": "", "links": []}],
        "redirect": "/block/12?q=12",
    },
)
STATUS = _example(
    "both chains indexed",
    {
        "network": "devnet",
        "chains": [
            {
                "chain": "hemi",
                "cursor_height": 412,
                "cursor_hash": H,
                "updated_at": "2026-01-15T10:32:50Z",
                "node_tip_height": 413,
                "node_tip_age_seconds": 4.2,
                "lag": 1,
            },
            {
                "chain": "bitcoin",
                "cursor_height": 230,
                "cursor_hash": "4a" * 32,
                "updated_at": "2026-01-15T10:32:49Z",
                "node_tip_height": None,
                "node_tip_age_seconds": None,
                "lag": None,
            },
        ],
        "alerts": [],
    },
)
_RESERVE_Q = "at_btc_height=230&at_hemi_block=412&min_confirmations=1"
RESERVES = _example(
    "balanced after a lock and a withdrawal",
    {
        "position": {
            "btc_height": 230,
            "hemi_block": 412,
            "min_confirmations": 1,
            "btc_counted_to": 230,
            "paired": "the newest Hemi block whose hVM view is indexed; Bitcoin height of the Hemi block's hVM view",
        },
        "status": "balanced",
        "complete": True,
        "waiting_for": [],
        "alert": None,
        "held_sats": "10009989000",
        "held_rows": 2,
        "held_rows_url": f"/reserves/rows/held?{_RESERVE_Q}",
        "supply_sats": "9970000000",
        "supply_rows_url": f"/reserves/rows/supply?{_RESERVE_Q}",
        "terms": [
            {"key": key, "label": label, "sign": sign, "sats": sats, "rows": rows,
             "rows_url": f"/reserves/rows/{key}?{_RESERVE_Q}", "explains": explains}
            for key, label, sign, sats, rows, explains in [
                ("deposits_not_yet_minted", "deposits not yet minted", "+", "0", 0,
                 "Bitcoin deposited into a vault that no hemiBTC mint credits (yet)"),
                ("withdrawals_unpaid", "withdrawals initiated but not yet paid", "+", "0", 0,
                 "hemiBTC burnt whose Bitcoin payout (amount - fee) the vault still owes"),
                ("deposit_fees", "deposit fees retained", "+", "30000000", 1, "deposited - minted, kept by the vault"),
                ("withdrawal_fees", "withdrawal fees retained", "+", "10000000", 1,
                 "burnt - paid out, kept by the vault"),
                ("network_fees", "Bitcoin network fees paid by the vaults", "-", "11000", 1,
                 "inputs - outputs of vault spends (payouts, consolidations)"),
            ]
        ],
        "obligations_sats": "10009989000",
        "difference_sats": "0",
        "findings": [
            {"key": "unbacked_mints", "label": "mints without a counted Bitcoin deposit", "sats": "0", "rows": 0,
             "rows_url": f"/reserves/rows/unbacked_mints?{_RESERVE_Q}",
             "explains": "hemiBTC minted for a deposit not held at this position"},
        ],
    },
)  # fmt: skip
