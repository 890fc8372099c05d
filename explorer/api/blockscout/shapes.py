"""Blockscout v2's JSON shapes, built from our rows, with the older names Hemi's fork (v6.9.0)
still serves as aliases (``tx_count``, ``tx_fees``, ``tx_hash``, ``tx_burnt_fee``, ``tx_types``)
and its ``btc_finality``.

Upstream conventions: addresses as objects (``{"hash": <EIP-55 checksum>, ...}``), numbers that
can exceed 2^53 as decimal strings, times ISO 8601. Fields Hemiscope does not index (block
``size``, traces, ``coin_balance``, ``revert_reason``, ...) are present as ``null``, and the
schema says "not indexed".
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from eth_utils import to_checksum_address

from explorer import decoding
from explorer.finality import Finality
from explorer.queries import transactions as tx_queries
from indexer.hemi.models import Block, Log, Token, TokenBalance, TokenTransfer, Transaction

NOT_INDEXED = "Not indexed by Hemiscope: always null."
_ZERO_ADDRESS = bytes(20)


def _hex(value) -> str:
    return "0x" + bytes(value).hex()


def _str(value) -> str | None:
    return None if value is None else str(int(value))


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).isoformat().replace("+00:00", "Z")


def address_json(address, *, is_contract: bool | None = None) -> dict | None:
    if address is None:
        return None
    return {
        "hash": to_checksum_address(bytes(address)),
        "is_contract": is_contract,
        "name": None,
        "implementations": [],
        "is_verified": None,
        "ens_domain_name": None,
        "metadata": None,
        "private_tags": [],
        "public_tags": [],
        "watchlist_names": [],
    }


def _percent(part, whole) -> float | None:
    if part is None or not whole:
        return None
    return float(Decimal(int(part)) * 100 / Decimal(int(whole)))


def block_json(block: Block, finality: Finality | None, fees: int | None) -> dict:
    burnt = None if block.base_fee_per_gas is None else int(block.base_fee_per_gas) * int(block.gas_used)
    return {
        "height": block.number,
        "hash": _hex(block.hash),
        "parent_hash": _hex(block.parent_hash),
        "timestamp": iso(block.timestamp),
        "transactions_count": block.tx_count,
        "tx_count": block.tx_count,
        "internal_transactions_count": None,
        "miner": address_json(block.miner),
        "size": None,
        "difficulty": None,
        "total_difficulty": None,
        "nonce": None,
        "gas_used": str(block.gas_used),
        "gas_limit": str(block.gas_limit),
        "base_fee_per_gas": _str(block.base_fee_per_gas),
        "burnt_fees": _str(burnt),
        "priority_fee": None,
        "uncles_hashes": [],
        "rewards": [],
        "gas_target_percentage": None,
        "gas_used_percentage": _percent(block.gas_used, block.gas_limit),
        "burnt_fees_percentage": _percent(burnt, fees) if burnt is not None and fees else None,
        "type": "block" if block.canonical else "reorg",
        "transaction_fees": _str(fees),
        "tx_fees": _str(fees),
        "withdrawals_count": None,
        "is_pending_update": False,
        "btc_finality": None if finality is None else finality.legacy_btc_finality,
    }


def _tx_types(tx: Transaction) -> list[str]:
    types = []
    if tx.contract_address is not None:
        types.append("contract_creation")
    if tx.to is not None and len(bytes(tx.input)) >= 4:
        types.append("contract_call")
    if int(tx.value) > 0:
        types.append("coin_transfer")
    return types


def _decoded_input(decoded: decoding.Decoded | None, tx_input: bytes) -> dict | None:
    if decoded is None or decoded.error:
        return None
    return {
        "method_call": decoded.signature,
        "method_id": tx_input[:4].hex(),
        "parameters": [{"name": n, "type": t, "value": v} for n, t, v in decoded.args],
    }


def transaction_json(detail: tx_queries.TransactionDetail, tip: int | None, transfers_json: list[dict]) -> dict:
    tx = detail.tx
    failed = tx.status == 0
    price = tx.effective_gas_price if tx.effective_gas_price is not None else tx.gas_price
    base_fee = tx.block.base_fee_per_gas
    burnt = None if base_fee is None else int(base_fee) * int(tx.gas_used)
    priority = None if price is None or base_fee is None else max(0, int(price) - int(base_fee)) * int(tx.gas_used)
    tx_input = bytes(tx.input)
    decoded = detail.decoded_input
    confirmations = tip - tx.block.number + 1 if tip is not None and tx.canonical and tip >= tx.block.number else 0
    return {
        "hash": _hex(tx.hash),
        "result": "pending" if tx.status is None else ("error" if failed else "success"),
        "status": None if tx.status is None else ("error" if failed else "ok"),
        "block_number": tx.block.number,
        "block": tx.block.number,
        "block_hash": _hex(tx.block.hash),
        "timestamp": iso(tx.block.timestamp),
        "from": address_json(tx.sender),
        "to": address_json(tx.to, is_contract=None),
        "created_contract": address_json(tx.contract_address, is_contract=True),
        "confirmations": confirmations,
        "confirmation_duration": None,
        "value": str(tx.value),
        "fee": {"type": "actual", "value": _str(detail.fee.total_wei)},
        "l1_fee": _str(tx.l1_fee),
        "gas_price": _str(price),
        "type": tx.type,
        "gas_used": str(tx.gas_used),
        "gas_limit": str(tx.gas),
        "max_fee_per_gas": _str(tx.max_fee_per_gas),
        "max_priority_fee_per_gas": _str(tx.max_priority_fee_per_gas),
        "base_fee_per_gas": _str(base_fee),
        "priority_fee": _str(priority),
        "transaction_burnt_fee": _str(burnt),
        "tx_burnt_fee": _str(burnt),
        "nonce": None if tx.nonce is None else int(tx.nonce),
        "position": tx.index,
        "revert_reason": None,
        "raw_input": _hex(tx_input),
        "decoded_input": _decoded_input(decoded, tx_input),
        "token_transfers": transfers_json,
        "token_transfers_overflow": detail.transfers_overflow,
        "method": decoded.name if decoded is not None else (tx_input[:4].hex() if len(tx_input) >= 4 else None),
        "transaction_types": _tx_types(tx),
        "tx_types": _tx_types(tx),
        "transaction_tag": None,
        "has_error_in_internal_transactions": None,
        "is_pending_update": False,
        "actions": [],
        "exchange_rate": None,
    }


def transaction_summary_json(tx: Transaction, tip: int | None) -> dict:
    """A list item: the transaction fields that need no extra query (no logs, no transfers)."""
    detail = tx_queries.TransactionDetail(
        tx=tx, type_name="", fee=tx_queries.fee_of(tx),
        decoded_input=decoding.decode_input(bytes(tx.input)), system=None,
    )  # fmt: skip
    body = transaction_json(detail, tip, [])
    body["token_transfers"] = None  # not inlined in lists, as upstream
    return body


def token_json(token: Token, holders: tuple[int, bool] | None = None) -> dict:
    address = to_checksum_address(bytes(token.address))
    count = None if holders is None else str(holders[0])
    return {
        "address": address,
        "address_hash": address,
        "name": token.name or None,
        "symbol": token.symbol or None,
        "decimals": None if token.decimals is None else str(token.decimals),
        "type": {"erc20": "ERC-20", "erc721": "ERC-721"}.get(token.standard, token.standard),
        "total_supply": _str(token.total_supply),
        "holders": count,
        "holders_count": count,
        "exchange_rate": None,
        "volume_24h": None,
        "circulating_market_cap": None,
        "icon_url": None,
    }


def token_transfer_json(t: TokenTransfer) -> dict:
    tx = t.log.transaction
    if bytes(t.sender) == _ZERO_ADDRESS:
        kind = "token_minting"
    elif bytes(t.recipient) == _ZERO_ADDRESS:
        kind = "token_burning"
    else:
        kind = "token_transfer"
    if t.nft_id is not None:
        total = {"token_id": str(t.nft_id)}
    else:
        total = {"decimals": None if t.token.decimals is None else str(t.token.decimals), "value": _str(t.value)}
    return {
        "transaction_hash": _hex(tx.hash),
        "tx_hash": _hex(tx.hash),
        "from": address_json(t.sender),
        "to": address_json(t.recipient),
        "total": total,
        "token": token_json(t.token),
        "type": kind,
        "timestamp": iso(t.block.timestamp),
        "block_hash": _hex(t.block.hash),
        "block_number": t.block.number,
        "log_index": t.log.log_index,
        "method": None,
    }


def log_json(log: Log, tx: Transaction) -> dict:
    topics = [log.topic0, log.topic1, log.topic2, log.topic3]
    decoded = decoding.decode_log(tuple(topics), bytes(log.data))
    return {
        "address": address_json(log.address),
        "topics": [None if t is None else _hex(t) for t in topics],
        "data": _hex(log.data),
        "decoded": None
        if decoded is None or decoded.error
        else {
            "method_call": decoded.signature,
            "method_id": None if log.topic0 is None else bytes(log.topic0)[:4].hex(),
            "parameters": [{"name": n, "type": t, "value": v, "indexed": None} for n, t, v in decoded.args],
        },
        "index": log.log_index,
        "transaction_hash": _hex(tx.hash),
        "tx_hash": _hex(tx.hash),
        "block_number": tx.block.number,
        "block_hash": _hex(tx.block.hash),
        "smart_contract": None,
    }


def holder_json(balance: TokenBalance, token: Token) -> dict:
    return {
        "address": address_json(balance.holder),
        "value": str(balance.balance),
        "token_id": None,
        "token": token_json(token),
    }
