"""Token rows for the Hemi indexer: first sight, balance deltas, reorg recomputation, metadata.

* Inside an ingest transaction: :func:`queue_ensure_tokens` creates Token rows for contracts
  seen emitting a Transfer (metadata empty), :func:`queue_token_ids` reads their ids,
  :func:`copy_transfers` writes the transfers and :func:`queue_balance_deltas` adds them to
  ``TokenBalance`` with one atomic ``balance = balance + delta`` upsert.
* Inside a reorg transaction: :func:`recompute_balances` rebuilds the touched (token, holder)
  rows from the canonical transfers that remain.
* Outside any transaction: :func:`read_token_metadata` reads ``name``/``symbol``/``decimals``/
  ``totalSupply`` over RPC, then writes them in its own short transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

from indexer.hemi import bulk, tokens
from indexer.hemi.models import Token, TokenBalance, TokenTransfer
from indexer.hemi.records import ZERO_ADDRESS
from indexer.hemi.rpc import CallReverted, HemiRpc
from indexer.hemi.sqlutil import chunked

logger = logging.getLogger(__name__)
K = TypeVar("K")  # how a token is named: its row id or its address

SELECTOR_NAME = bytes.fromhex("06fdde03")  # name()
SELECTOR_SYMBOL = bytes.fromhex("95d89b41")  # symbol()
SELECTOR_DECIMALS = bytes.fromhex("313ce567")  # decimals()
SELECTOR_TOTAL_SUPPLY = bytes.fromhex("18160ddd")  # totalSupply()
SYMBOL_MAX_CHARS = Token._meta.get_field("symbol").max_length
NAME_MAX_CHARS = Token._meta.get_field("name").max_length


_TOKENS_SQL = (
    f"INSERT INTO {Token._meta.db_table} (address, standard, name, symbol, metadata_problems, first_seen_block)"  # noqa: S608
    " SELECT a, s, '', '', '', f FROM unnest(%b::bytea[], %b::text[], %b::bigint[]) AS t(a, s, f)"
    " ON CONFLICT (address) DO NOTHING RETURNING id, first_seen_block"
)
_TOKEN_IDS_SQL = f"SELECT address, id FROM {Token._meta.db_table} WHERE address = ANY(%b::bytea[])"  # noqa: S608
_TRANSFERS_COPY, _TRANSFER_TYPES = bulk.copy_sql(TokenTransfer, (
    ("id", "bigint"), ("log_id", "bigint"), ("token_id", "bigint"), ("block_id", "bigint"), ("sender", "bytea"),
    ("recipient", "bytea"), ("value", "numeric"), ("nft_id", "numeric"), ("canonical", "boolean"),
))  # fmt: skip
_BALANCES_SQL = (
    f"INSERT INTO {TokenBalance._meta.db_table} (token_id, holder, balance)"  # noqa: S608 - constant table names
    " SELECT * FROM unnest(%b::bigint[], %b::bytea[], %b::numeric[])"
    f" ON CONFLICT (token_id, holder) DO UPDATE SET balance = {TokenBalance._meta.db_table}.balance + EXCLUDED.balance"
)


def queue_ensure_tokens(cur: Any, first_seen: dict[bytes, tuple[int, str]]) -> None:
    """Token rows (metadata empty) for ``{address: (first block, standard)}``.

    ``ON CONFLICT DO NOTHING`` makes an existing row (or a concurrent creator) harmless; the
    statement returns ``(id, first_seen_block)`` of the rows it created (read them from
    ``cur`` after the pipeline).
    """
    addresses = sorted(first_seen)
    cur.execute(_TOKENS_SQL, [addresses, [first_seen[a][1] for a in addresses], [first_seen[a][0] for a in addresses]])


def queue_token_ids(cur: Any, addresses: Sequence[bytes]) -> None:
    """Queue a read of ``(address, id)`` for these token addresses (after ``queue_ensure_tokens``)."""
    cur.execute(_TOKEN_IDS_SQL, [list(addresses)])


def copy_transfers(rows: Iterable[tuple]) -> None:
    """``(id, log_id, token_id, block_id, sender, recipient, value, nft_id)`` rows, by binary COPY."""
    bulk.copy_rows(_TRANSFERS_COPY, _TRANSFER_TYPES, ((*row, True) for row in rows))


def deltas_of(transfers: Iterable[tuple[K, bytes, bytes, int | None]]) -> dict[tuple[K, bytes], int]:
    """Net change per (token, holder) from ``(token, sender, recipient, value)``.

    ERC-20 moves ``value``; ERC-721 (value None) moves one token. The zero address is the
    mint/burn counterparty, not a holder, so it gets no row.
    """
    deltas: dict[tuple[K, bytes], int] = defaultdict(int)
    for token, sender, recipient, value in transfers:
        amount = 1 if value is None else int(value)
        if sender != ZERO_ADDRESS:
            deltas[(token, sender)] -= amount
        if recipient != ZERO_ADDRESS:
            deltas[(token, recipient)] += amount
    return deltas


def queue_balance_deltas(cur: Any, deltas: dict[tuple[int, bytes], int]) -> None:
    """Add ``{(token id, holder): delta}`` in one statement: a row-level
    ``balance = balance + delta`` upsert, so a concurrent writer can never lose an update.
    Rows go in (token id, holder) order, the same lock order for every writer."""
    keys = sorted(deltas)
    cur.execute(_BALANCES_SQL, [[k[0] for k in keys], [k[1] for k in keys], [deltas[k] for k in keys]])


def recompute_balances(pairs: Iterable[tuple[int, bytes]]) -> int:
    """Set each (token, holder) balance to what the remaining canonical transfers add up to."""
    pairs = sorted(set(pairs))
    if not pairs:
        return 0
    bal = TokenBalance._meta.db_table
    tt = TokenTransfer._meta.db_table
    for chunk in chunked(pairs, 1000):
        values = ",".join(["(%s::bigint, %s::bytea)"] * len(chunk))
        params = [v for pair in chunk for v in pair]
        amount = "COALESCE(t.value, 1)"  # ERC-721 transfers carry no value: one token each
        sql = f"""
            WITH pairs(token_id, holder) AS (VALUES {values})
            INSERT INTO {bal} (token_id, holder, balance)
            SELECT p.token_id, p.holder,
                COALESCE((SELECT SUM({amount}) FROM {tt} t
                          WHERE t.canonical AND t.token_id = p.token_id AND t.recipient = p.holder), 0)
              - COALESCE((SELECT SUM({amount}) FROM {tt} t
                          WHERE t.canonical AND t.token_id = p.token_id AND t.sender = p.holder), 0)
            FROM pairs p
            ON CONFLICT (token_id, holder) DO UPDATE SET balance = EXCLUDED.balance
        """  # noqa: S608 - table names from model meta, values are parameters
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(sql, params)
    return len(pairs)


def touched_pairs(transfers: Iterable[tuple[int, bytes, bytes]]) -> set[tuple[int, bytes]]:
    """(token, holder) pairs named by ``(token_id, sender, recipient)`` triples, minus 0x0."""
    out: set[tuple[int, bytes]] = set()
    for token_id, sender, recipient in transfers:
        for holder in (bytes(sender), bytes(recipient)):
            if holder != ZERO_ADDRESS:
                out.add((token_id, holder))
    return out


# --------------------------------------------------------------------------- metadata


@dataclass(frozen=True, slots=True)
class TokenMetadata:
    name: str
    symbol: str
    decimals: int | None
    total_supply: int | None
    problems: str
    read_at_block: int


def _call_or_none(rpc: HemiRpc, address: bytes, selector: bytes, block: int) -> bytes | None:
    """Return data, or None for a revert (what ``tokens.decode_*`` expect for "call reverted")."""
    try:
        return rpc.eth_call(address, selector, block)
    except CallReverted:
        return None


def fetch_token_metadata(rpc: HemiRpc, address: bytes, standard: str = Token.ERC20) -> TokenMetadata:
    """Read and decode the metadata calls at one block (network I/O, no DB).

    ERC-721 has no ``decimals()``: asking would only record a revert as a false "problem".
    """
    block = rpc.block_number()
    name = tokens.decode_text_result(_call_or_none(rpc, address, SELECTOR_NAME, block))
    symbol = tokens.decode_text_result(_call_or_none(rpc, address, SELECTOR_SYMBOL, block))
    if standard == Token.ERC721:
        decimals = tokens.TokenNumber(None, None)
    else:
        decimals = tokens.decode_decimals_result(_call_or_none(rpc, address, SELECTOR_DECIMALS, block))
    supply = tokens.decode_total_supply_result(_call_or_none(rpc, address, SELECTOR_TOTAL_SUPPLY, block))
    problems = []
    name_text = _fit(name.value or "", NAME_MAX_CHARS, "name", problems)
    symbol_text = _fit(symbol.value or "", SYMBOL_MAX_CHARS, "symbol", problems)
    for label, result in (("name", name), ("symbol", symbol), ("decimals", decimals), ("totalSupply", supply)):
        if result.problem:
            problems.insert(0, f"{label}: {result.problem}")
    return TokenMetadata(name_text, symbol_text, decimals.value, supply.value, "\n".join(problems), block)


def _fit(text: str, limit: int, label: str, problems: list[str]) -> str:
    # tokens.clean_text caps at 256 characters; the symbol column is narrower.
    if len(text) > limit:
        problems.append(f"{label}: truncated from {len(text)} to {limit} characters for storage")
        return text[:limit]
    return text


def read_token_metadata(token_id: int, rpc: HemiRpc) -> Token | None:
    """Read a token's metadata over RPC, then store it in one short transaction.

    Idempotent: re-reading overwrites with fresher values; a vanished token id is ignored.
    """
    row = Token.objects.filter(id=token_id).values_list("address", "standard").first()
    if row is None:
        return None
    address, standard = row
    meta = fetch_token_metadata(rpc, bytes(address), standard)
    # Short transaction, no I/O inside: the RPC reads above are already done.
    with transaction.atomic():
        Token.objects.filter(id=token_id).update(
            name=meta.name,
            symbol=meta.symbol,
            decimals=meta.decimals,
            total_supply=meta.total_supply,
            metadata_problems=meta.problems,
            metadata_read_at_block=meta.read_at_block,
        )
    logger.info(
        "hemi token metadata read",
        extra={"token_id": token_id, "address": "0x" + bytes(address).hex(), "problems": bool(meta.problems)},
    )
    return Token.objects.get(id=token_id)


def tokens_without_metadata(limit: int = 100) -> Sequence[int]:
    pending = Token.objects.filter(metadata_read_at_block__isnull=True).order_by("id")
    return list(pending.values_list("id", flat=True)[:limit])
