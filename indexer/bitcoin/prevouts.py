"""The outputs a stored transaction spends ("prevouts"): what its fee and Esplora's
``vin[].prevout`` need, and what a block does not contain.

A block carries each input's outpoint (txid, vout) but not the output it spends, so the
spent outputs are read from the source once, after the block is written, and kept beside the
transaction (``BitcoinTransaction.prevouts``). Only the few transactions we store (PoP,
tunnel deposits and payouts) need them, so this is a handful of lookups per block, served by
the node's tx index (the devnet's bcoin runs with ``--index-tx``).

Layout of the column: the spent outputs in input order, each serialized exactly as an output
is inside a transaction (8-byte little-endian value, varint script length, script), i.e. the
list BIP 341 signs as "spent outputs". A coinbase spends nothing: empty bytes.
"""

from __future__ import annotations

import logging
import struct

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from indexer.bitcoin.decode import BitcoinDecodeError, TxOut, decode_tx, read_varint
from indexer.bitcoin.models import BitcoinTransaction
from indexer.bitcoin.source import BitcoinSource, TxNotFound

log = logging.getLogger(__name__)

_I64 = struct.Struct("<q")
# Stored transactions whose prevouts one call fills at most: bounds a sync step on a busy
# testnet block (thousands of PoP transactions); the rest wait for the next step.
FILL_LIMIT = 500


class BadPrevouts(BitcoinDecodeError):
    """A ``prevouts`` value that does not parse as the outputs of the transaction's inputs."""


# --------------------------------------------------------------------------- pure encoding


def _varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def encode(outputs: list[TxOut]) -> bytes:
    return b"".join(_I64.pack(o.value_sats) + _varint(len(o.script_pubkey)) + o.script_pubkey for o in outputs)


def decode(raw: bytes, expected: int) -> list[TxOut]:
    """The ``expected`` spent outputs in ``raw``; anything else is ``BadPrevouts``."""
    buf = bytes(raw)
    out: list[TxOut] = []
    pos = 0
    try:
        while pos < len(buf):
            (value,) = _I64.unpack_from(buf, pos)
            length, pos = read_varint(buf, pos + 8)
            if pos + length > len(buf):
                raise BadPrevouts("script runs past the end")
            out.append(TxOut(value, buf[pos : pos + length]))
            pos += length
    except (struct.error, IndexError, BitcoinDecodeError) as exc:
        raise BadPrevouts(f"truncated spent output {len(out)}") from exc
    if len(out) != expected:
        raise BadPrevouts(f"{len(out)} spent outputs for {expected} inputs")
    return out


def fee_sats(tx_raw: bytes, prevouts_raw: bytes | None) -> int | None:
    """Inputs minus outputs; None while the spent outputs are unknown (0 for a coinbase)."""
    tx = decode_tx(tx_raw)
    if tx.is_coinbase:
        return 0
    if prevouts_raw is None:
        return None
    spent = decode(prevouts_raw, len(tx.inputs))
    return sum(o.value_sats for o in spent) - sum(o.value_sats for o in tx.outputs)


# --------------------------------------------------------------------------- fetch and write


def _spent_outputs(source: BitcoinSource, rows: list[tuple[int, bytes]]) -> tuple[dict[int, bytes], list[int]]:
    """{row id: encoded prevouts} for the rows whose spent outputs the source has, and the ids
    it could not serve. One batched request for the common case; one by one only to find
    which transaction a "not found" was about."""
    wanted: dict[int, list[tuple[bytes, int]]] = {}
    done: dict[int, bytes] = {}
    for row_id, raw in rows:
        tx = decode_tx(raw)
        if tx.is_coinbase:
            done[row_id] = b""
        else:
            wanted[row_id] = [(i.prev_txid_internal, i.vout) for i in tx.inputs]
    txids = sorted({txid for outpoints in wanted.values() for txid, _ in outpoints})
    try:
        fetched = dict(zip(txids, source.raw_transactions(txids), strict=True))
    except TxNotFound:
        fetched = {}
        for txid in txids:
            try:
                fetched[txid] = source.raw_transactions([txid])[0]
            except TxNotFound:
                pass
    parsed = {txid: decode_tx(raw).outputs for txid, raw in fetched.items()}
    unavailable = []
    for row_id, outpoints in wanted.items():
        try:
            done[row_id] = encode([parsed[txid][vout] for txid, vout in outpoints])
        except (KeyError, IndexError):  # not served, or an outpoint past its outputs
            unavailable.append(row_id)
    return done, unavailable


def fill_missing(source: BitcoinSource, *, limit: int = FILL_LIMIT) -> int:
    """Fetch and store the spent outputs of stored transactions that have none yet (oldest
    rows first, at most ``limit``); returns how many rows were settled.

    1. Read the waiting rows (partial index btc_tx_prevouts_todo), no transaction held.
    2. Fetch the transactions their inputs spend (network I/O, outside any transaction).
    3. One short transaction writes each row's prevouts, or marks it unavailable when the
       source does not have a spent transaction; ``prevouts IS NULL`` in the UPDATE makes a
       concurrent or repeated fill harmless.
    Transient source errors propagate (the caller's run is retried); nothing is half-written.
    ``BITCOIN_KEEP_PREVOUTS`` off: nothing is fetched (the rows keep NULL).
    """
    if not settings.BITCOIN_KEEP_PREVOUTS:
        return 0
    waiting = BitcoinTransaction.objects.filter(prevouts__isnull=True, prevouts_unavailable_at__isnull=True)
    rows = [(row_id, bytes(raw)) for row_id, raw in waiting.order_by("id").values_list("id", "raw")[:limit]]
    if not rows:
        return 0
    done, unavailable = _spent_outputs(source, rows)
    todo = BitcoinTransaction.objects.filter(prevouts__isnull=True)
    # Why atomic: a batch of rows settles together; a killed worker leaves them all to redo.
    with transaction.atomic():
        for row_id, encoded in done.items():
            todo.filter(id=row_id).update(prevouts=encoded)
        if unavailable:
            todo.filter(id__in=unavailable).update(prevouts_unavailable_at=timezone.now())
    if unavailable:
        log.warning(
            "bitcoin source could not serve spent outputs (no tx index?)",
            extra={"source": source.name, "transactions": len(unavailable)},
        )
    return len(done) + len(unavailable)
