"""``/api/v2/search?q=``: Blockscout's search items for what the read layer finds. Anything
that is not an identifier or a token name is simply no hit (upstream answers an empty list)."""

from __future__ import annotations

from django.urls import reverse
from eth_utils import to_checksum_address

from explorer.api.blockscout.shapes import iso
from explorer.params import digits
from explorer.queries import addresses, blocks, tokens, transactions

MAX_QUERY_CHARS = 200
_HEX = frozenset("0123456789abcdefABCDEF")


def _token_item(token) -> dict:
    address = to_checksum_address(bytes(token.address))
    return {
        "type": "token", "url": reverse("explorer:token", args=[address.lower()]), "address_hash": address,
        "address": address, "name": token.name or None, "symbol": token.symbol or None,
        "token_type": {"erc20": "ERC-20", "erc721": "ERC-721"}.get(token.standard, token.standard),
        "is_smart_contract_verified": None,
    }  # fmt: skip


def _block_item(block) -> dict:
    return {"type": "block", "url": reverse("explorer:block", args=[str(block.number)]), "block_number": block.number,
            "block_hash": "0x" + bytes(block.hash).hex(), "timestamp": iso(block.timestamp)}  # fmt: skip


def search_items(raw: str) -> list[dict]:
    q = raw.strip()
    if not q or len(q) > MAX_QUERY_CHARS or any(ord(c) < 0x20 or ord(c) == 0x7F for c in q):
        return []
    if digits(q) and len(q) <= 18:
        block = blocks.get_block_by_number(int(q))
        return [_block_item(block)] if block is not None else []
    body = q[2:] if q[:2].lower() == "0x" else None
    if body is not None and all(c in _HEX for c in body):
        value = bytes.fromhex(body) if len(body) in (40, 64) else None
        if value is None:
            return []
        if len(value) == 20:
            token = tokens.get_token(value)
            if token is not None:
                return [_token_item(token)]
            known = addresses.get_address(value)
            if known is None:
                return []
            address = to_checksum_address(value)
            return [{"type": "contract" if known.is_contract else "address", "address_hash": address,
                     "address": address, "url": reverse("explorer:address", args=["0x" + value.hex()]),
                     "is_smart_contract_verified": None, "name": None}]  # fmt: skip
        items = []
        block = blocks.get_block_by_hash(value)
        if block is not None:
            items.append(_block_item(block))
        tx = transactions.get_transaction(value)
        if tx is not None:
            hash0x = "0x" + value.hex()
            url = reverse("explorer:tx", args=[hash0x])
            items.append({"type": "transaction", "url": url, "transaction_hash": hash0x, "tx_hash": hash0x,
                          "timestamp": iso(tx.block.timestamp)})  # fmt: skip
        return items
    return [_token_item(t) for t in tokens.search_tokens(q)]
