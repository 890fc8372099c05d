"""Search: classify what the user typed, look every reading of it up, return the hits.

Accepted (``GET /search?q=``): a Hemi block number or hash, a transaction hash, an address,
a token name or symbol prefix, a Bitcoin block hash or txid (either byte order), a Bitcoin
height as ``btc:N`` and a keystone id (display order, or internal). A 64-hex string is tried
as every hash kind at once (one indexed lookup each). Malformed input raises BadParameter
with the reason; nothing here raises anything else for any string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.urls import reverse

from explorer.params import BadParameter, digits
from explorer.queries import bitcoin, blocks, keystones, tokens, transactions
from indexer.bitcoin.models import PopPublication, TunnelDeposit
from indexer.hemi.models import Address, DepositConfirmation

MAX_QUERY_CHARS = 200
MAX_INTEGER = 2**63 - 1
_HEX = re.compile(r"[0-9a-fA-F]*")


@dataclass(frozen=True)
class Hit:
    kind: str  # "Hemi block", "transaction", "address", "token", "keystone", "Bitcoin block", ...
    label: str
    url: str | None  # None: shown inline on the results page (no page of its own yet)
    detail: str = ""
    links: tuple[tuple[str, str], ...] = ()  # (text, url) related pages


@dataclass
class SearchResult:
    query: str
    hits: list[Hit] = field(default_factory=list)
    see_also: list[tuple[str, str]] = field(default_factory=list)  # (text, url)

    @property
    def redirect(self) -> str | None:
        """Where a unique hit with a page of its own sends the user."""
        if len(self.hits) == 1 and self.hits[0].url:
            return self.hits[0].url
        return None


def _int(text: str, what: str) -> int:
    if not digits(text):
        raise BadParameter(f"q: {what} must be a non-negative whole number, got {text!r}")
    value = int(text)
    if value > MAX_INTEGER:
        raise BadParameter(f"q: {what} is too large")
    return value


def search(raw: str | None) -> SearchResult:
    q = (raw or "").strip()
    if not q:
        raise BadParameter("q: type a block number, hash, address, token name or btc:HEIGHT")
    if len(q) > MAX_QUERY_CHARS:
        raise BadParameter(f"q: longer than {MAX_QUERY_CHARS} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in q):
        # PostgreSQL text cannot hold NUL; no identifier or token name we match has controls.
        raise BadParameter("q: contains control characters")
    result = SearchResult(q)
    lowered = q.lower()
    if lowered.startswith("btc:"):
        _bitcoin_height(result, _int(q[4:].strip(), "a Bitcoin height (btc:N)"))
    elif digits(q):
        _integer(result, _int(q, "a block number"))
    elif lowered.startswith("0x") or (len(q) == 64 and _HEX.fullmatch(q)):
        text = q[2:] if lowered.startswith("0x") else q
        if not _HEX.fullmatch(text):
            raise BadParameter("q: after 0x only hexadecimal digits may follow")
        if len(text) == 40:
            _address(result, bytes.fromhex(text))
        elif len(text) == 64:
            _hash(result, bytes.fromhex(text))
        else:
            raise BadParameter(f"q: a 0x value must be 40 hex digits (an address) or 64 (a hash), got {len(text)}")
    else:
        _token_prefix(result, q)
    return result


def _integer(result: SearchResult, n: int) -> None:
    """A bare integer is a Hemi block number; Bitcoin block N and keystone N are offered too."""
    block = blocks.get_block_by_number(n)
    if block is not None:
        result.hits.append(Hit("Hemi block", f"Hemi block {n}", reverse("explorer:block", args=[str(n)]) + f"?q={n}"))
    if bitcoin.block_at_height(n) is not None:
        result.see_also.append((f"Bitcoin block {n}", reverse("explorer:btc-block", args=[str(n)])))
    if keystones.get_keystone(n) is not None:
        result.see_also.append((f"keystone {n}", reverse("explorer:keystone", args=[n])))
    if block is None and result.see_also:
        # No Hemi block: the other readings become the hits (a list, never a guess).
        result.hits += [Hit(text.split(" ")[0].capitalize(), text, url) for text, url in result.see_also]
        result.see_also = []


def _bitcoin_height(result: SearchResult, height: int) -> None:
    block = bitcoin.block_at_height(height)
    if block is not None:
        result.hits.append(_bitcoin_block_hit(block))


def _bitcoin_block_hit(block, order: str = "") -> Hit:
    state = "active chain" if block.in_active_chain else "orphaned (not on the active chain)"
    label = f"Bitcoin block {block.height}" + (f" (hash in {order} order)" if order else "")
    return Hit("Bitcoin block", label, reverse("explorer:btc-block", args=[block.hash_display]),
               f"hash (display order) {block.hash_display}; {state}")  # fmt: skip


def _address(result: SearchResult, address: bytes) -> None:
    token = tokens.get_token(address)
    hex_address = "0x" + address.hex()
    if token is not None:
        result.hits.append(
            Hit("token", f"{token.symbol or 'token'} {hex_address}", reverse("explorer:token", args=[hex_address]))
        )
    elif (
        Address.objects.filter(address=address).exists()
        or DepositConfirmation.objects.filter(recipient=address).exists()
    ):
        result.hits.append(Hit("address", hex_address, reverse("explorer:address", args=[hex_address])))


def _hash(result: SearchResult, value: bytes) -> None:
    """A 32-byte value: Hemi block, transaction, keystone id, Bitcoin block or txid (both orders)."""
    hex0x = "0x" + value.hex()
    block = blocks.get_block_by_hash(value)
    if block is not None:
        result.hits.append(Hit("Hemi block", f"Hemi block {block.number}", reverse("explorer:block", args=[hex0x])))
    tx = transactions.get_transaction(value)
    if tx is not None:
        result.hits.append(Hit("transaction", f"transaction {hex0x}", reverse("explorer:tx", args=[hex0x])))
    for internal, order in ((value[::-1], "display"), (value, "internal")):
        keystone = keystones.keystone_by_id(internal)
        if keystone is not None:
            result.hits.append(
                Hit("keystone", f"keystone {keystone.number} (id in {order} order)",
                    reverse("explorer:keystone", args=[keystone.number]))
            )  # fmt: skip
        btc_block = bitcoin.block_by_hash_internal(internal)
        if btc_block is not None:
            result.hits.append(_bitcoin_block_hit(btc_block, order))
        btc_tx = bitcoin.transaction_by_txid_internal(internal)
        if btc_tx is not None:
            result.hits.append(_bitcoin_tx_hit(btc_tx, order))


def _bitcoin_tx_hit(tx, order: str) -> Hit:
    """A Bitcoin transaction we keep lands on its page (what it is to Hemi is shown there)."""
    label = f"Bitcoin transaction {tx.txid_display} (txid in {order} order)"
    detail = f"in Bitcoin block {tx.block.height}" + ("" if tx.block.in_active_chain else " (orphaned)")
    kind = "Bitcoin transaction"
    if PopPublication.objects.filter(transaction=tx).exists():
        kind = "Bitcoin PoP transaction"
    elif TunnelDeposit.objects.filter(transaction=tx).exists():
        kind = "Bitcoin tunnel deposit"
    return Hit(kind, label, reverse("explorer:btc-tx", args=[tx.txid_display]), detail)


def _token_prefix(result: SearchResult, text: str) -> None:
    for token in tokens.search_tokens(text):
        address = "0x" + bytes(token.address).hex()
        result.hits.append(
            Hit("token", f"{token.name or '(no name)'} ({token.symbol or 'no symbol'})",
                reverse("explorer:token", args=[address]), address)
        )  # fmt: skip
