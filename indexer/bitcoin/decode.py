"""Bitcoin block / transaction decoding (pure: bytes in, objects out, no Django, no I/O).

Naming: ``*_internal`` = raw double-SHA256 digest bytes (wire order); ``*_display`` = the
byte-reversed hex explorers show. See ``indexer.hashing``.

Speed matters here (a 1 MB testnet3 block is full of PoP transactions), so the decoder works in
two layers:

* ``decode_block`` makes ONE pass over the bytes that validates the framing of every
  transaction (varints, counts, segwit marker/flag, lengths), records each transaction's byte
  span, the spans of OP_RETURN outputs (what the PoP and tunnel scanners need), and hashes every
  txid. It then checks the header's merkle root.
* ``Tx`` objects are thin views over those spans; inputs and outputs are parsed on first access.

Merkle helpers (``merkle_root``, ``merkle_branch``, ``verify_merkle_branch``,
``witness_commitment_ok``) live next door in ``indexer.bitcoin.merkle``.

Every malformed input raises a ``BitcoinDecodeError`` subclass, never IndexError/struct.error,
and every loop is bounded by the bytes actually present, so hostile counts cannot hang us.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import NamedTuple

from indexer.bitcoin.merkle import merkle_root_with_mutation
from indexer.hashing import dsha256, internal_to_display

HEADER_SIZE = 80
# Bitcoin Core's MAX_SIZE: no CompactSize read from the wire may exceed 32 MiB.
MAX_COMPACT_SIZE = 0x02000000
# Smallest encodings, used to reject counts the remaining bytes cannot possibly hold.
_MIN_TXIN_SIZE = 41  # prevout 36 + script length 1 + sequence 4
_MIN_TXOUT_SIZE = 9  # value 8 + script length 1
_MIN_TX_SIZE = 51  # version 4 + 1 input (1 + 41) + output count 1 + locktime 4
_COINBASE_PREVOUT = b"\x00" * 32 + b"\xff\xff\xff\xff"

_HEADER = struct.Struct("<i32s32sIII")  # version is int32 in Bitcoin Core (signed)
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")  # CAmount is a signed int64 on the wire
_sha256 = hashlib.sha256


class BitcoinDecodeError(ValueError):
    """Bytes that are not a well-formed Bitcoin block, header or transaction."""


class TruncatedData(BitcoinDecodeError):
    """The data ends before the structure it announces is complete."""


class TrailingBytes(BitcoinDecodeError):
    """Bytes left over after a complete block/transaction/header."""


class BadVarint(BitcoinDecodeError):
    """A CompactSize that is non-canonical (not minimally encoded) or larger than MAX_SIZE."""


class AbsurdCount(BitcoinDecodeError):
    """An element count that the remaining bytes could not possibly hold."""


class BadSegwitFlag(BitcoinDecodeError):
    """Segwit marker 0x00 followed by a flag other than 0x01 (Core: unknown optional data)."""


class SuperfluousWitness(BitcoinDecodeError):
    """Segwit serialization whose witness stacks are all empty (Core rejects it)."""


class NoInputs(BitcoinDecodeError):
    """A transaction without inputs (ambiguous with the segwit marker, never valid)."""


class EmptyBlock(BitcoinDecodeError):
    """A block without transactions (it must hold at least the coinbase)."""


class MerkleRootMismatch(BitcoinDecodeError):
    """The txids do not hash to the header's merkle root."""


class MutatedMerkleTree(BitcoinDecodeError):
    """Duplicate sibling hashes in the merkle tree (CVE-2012-2459 style mutation)."""


