"""Real chain bytes and a tiny transaction builder for the Bitcoin decoding tests (no Django)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from indexer.bitcoin.decode import Block, BlockHeader, Tx, decode_block, decode_header, decode_tx

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bitcoin"
TESTNET3_BLOCK = FIXTURES / "testnet3-3802509.bin"
# Despite its name the file holds heights 1..32260: a little-endian uint32 count (32260), then
# 80-byte headers; the first one's prev hash is the genesis hash.
MAINNET_HEADERS = FIXTURES / "mainnet-headers-0-32259.bin"

# Spec §3.6 (a): first PoP tx of testnet3 block 3802508 (the parent of the fixture block).
VECTOR_A_RAW = bytes.fromhex(
    "02000000014d6488a9a660c0ee9f56316864dc24c1f80e71ab410fff1a898a45a86b963f1200"
    "0000006a47304402204263ac96f1e416101395cf12465d5e00e30bc3494bd9edbafd9e1084"
    "8ea819e202204b855de035e814962abf2cba6fabb6277de8d6dedef114c9a04d8c447250c1"
    "81012102e730d9295a286edceb8d1f11d650bc3880b9ca6e321cbc23791b7eb2e3c9dafbff"
    "ffffff029c4b6600000000001976a91441f4bb941bc5cbb104379f3813beed9d47d9bead88"
    "ac0000000000000000536a4c5048454d49010075cf9b002831bfa132ab03b954874d9515f4"
    "d5141f39022b7382f04df2defb29e4ff1b58eb5af0fc9192dcbcda6f1b6f21e9c47d97953f"
    "a8f7d7551deeaa7a1c0a2340624eebff6b5cbc8b053a00"
)

# Spec §3.6 (c): legacy 73-byte hemi.Header behind the HEMI magic (heminetwork pop_test.go).
VECTOR_C_SCRIPT = bytes.fromhex(
    "6a4c4d48454d4901"
    "0000210f"
    "a38c96eb92aeb5ea26a4b884"
    "4276625da50b3e1a6ff2f011"
    "5aee4544a9e6cf384276625da50b3e1aef3457bba38c96eb92aeb5ea26a4b8fd"
    "eaee4544a9e6cf38ef3457bb"
)

# Mainnet genesis header, built from its well-known fields.
MAINNET_GENESIS_RAW = struct.pack(
    "<i32s32sIII",
    1,
    b"\x00" * 32,
    bytes.fromhex("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b")[::-1],
    1231006505,
    0x1D00FFFF,
    2083236893,
)


def compact_size(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def serialize_tx(
    outputs: Sequence[tuple[int, bytes]],
    inputs: Sequence[tuple[bytes, int, bytes]] = ((b"\x11" * 32, 0, b""),),
    witnesses: Sequence[Sequence[bytes]] | None = None,
    version: int = 2,
    locktime: int = 0,
) -> bytes:
    """Independent serializer used to build test transactions: inputs are
    (prev txid internal, vout, scriptSig), outputs (value sats, scriptPubKey)."""
    body = compact_size(len(inputs))
    for prev, vout, script_sig in inputs:
        body += prev + struct.pack("<I", vout) + compact_size(len(script_sig)) + script_sig + b"\xff" * 4
    body += compact_size(len(outputs))
    for value, script in outputs:
        body += struct.pack("<q", value) + compact_size(len(script)) + script
    if witnesses is None:
        return struct.pack("<I", version) + body + struct.pack("<I", locktime)
    wit = b""
    for stack in witnesses:
        wit += compact_size(len(stack)) + b"".join(compact_size(len(i)) + i for i in stack)
    return struct.pack("<I", version) + b"\x00\x01" + body + wit + struct.pack("<I", locktime)


def serialize_block(header_fields: tuple[int, bytes, bytes, int, int, int], txs: Sequence[bytes]) -> bytes:
    version, prev, merkle, time, bits, nonce = header_fields
    header = struct.pack("<i32s32sIII", version, prev, merkle, time, bits, nonce)
    return header + compact_size(len(txs)) + b"".join(txs)


# Everything is handed out as fixtures (not imported from this module) so the tests work under
# any pytest import mode. Session scope keeps them usable from hypothesis tests.


@pytest.fixture(scope="session")
def block_raw() -> bytes:
    return TESTNET3_BLOCK.read_bytes()


@pytest.fixture(scope="session")
def block(block_raw: bytes) -> Block:
    return decode_block(block_raw)


@pytest.fixture(scope="session")
def mainnet_headers() -> list[BlockHeader]:
    """Mainnet headers 0..32260, genesis first (index = height)."""
    data = MAINNET_HEADERS.read_bytes()
    count = int.from_bytes(data[:4], "little")
    assert len(data) == 4 + 80 * count
    return [decode_header(MAINNET_GENESIS_RAW)] + [
        decode_header(data[4 + 80 * i : 84 + 80 * i]) for i in range(count)
    ]


@pytest.fixture(scope="session")
def vector_a_raw() -> bytes:
    return VECTOR_A_RAW


@pytest.fixture(scope="session")
def vector_c_script() -> bytes:
    return VECTOR_C_SCRIPT


@pytest.fixture(scope="session")
def mainnet_genesis_raw() -> bytes:
    return MAINNET_GENESIS_RAW


@pytest.fixture(scope="session")
def tx_bytes() -> Callable[..., bytes]:
    """``tx_bytes(outputs, inputs=..., witnesses=..., version=2, locktime=0)`` -> raw tx."""
    return serialize_tx


@pytest.fixture(scope="session")
def block_bytes() -> Callable[..., bytes]:
    """``block_bytes((version, prev, merkle, time, bits, nonce), [raw tx, ...])`` -> raw block."""
    return serialize_block


@pytest.fixture(scope="session")
def make_tx() -> Callable[..., Tx]:
    """Build and decode a transaction: ``make_tx(outputs, inputs=..., witnesses=...)``."""

    def build(*args: object, **kwargs: object) -> Tx:
        return decode_tx(serialize_tx(*args, **kwargs))  # type: ignore[arg-type]

    return build


@pytest.fixture(scope="session")
def small_block_raw(block: Block) -> bytes:
    """A block of real transactions small enough to decode 100 000 times in a fuzz run: the
    fixture block's coinbase and twelve of its transactions (six with witnesses), with the
    merkle root and the BIP141 witness commitment recomputed so it decodes and commits."""
    from indexer.bitcoin.merkle import merkle_root, witness_commitment_ok
    from indexer.hashing import dsha256

    prefix = bytes.fromhex("6a24aa21a9ed")
    body = block.txs[1:]
    txs = [tx for tx in body if tx.has_witness][:6] + [tx for tx in body if not tx.has_witness][:6]
    coinbase = block.txs[0]
    reserved = coinbase.inputs[0].witness[0]
    commitment = dsha256(merkle_root([b"\x00" * 32] + [tx.wtxid_internal for tx in txs]) + reserved)
    outputs = [(o.value_sats, o.script_pubkey) for o in coinbase.outputs if o.script_pubkey[:6] != prefix]
    cb_in = coinbase.inputs[0]
    coinbase_raw = serialize_tx(
        [*outputs, (0, prefix + commitment)],
        inputs=[(cb_in.prev_txid_internal, cb_in.vout, cb_in.script_sig)],
        witnesses=[list(cb_in.witness)],
        version=coinbase.version,
        locktime=coinbase.locktime,
    )
    raws = [coinbase_raw, *(tx.raw for tx in txs)]
    root = merkle_root([decode_tx(raws[0]).txid_internal, *(tx.txid_internal for tx in txs)])
    h = block.header
    raw = serialize_block((h.version, h.prev_hash_internal, root, h.time, h.bits, h.nonce), raws)
    assert witness_commitment_ok(decode_block(raw)) is True
    return raw
