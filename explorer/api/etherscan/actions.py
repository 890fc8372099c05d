"""The Etherscan-style actions Hemiscope answers, each ``(query) -> result`` over the read layer.

Upstream conventions (Etherscan, and Blockscout's implementation of it): every value is a
string (numbers in decimal, hashes and addresses 0x-hex); ``page``/``offset`` paging with
``page x offset <= 10 000``; ``sort=asc|desc`` (asc by default); an empty list is a failure
envelope ("No transactions found"). A malformed parameter raises :class:`ActionError`, which
the view turns into ``{"status": "0", "message": "NOTOK", "result": "<reason>"}`` with HTTP 200.
"""

from __future__ import annotations

from collections.abc import Callable

from explorer import decoding
from explorer.params import digits
from explorer.queries import addresses, blocks, offset_pages, tokens, transactions
from explorer.queries.offset_pages import MAX_WINDOW, Window
from indexer.hemi.models import Log, TokenTransfer, Transaction

DEFAULT_OFFSET = 10_000  # upstream: without page/offset, the first 10 000 rows


class ActionError(ValueError):
    """A request upstream answers with status "0": the message is the envelope's ``result``."""


class NoRecords(Exception):
    """An empty result: upstream answers ``status: "0"`` with this message and an empty list."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _hex(value) -> str:
    return "0x" + bytes(value).hex()


def _address(query, name: str, *, required: bool = True) -> bytes | None:
    text = (query.get(name) or "").strip()
    if not text:
        if required:
            raise ActionError(f"Error! Missing {name}")
        return None
    body = text[2:] if text[:2].lower() == "0x" else ""
    if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ActionError(f"Error! Invalid {name} format")
    return bytes.fromhex(body)


def _hash(query, name: str) -> bytes:
    text = (query.get(name) or "").strip()
    body = text[2:] if text[:2].lower() == "0x" else ""
    if len(body) != 64 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ActionError(f"Error! Invalid {name} format" if text else f"Error! Missing {name}")
    return bytes.fromhex(body)


def _uint(query, name: str, default: int | None = None) -> int | None:
    text = (query.get(name) or "").strip()
    if not text:
        return default
    if not digits(text) or len(text) > 19:
        raise ActionError(f"Error! Invalid {name}: must be a non-negative integer")
    return int(text)


def _block_param(query, name: str) -> int | None:
    """Block numbers as upstream takes them: decimal, 0x-hex, or "latest" (no bound)."""
    text = (query.get(name) or "").strip().lower()
    if text in ("", "latest"):
        return None
    if text.startswith("0x") and 2 < len(text) <= 18 and all(c in "0123456789abcdef" for c in text[2:]):
        return int(text, 16)
    return _uint(query, name)


def window(query) -> Window:
    page = _uint(query, "page", 1)
    offset = _uint(query, "offset", None)
    if page < 1:
        raise ActionError("Error! Invalid page: must be 1 or more")
    if offset is None:
        page, offset = 1, DEFAULT_OFFSET
    if offset < 1:
        raise ActionError("Error! Invalid offset: must be 1 or more")
    if page * offset > MAX_WINDOW:
        # Upstream's own wording, which clients match on.
        raise ActionError(
            f"Result window is too large, PageNo x Offset size must be less than or equal to {MAX_WINDOW}"
        )
    sort = (query.get("sort") or "asc").strip().lower()
    if sort not in ("asc", "desc"):
        raise ActionError("Error! Invalid sort: asc or desc")
    blocks_range = (_block_param(query, "startblock"), _block_param(query, "endblock"))
    return Window((page - 1) * offset, offset, sort == "asc", blocks_range)


# --- account ---------------------------------------------------------------------------------------


def _confirmations(number: int, tip: int | None) -> str:
    return str(tip - number + 1) if tip is not None and tip >= number else "0"


def _method(tx_input: bytes) -> tuple[str, str]:
    if len(tx_input) < 4:
        return "0x", ""
    decoded = decoding.decode_input(tx_input)
    return _hex(tx_input[:4]), (decoded.signature if decoded is not None else "")


def _tx_item(tx: Transaction, tip: int | None) -> dict:
    tx_input = bytes(tx.input)
    method_id, function_name = _method(tx_input)
    failed = tx.status == 0
    price = tx.effective_gas_price if tx.effective_gas_price is not None else tx.gas_price
    return {
        "blockNumber": str(tx.block.number),
        "timeStamp": str(tx.block.timestamp),
        "hash": _hex(tx.hash),
        "nonce": "" if tx.nonce is None else str(tx.nonce),
        "blockHash": _hex(tx.block.hash),
        "transactionIndex": str(tx.index),
        "from": _hex(tx.sender),
        "to": "" if tx.to is None else _hex(tx.to),
        "value": str(tx.value),
        "gas": str(tx.gas),
        "gasPrice": "" if price is None else str(price),
        "isError": "1" if failed else "0",
        "txreceipt_status": "" if tx.status is None else str(tx.status),
        "input": _hex(tx_input),
        "contractAddress": "" if tx.contract_address is None else _hex(tx.contract_address),
        "cumulativeGasUsed": str(tx.cumulative_gas_used),
        "gasUsed": str(tx.gas_used),
        "confirmations": _confirmations(tx.block.number, tip),
        "methodId": method_id,
        "functionName": function_name,
    }


def txlist(query) -> list[dict]:
    address = _address(query, "address")
    rows = offset_pages.address_transactions(address, window(query))
    if not rows:
        raise NoRecords("No transactions found")
    tip = blocks.tip_number()
    return [_tx_item(tx, tip) for tx in rows]


def _transfer_item(t: TokenTransfer, tip: int | None) -> dict:
    tx = t.log.transaction
    price = tx.effective_gas_price if tx.effective_gas_price is not None else tx.gas_price
    item = {
        "blockNumber": str(t.block.number),
        "timeStamp": str(t.block.timestamp),
        "hash": _hex(tx.hash),
        "nonce": "" if tx.nonce is None else str(tx.nonce),
        "blockHash": _hex(t.block.hash),
        "from": _hex(t.sender),
        "contractAddress": _hex(t.token.address),
        "to": _hex(t.recipient),
        "value": "" if t.value is None else str(t.value),
        "tokenName": t.token.name,
        "tokenSymbol": t.token.symbol,
        "tokenDecimal": "" if t.token.decimals is None else str(t.token.decimals),
        "transactionIndex": str(tx.index),
        "gas": str(tx.gas),
        "gasPrice": "" if price is None else str(price),
        "gasUsed": str(tx.gas_used),
        "cumulativeGasUsed": str(tx.cumulative_gas_used),
        "input": "deprecated",
        "confirmations": _confirmations(t.block.number, tip),
        "logIndex": str(t.log.log_index),
    }
    if t.nft_id is not None:
        item["tokenID"] = str(t.nft_id)
    return item


def tokentx(query) -> list[dict]:
    address = _address(query, "address", required=False)
    contract = _address(query, "contractaddress", required=False)
    if address is None and contract is None:
        raise ActionError("Error! Missing address or contractaddress")
    token_id = None
    if contract is not None:
        token = tokens.get_token(contract)
        if token is None:
            raise NoRecords("No token transfers found")
        token_id = token.id
    rows = offset_pages.token_transfers(address, token_id, window(query))
    if not rows:
        raise NoRecords("No token transfers found")
    tip = blocks.tip_number()
    return [_transfer_item(t, tip) for t in rows]


def tokenbalance(query) -> str:
    contract = _address(query, "contractaddress")
    holder = _address(query, "address")
    token = tokens.get_token(contract)
    if token is None:
        raise ActionError("Error! Token not found")
    balance = addresses.balance_of(holder, token.id)
    return "0" if balance is None else str(balance.balance)


# --- block -----------------------------------------------------------------------------------------


def getblocknobytime(query) -> dict:
    timestamp = _uint(query, "timestamp")
    if timestamp is None:
        raise ActionError("Error! Missing timestamp")
    closest = (query.get("closest") or "").strip().lower()
    if closest not in ("before", "after"):
        raise ActionError("Error! Invalid closest: before or after")
    number = offset_pages.block_number_at_time(timestamp, closest)
    if number is None:
        raise ActionError("Error! No closest block found")
    return {"blockNumber": str(number)}


def eth_block_number(query) -> str:
    tip = blocks.tip_number()
    if tip is None:
        raise ActionError("Error! No blocks indexed yet")
    return hex(tip)


# --- logs ------------------------------------------------------------------------------------------

LOGS_MAX = 1_000  # upstream returns at most 1 000 logs per request


def _log_item(log: Log) -> dict:
    tx = log.transaction
    price = tx.effective_gas_price if tx.effective_gas_price is not None else tx.gas_price
    topics = [log.topic0, log.topic1, log.topic2, log.topic3]
    return {
        "address": _hex(log.address),
        "topics": [_hex(t) for t in topics if t is not None],
        "data": _hex(log.data),
        "blockNumber": hex(log.block.number),
        "blockHash": _hex(log.block.hash),
        "timeStamp": hex(log.block.timestamp),
        "gasPrice": "0x" if price is None else hex(int(price)),
        "gasUsed": hex(int(tx.gas_used)),
        "logIndex": hex(log.log_index),
        "transactionHash": _hex(tx.hash),
        "transactionIndex": hex(tx.index),
    }


def getlogs(query) -> list[dict]:
    address = _address(query, "address", required=False)
    topics = {}
    for position in range(4):
        text = (query.get(f"topic{position}") or "").strip()
        if text:
            topics[position] = _hash(query, f"topic{position}")
    for name in query:
        # Only "and" combinations are served; an "or" would silently widen the result.
        if name.endswith("_opr") and (query.get(name) or "and").strip().lower() != "and":
            raise ActionError(f"Error! {name}: only 'and' is supported")
    if address is None and not topics:
        raise ActionError("Error! Missing address or topic")
    w = window({**{k: query.get(k) for k in query}, "startblock": query.get("fromBlock"),
                "endblock": query.get("toBlock"), "offset": query.get("offset") or str(LOGS_MAX)})  # fmt: skip
    rows = offset_pages.logs(address, topics, Window(w.start, min(w.size, LOGS_MAX), w.ascending, w.blocks))
    if not rows:
        raise NoRecords("No records found")
    return [_log_item(log) for log in rows]


# --- token, transaction ----------------------------------------------------------------------------


def gettoken(query) -> dict:
    token = tokens.get_token(_address(query, "contractaddress"))
    if token is None:
        raise ActionError("Error! Token not found")
    return {
        "cataloged": True,
        "contractAddress": _hex(token.address),
        "decimals": "" if token.decimals is None else str(token.decimals),
        "name": token.name,
        "symbol": token.symbol,
        "totalSupply": "" if token.total_supply is None else str(token.total_supply),
        "type": {"erc20": "ERC-20", "erc721": "ERC-721"}.get(token.standard, token.standard),
    }


def gettxreceiptstatus(query) -> dict:
    tx = transactions.get_transaction(_hash(query, "txhash"))
    if tx is None:
        raise ActionError("Error! Transaction not found")
    return {"status": "" if tx.status is None else str(tx.status)}


ACTIONS: dict[tuple[str, str], Callable] = {
    ("account", "txlist"): txlist,
    ("account", "tokentx"): tokentx,
    ("account", "tokenbalance"): tokenbalance,
    ("block", "getblocknobytime"): getblocknobytime,
    ("block", "eth_block_number"): eth_block_number,
    ("logs", "getlogs"): getlogs,
    ("token", "gettoken"): gettoken,
    ("transaction", "gettxreceiptstatus"): gettxreceiptstatus,
}
