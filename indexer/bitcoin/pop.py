"""Proof-of-Proof (PoP) publications on Bitcoin: find and decode them (pure, no Django).

Rules (spec §3.2, mirroring heminetwork's ``pop.ParseTransactionL2FromOpReturn`` as tbcd's
keystone indexer applies it):

1. skip the coinbase transaction;
2. look at EVERY output (not only the first match per tx, unlike v1 bfgd);
3. the script's first opcode is OP_RETURN and the next token is a data push (direct 0x01-0x4b,
   OP_PUSHDATA1/2/4); its data is >= 5 bytes and starts with ``HEMI``; opcodes after the push
   are not looked at;
4. ``data[4:]`` of exactly 76 bytes with version byte 1 is a current keystone abbreviation
   ("v1"); exactly 73 bytes with version 1 is the decode-only legacy ``hemi.Header``
   ("legacy", spec §3.5).

Design choice for HEMI-tagged pushes that fit neither layout (wrong length or version): they
are NOT publications (tbcd ignores them), but someone deliberately tagged them, so an auditor
wants to see them. ``scan_block`` therefore returns them separately as ``MalformedPoP`` with a
reason code; they never appear among ``PopOutput`` records.

The miner identity follows v1 bfgd's ``ParsePublicKeyFromSignatureScript`` (spec §3.2/§3.3):
input 0's scriptSig must start with a direct push of exactly 71 or 72 bytes (the DER signature
plus sighash byte), followed by a push of exactly 33 bytes that parses as a compressed secp256k1
key. Anything else (segwit spends, multisig, garbage) gives no miner identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Literal, NamedTuple

import coincurve

from indexer.bitcoin.decode import Block, Tx
from indexer.hashing import dsha256, keccak256
from indexer.keystone import (
    ABREV_SIZE,
    LEGACY_HEADER_SIZE,
    KeystoneAbrev,
    KeystoneDecodeError,
    LegacyKeystoneHeader,
)

POP_MAGIC = b"HEMI"
OP_RETURN = 0x6A
OP_PUSHDATA1, OP_PUSHDATA2, OP_PUSHDATA4 = 0x4C, 0x4D, 0x4E

# OP_RETURN, OP_PUSHDATA1 80, "HEMI", version 1: prefix of every standard 83-byte PoP script.
_STANDARD_V1_PREFIX = bytes.fromhex("6a4c5048454d4901")

PopFormat = Literal["v1", "legacy"]


class PopOutput(NamedTuple):
    """One PoP publication: a keystone carried by output ``vout`` of tx ``txid_display``.

    A NamedTuple rather than a dataclass: a testnet3 block yields thousands of these and tuple
    construction is several times cheaper.
    """

    txid_display: str
    tx_index: int | None  # position in the block; None when decoded from a lone tx
    vout: int
    format: PopFormat
    keystone: KeystoneAbrev | LegacyKeystoneHeader
    keystone_id_display: str
    miner_pubkey: bytes | None  # 33-byte compressed key from input 0, if it is a P2PKH spend
    miner_hemi_address: str | None  # 0x + 40 lower-case hex chars


class MalformedPoP(NamedTuple):
    """A HEMI-tagged OP_RETURN push that is not a decodable keystone (see module docstring)."""

    txid_display: str
    tx_index: int | None
    vout: int
    reason: str  # "bad-length" | "bad-version"
    payload: bytes  # the push data after the HEMI magic


class PopScan(NamedTuple):
    outputs: list[PopOutput]
    malformed: list[MalformedPoP]


def read_push(script: bytes, pos: int) -> tuple[bytes, int] | None:
    """Data pushed by the opcode at ``pos`` and the offset after it, or None.

    Mirrors btcd's script tokenizer: direct pushes 0x01-0x4b and OP_PUSHDATA1/2/4 (lengths
    little-endian) carry data; a push whose announced length runs past the end of the script is
    a parse error (None); OP_0 and non-push opcodes carry no data (None here, since neither a
    HEMI payload nor a signature/pubkey can be empty).
    """
    n = len(script)
    if pos >= n:
        return None
    op = script[pos]
    if 0x01 <= op <= 0x4B:
        start, length = pos + 1, op
    elif op == OP_PUSHDATA1 and pos + 2 <= n:
        start, length = pos + 2, script[pos + 1]
    elif op == OP_PUSHDATA2 and pos + 3 <= n:
        start, length = pos + 3, int.from_bytes(script[pos + 1 : pos + 3], "little")
    elif op == OP_PUSHDATA4 and pos + 5 <= n:
        start, length = pos + 5, int.from_bytes(script[pos + 1 : pos + 5], "little")
    else:
        return None
    end = start + length
    if end > n:
        return None
    return script[start:end], end


def push_data_after_op_return(script: bytes) -> bytes | None:
    """Data of the token that follows a leading OP_RETURN, or None."""
    if not script or script[0] != OP_RETURN:
        return None
    token = read_push(script, 1)
    return None if token is None else token[0]


def classify_pop_script(script: bytes) -> tuple[PopFormat, bytes] | tuple[None, str, bytes] | None:
    """Classify an output script.

    Returns ("v1" | "legacy", keystone payload) for a publication, (None, reason, payload) for a
    malformed HEMI push, or None for anything that is not HEMI-tagged at all.
    """
    if len(script) == 83 and script[:8] == _STANDARD_V1_PREFIX:
        return "v1", script[7:]  # the layout every PoP miner emits (spec §3.1); skips tokenizing
    data = push_data_after_op_return(script)
    if data is None or len(data) < 5 or data[:4] != POP_MAGIC:
        return None
    payload = data[4:]
    if payload[0] != 1:
        return None, "bad-version", payload
    if len(payload) == ABREV_SIZE:
        return "v1", payload
    if len(payload) == LEGACY_HEADER_SIZE:
        return "legacy", payload
    return None, "bad-length", payload


@lru_cache(maxsize=8192)
def miner_address_for_pubkey(pubkey_compressed: bytes) -> str | None:
    """Hemi (EVM) address of a compressed secp256k1 key: keccak256(X || Y)[12:], spec §3.3.

    None when the 33 bytes are not a valid compressed point (bfgd would reject the tx).
    Cached: a handful of PoP miners publish thousands of times per block.
    """
    if len(pubkey_compressed) != 33 or pubkey_compressed[0] not in (2, 3):
        return None
    try:
        uncompressed = coincurve.PublicKey(pubkey_compressed).format(compressed=False)
    except ValueError:
        return None
    return "0x" + keccak256(uncompressed[1:])[12:].hex()


def miner_pubkey_from_script_sig(script_sig: bytes) -> bytes | None:
    """The compressed pubkey of a ``<sig 71|72> <pubkey 33>`` scriptSig, else None.

    Like bfgd, only the first two tokens are looked at: the first must be the direct push
    opcode 71 or 72 (OP_DATA_71/72), the second any push of exactly 33 bytes that is a valid
    compressed point.
    """
    if not script_sig or script_sig[0] not in (71, 72):
        return None
    sig = read_push(script_sig, 0)
    if sig is None:
        return None
    key = read_push(script_sig, sig[1])
    if key is None or len(key[0]) != 33:
        return None
    pubkey = key[0]
    return pubkey if miner_address_for_pubkey(pubkey) is not None else None


def _keystone_and_id(fmt: PopFormat, payload: bytes) -> tuple[KeystoneAbrev | LegacyKeystoneHeader, str]:
    keystone = KeystoneAbrev.from_bytes(payload) if fmt == "v1" else LegacyKeystoneHeader.from_bytes(payload)
    # The id is dsha256 of the abbreviation bytes (spec §2.4). ``payload`` IS those bytes
    # (from_bytes/to_bytes round-trip exactly), so hash it directly instead of re-packing.
    return keystone, dsha256(payload)[::-1].hex()


def _scan(
    candidates: Iterable[tuple[int, int, bytes]],
    tx_at: Callable[[int], Tx],
    index_of: Callable[[int], int | None],
) -> PopScan:
    """Shared loop: ``candidates`` are (tx position, vout, script) in block order; ``index_of``
    turns a position into the ``tx_index`` to report.

    The transaction object, its coinbase check and its miner identity are only looked at once a
    HEMI-tagged push is found, and then once per transaction.
    """
    outputs: list[PopOutput] = []
    malformed: list[MalformedPoP] = []
    current = -1
    txid = ""
    skip = False
    miner: tuple[bytes | None, str | None] | None = None
    tx: Tx | None = None
    for position, vout, script in candidates:
        found = classify_pop_script(script)
        if found is None:
            continue
        if position != current:
            current, tx, miner = position, tx_at(position), None
            skip = tx.is_coinbase
            txid = tx.txid_display
        if skip:
            continue
        tx_index = index_of(position)
        if found[0] is None:
            malformed.append(MalformedPoP(txid, tx_index, vout, found[1], found[2]))
            continue
        fmt, payload = found
        try:
            keystone, keystone_id = _keystone_and_id(fmt, payload)
        except KeystoneDecodeError as exc:  # unreachable after classify; kept as a loud guard
            malformed.append(MalformedPoP(txid, tx_index, vout, f"undecodable: {exc}", payload))
            continue
        if miner is None:
            assert tx is not None
            pubkey = miner_pubkey_from_script_sig(tx.first_input_script_sig)
            miner = (pubkey, None if pubkey is None else miner_address_for_pubkey(pubkey))
        outputs.append(PopOutput(txid, tx_index, vout, fmt, keystone, keystone_id, miner[0], miner[1]))
    return PopScan(outputs, malformed)


def scan_tx(tx: Tx, tx_index: int | None = None) -> PopScan:
    """PoP outputs of a single transaction (none for a coinbase)."""
    candidates = [(0, vout, out.script_pubkey) for vout, out in enumerate(tx.outputs)]
    return _scan(candidates, lambda _position: tx, lambda _position: tx_index)


def scan_block(block: Block) -> PopScan:
    """PoP outputs of every non-coinbase transaction of a block, in block order.

    Fast path: ``decode_block`` already located every output script starting with OP_RETURN,
    so only those are examined and no transaction is fully parsed.
    """
    raw = block.raw
    candidates = ((i, vout, raw[start:end]) for i, vout, start, end in block.op_returns)
    return _scan(candidates, block.tx, lambda position: position)