def _varint_tail(buf: bytes, pos: int, first: int) -> tuple[int, int]:
    """Finish reading a CompactSize whose first byte (>= 0xfd) was ``first``; ``pos`` is just
    after that byte. Returns (value, new position). Rejects non-minimal encodings like Core."""
    if first == 0xFD:
        width, minimum = 2, 0xFD
    elif first == 0xFE:
        width, minimum = 4, 0x10000
    else:
        width, minimum = 8, 0x100000000
    end = pos + width
    if end > len(buf):
        raise TruncatedData(f"CompactSize at offset {pos - 1} is truncated")
    value = int.from_bytes(buf[pos:end], "little")
    if value < minimum:
        raise BadVarint(f"non-canonical CompactSize {value} at offset {pos - 1}")
    if value > MAX_COMPACT_SIZE:
        raise BadVarint(f"CompactSize {value} at offset {pos - 1} exceeds MAX_SIZE")
    return value, end


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a canonical CompactSize at ``pos``; returns (value, new position)."""
    if pos >= len(buf):
        raise TruncatedData(f"CompactSize at offset {pos} is missing")
    first = buf[pos]
    if first < 0xFD:
        return first, pos + 1
    return _varint_tail(buf, pos + 1, first)


# --------------------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class BlockHeader:
    version: int
    prev_hash_internal: bytes
    merkle_root_internal: bytes
    time: int
    bits: int
    nonce: int
    hash_internal: bytes
    raw: bytes

    @property
    def hash_display(self) -> str:
        return self.hash_internal[::-1].hex()

    @property
    def prev_hash_display(self) -> str:
        return self.prev_hash_internal[::-1].hex()

    @property
    def merkle_root_display(self) -> str:
        return self.merkle_root_internal[::-1].hex()


def decode_header(raw: bytes) -> BlockHeader:
    """Decode exactly 80 header bytes."""
    raw = bytes(raw)
    if len(raw) < HEADER_SIZE:
        raise TruncatedData(f"block header needs {HEADER_SIZE} bytes, got {len(raw)}")
    if len(raw) > HEADER_SIZE:
        raise TrailingBytes(f"block header is {HEADER_SIZE} bytes, got {len(raw)}")
    version, prev, merkle, time, bits, nonce = _HEADER.unpack(raw)
    return BlockHeader(version, prev, merkle, time, bits, nonce, dsha256(raw), raw)


# --------------------------------------------------------------------------- transactions


class TxIn(NamedTuple):
    prev_txid_internal: bytes
    vout: int
    script_sig: bytes
    sequence: int
    witness: tuple[bytes, ...]

    @property
    def prev_txid_display(self) -> str:
        return self.prev_txid_internal[::-1].hex()


class TxOut(NamedTuple):
    value_sats: int
    script_pubkey: bytes


# (tx_index, vout, start, end): an output script whose first byte is OP_RETURN (0x6a), located
# by offsets into the block bytes. A plain tuple, not a NamedTuple: the hot pass builds thousands.
OpReturnSpan = tuple[int, int, int, int]


class Tx:
    """A transaction as a view over validated bytes; inputs/outputs are parsed on first use.

    ``wit_start``/``wit_end`` delimit the witness section (both 0 for a legacy serialization):
    the txid hashes the bytes *without* marker, flag and witnesses, the wtxid hashes them all.
    """

    __slots__ = ("_buf", "_end", "_io", "_start", "_wit_end", "_wit_start", "txid_internal")

    def __init__(self, buf: bytes, start: int, end: int, wit_start: int, wit_end: int, txid: bytes):
        self._buf = buf
        self._start = start
        self._end = end
        self._wit_start = wit_start
        self._wit_end = wit_end
        self.txid_internal = txid
        self._io: tuple[tuple[TxIn, ...], tuple[TxOut, ...]] | None = None

    def __repr__(self) -> str:
        return f"<Tx {self.txid_display} {self.size}B>"

    # -- identity ---------------------------------------------------------------
    @property
    def txid_display(self) -> str:
        return self.txid_internal[::-1].hex()

    @property
    def wtxid_internal(self) -> bytes:
        return dsha256(self.raw) if self._wit_start else self.txid_internal

    @property
    def wtxid_display(self) -> str:
        return self.wtxid_internal[::-1].hex()

    # -- sizes ------------------------------------------------------------------
    @property
    def raw(self) -> bytes:
        """The full serialization, witness included (what a node relays)."""
        return self._buf[self._start : self._end]

    @property
    def has_witness(self) -> bool:
        return self._wit_start != 0

    @property
    def size(self) -> int:
        return self._end - self._start

    @property
    def base_size(self) -> int:
        """Size without marker, flag and witnesses (the bytes the txid commits to)."""
        if not self._wit_start:
            return self.size
        return self.size - 2 - (self._wit_end - self._wit_start)

    @property
    def weight(self) -> int:
        return self.base_size * 3 + self.size

    @property
    def vsize(self) -> int:
        return (self.weight + 3) // 4

    # -- fixed fields -----------------------------------------------------------
    @property
    def version(self) -> int:
        # Read unsigned: current Bitcoin Core stores it as uint32 (older releases used int32).
        return _U32.unpack_from(self._buf, self._start)[0]

    @property
    def locktime(self) -> int:
        return _U32.unpack_from(self._buf, self._end - 4)[0]

    @property
    def _first_input_offset(self) -> int:
        # version (4) [+ marker/flag (2)] + input count varint
        pos = self._start + (6 if self._wit_start else 4)
        return read_varint(self._buf, pos)[1]

    @property
    def is_coinbase(self) -> bool:
        """Exactly one input whose prevout is (32 zero bytes, 0xffffffff)."""
        buf = self._buf
        pos = self._start + (6 if self._wit_start else 4)
        if buf[pos] != 1:
            return False
        return buf[pos + 1 : pos + 37] == _COINBASE_PREVOUT

    @property
    def first_input_script_sig(self) -> bytes:
        """scriptSig of input 0 without parsing the whole transaction (PoP miner identity)."""
        pos = self._first_input_offset + 36
        length, pos = read_varint(self._buf, pos)
        return self._buf[pos : pos + length]

    # -- inputs / outputs (lazy) ------------------------------------------------
    @property
    def inputs(self) -> tuple[TxIn, ...]:
        if self._io is None:
            self._io = self._parse_io()
        return self._io[0]

    @property
    def outputs(self) -> tuple[TxOut, ...]:
        if self._io is None:
            self._io = self._parse_io()
        return self._io[1]

    def _parse_io(self) -> tuple[tuple[TxIn, ...], tuple[TxOut, ...]]:
        """Parse inputs, outputs and witnesses; framing was validated by the scan already."""
        buf = self._buf
        pos = self._start + (6 if self._wit_start else 4)
        n_in, pos = read_varint(buf, pos)
        raw_inputs = []
        for _ in range(n_in):
            prev = buf[pos : pos + 32]
            vout = _U32.unpack_from(buf, pos + 32)[0]
            length, pos = read_varint(buf, pos + 36)
            script = buf[pos : pos + length]
            pos += length
            raw_inputs.append((prev, vout, script, _U32.unpack_from(buf, pos)[0]))
            pos += 4
        n_out, pos = read_varint(buf, pos)
        outputs = []
        for _ in range(n_out):
            value = _I64.unpack_from(buf, pos)[0]
            length, pos = read_varint(buf, pos + 8)
            outputs.append(TxOut(value, buf[pos : pos + length]))
            pos += length
        witnesses: list[tuple[bytes, ...]] = []
        if self._wit_start:
            for _ in range(n_in):
                n_items, pos = read_varint(buf, pos)
                items = []
                for _ in range(n_items):
                    length, pos = read_varint(buf, pos)
                    items.append(buf[pos : pos + length])
                    pos += length
                witnesses.append(tuple(items))
        else:
            witnesses = [()] * n_in
        inputs = tuple(TxIn(p, v, s, q, w) for (p, v, s, q), w in zip(raw_inputs, witnesses, strict=True))
        return inputs, tuple(outputs)


class _Scan(NamedTuple):
    end: int
    spans: list[tuple[int, int, int, int]]  # (start, end, wit_start, wit_end) per tx
    txids: list[bytes]
    op_returns: list[OpReturnSpan]


def _scan_txs(buf: bytes, pos: int, count: int) -> _Scan:
    """The hot pass: walk ``count`` serialized transactions starting at ``pos``.

    1. Read version, detect the segwit marker (0x00) and require flag 0x01.
    2. Walk inputs (prevout, scriptSig, sequence) and outputs (value, scriptPubKey), noting every
       output script whose first byte is OP_RETURN.
    3. For segwit, walk the witness stacks (one per input) and require at least one non-empty.
    4. Hash the txid over version || inputs/outputs || locktime, skipping marker/flag/witness.

    Single-byte CompactSizes (< 0xfd) are handled inline; everything else goes through
    ``_varint_tail`` which enforces canonical encoding and MAX_SIZE. Reading past the end raises
    IndexError inside the loop, turned into TruncatedData; a final offset check catches spans that
    run past the end without touching a byte there.
    """
    n_buf = len(buf)
    sha = _sha256
    spans: list[tuple[int, int, int, int]] = []
    txids: list[bytes] = []
    op_returns: list[OpReturnSpan] = []
    add_span = spans.append
    add_txid = txids.append
    add_opret = op_returns.append
    tx_index = 0
    try:
        for tx_index in range(count):
            start = pos
            pos += 4
            n_in = buf[pos]
            segwit = n_in == 0
            if segwit:
                if buf[pos + 1] != 1:
                    raise BadSegwitFlag(f"tx {tx_index}: segwit marker with flag {buf[pos + 1]:#04x}")
                pos += 2
                n_in = buf[pos]
            pos += 1
            if n_in >= 0xFD:
                n_in, pos = _varint_tail(buf, pos, n_in)
                if n_in * _MIN_TXIN_SIZE > n_buf - pos:
                    raise AbsurdCount(f"tx {tx_index}: {n_in} inputs cannot fit in {n_buf - pos} bytes")
            elif n_in == 0:
                raise NoInputs(f"tx {tx_index} has no inputs")
            for _ in range(n_in):
                pos += 36
                length = buf[pos]
                pos += 1
                if length >= 0xFD:
                    length, pos = _varint_tail(buf, pos, length)
                pos += length + 4
            n_out = buf[pos]
            pos += 1
            if n_out >= 0xFD:
                n_out, pos = _varint_tail(buf, pos, n_out)
                if n_out * _MIN_TXOUT_SIZE > n_buf - pos:
                    raise AbsurdCount(f"tx {tx_index}: {n_out} outputs cannot fit in {n_buf - pos} bytes")
            for vout in range(n_out):
                pos += 8
                length = buf[pos]
                pos += 1
                if length >= 0xFD:
                    length, pos = _varint_tail(buf, pos, length)
                if length and buf[pos] == 0x6A:
                    add_opret((tx_index, vout, pos, pos + length))
                pos += length
            if segwit:
                wit_start = pos
                any_item = False
                for _ in range(n_in):
                    n_items = buf[pos]
                    pos += 1
                    if n_items >= 0xFD:
                        n_items, pos = _varint_tail(buf, pos, n_items)
                        if n_items > n_buf - pos:
                            raise AbsurdCount(f"tx {tx_index}: {n_items} witness items cannot fit")
                    if n_items:
                        any_item = True
                    for _ in range(n_items):
                        length = buf[pos]
                        pos += 1
                        if length >= 0xFD:
                            length, pos = _varint_tail(buf, pos, length)
                        pos += length
                if not any_item:
                    raise SuperfluousWitness(f"tx {tx_index}: segwit serialization with empty witnesses")
                wit_end = pos
                pos += 4
                if pos > n_buf:
                    raise TruncatedData(f"tx {tx_index} runs past the end of the data")
                # Same algorithm as indexer.hashing.dsha256, inlined: this loop runs per tx.
                stripped = buf[start : start + 4] + buf[start + 6 : wit_start] + buf[wit_end:pos]
                add_txid(sha(sha(stripped).digest()).digest())
                add_span((start, pos, wit_start, wit_end))
            else:
                pos += 4
                if pos > n_buf:
                    raise TruncatedData(f"tx {tx_index} runs past the end of the data")
                add_txid(sha(sha(buf[start:pos]).digest()).digest())
                add_span((start, pos, 0, 0))
    except IndexError:
        raise TruncatedData(f"data ends inside transaction {tx_index}") from None
    return _Scan(pos, spans, txids, op_returns)


def decode_tx(raw: bytes) -> Tx:
    """Decode one serialized transaction (legacy or segwit); no bytes may be left over."""
    buf = bytes(raw)
    scan = _scan_txs(buf, 0, 1)
    if scan.end != len(buf):
        raise TrailingBytes(f"{len(buf) - scan.end} bytes after the transaction")
    start, end, wit_start, wit_end = scan.spans[0]
    return Tx(buf, start, end, wit_start, wit_end, scan.txids[0])


# --------------------------------------------------------------------------- block


class Block:
    """A decoded block. ``txids_internal`` is computed eagerly; ``txs`` are built on access."""

    __slots__ = ("_spans", "_txs", "header", "op_returns", "raw", "txids_internal")

    def __init__(
        self,
        raw: bytes,
        header: BlockHeader,
        spans: list[tuple[int, int, int, int]],
        txids_internal: list[bytes],
        op_returns: list[OpReturnSpan],
    ):
        self.raw = raw
        self.header = header
        self.txids_internal = txids_internal
        self.op_returns = op_returns
        self._spans = spans
        self._txs: list[Tx] | None = None

    def __repr__(self) -> str:
        return f"<Block {self.hash_display} {self.tx_count} txs>"

    version = property(lambda self: self.header.version)
    prev_hash_internal = property(lambda self: self.header.prev_hash_internal)
    merkle_root_internal = property(lambda self: self.header.merkle_root_internal)
    time = property(lambda self: self.header.time)
    bits = property(lambda self: self.header.bits)
    nonce = property(lambda self: self.header.nonce)
    hash_internal = property(lambda self: self.header.hash_internal)

    @property
    def hash_display(self) -> str:
        return internal_to_display(self.header.hash_internal)

    @property
    def tx_count(self) -> int:
        return len(self._spans)

    def tx(self, index: int) -> Tx:
        if self._txs is not None:
            return self._txs[index]
        start, end, wit_start, wit_end = self._spans[index]
        return Tx(self.raw, start, end, wit_start, wit_end, self.txids_internal[index])

    @property
    def txs(self) -> list[Tx]:
        if self._txs is None:
            buf, txids = self.raw, self.txids_internal
            self._txs = [Tx(buf, s, e, ws, we, txids[i]) for i, (s, e, ws, we) in enumerate(self._spans)]
        return self._txs


def decode_block(raw: bytes) -> Block:
    """Decode a serialized block and check that its transactions hash to the header's merkle root.

    1. Decode the 80-byte header.
    2. Read the transaction count; reject zero and counts the remaining bytes cannot hold.
    3. Scan all transactions in one pass (``_scan_txs``); no bytes may remain.
    4. Recompute the merkle root; reject mismatch and duplicate-sibling mutation.

    Witness bytes are not covered by the txid merkle root; call ``witness_commitment_ok`` when
    they matter (it lives in ``indexer.bitcoin.merkle``); PoP and tunnel data sit in outputs, which
    the txids do commit to.
    """
    buf = bytes(raw)
    header = decode_header(buf[:HEADER_SIZE])
    count, pos = read_varint(buf, HEADER_SIZE)
    if count == 0:
        raise EmptyBlock("block has no transactions")
    if count * _MIN_TX_SIZE > len(buf) - pos:
        raise AbsurdCount(f"{count} transactions cannot fit in {len(buf) - pos} bytes")
    scan = _scan_txs(buf, pos, count)
    if scan.end != len(buf):
        raise TrailingBytes(f"{len(buf) - scan.end} bytes after the last transaction")
    root, mutated = merkle_root_with_mutation(scan.txids)
    if root != header.merkle_root_internal:
        raise MerkleRootMismatch(
            f"txids hash to {root[::-1].hex()}, header says {header.merkle_root_display}"
        )
    if mutated:
        raise MutatedMerkleTree("duplicate sibling hashes in the merkle tree")
    return Block(buf, header, scan.spans, scan.txids, scan.op_returns)
