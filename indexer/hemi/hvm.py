"""``updateHvmState(bytes32 canonicalTip, bytes[] headers)`` - the calldata of Hemi's 0x7C tx.

Every Hemi block after hVM activation that learns new Bitcoin headers carries one "Bitcoin
attributes deposited" system transaction (type 0x7C, spec §5.2). Its calldata is a fixed-shape
ABI encoding that op-geth decodes strictly; we decode it exactly as strictly and can re-encode
it byte for byte (the devnet sequencer uses :func:`encode_update_hvm_state`)::

    offset  size   content
    0       4      c94f1cca
    4       32     canonical Bitcoin tip hash, INTERNAL byte order (chainhash bytes)
    36      32     0x40   (offset of the bytes[] array)
    68      32     N      (number of headers)
    100     32*N   per-header offsets relative to byte 100: 32*N, 32*N+128, …
    …       128*N  per header: length word (0x50), 80-byte header, 16 zero bytes
    total = 4 + 96 + 160*N

op-geth caps N (6 in the 2024 code, 30 later); the cap is a parameter here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from indexer.hashing import dsha256
from indexer.hemi.records import BTC_ATTRIBUTES_TX
from indexer.hemi.rlpcodec import SYSTEM_TX_GAS, SystemTxDecodeError, decode_system_tx, encode_system_tx

UPDATE_HVM_STATE_SIGNATURE = "updateHvmState(bytes32,bytes[])"
UPDATE_HVM_STATE_SELECTOR = bytes.fromhex("c94f1cca")  # keccak256(signature)[:4], checked in tests

BTC_HEADER_SIZE = 80
DEFAULT_MAX_HEADERS = 30
HEADER_SLOT_SIZE = 128  # length word + 80 bytes padded to 96
_WORD = 32
_FIXED_PART = 4 + 3 * _WORD  # selector, tip, array offset, N
_ARRAY_OFFSET = 0x40
_PADDING = bytes(3 * _WORD - BTC_HEADER_SIZE)  # 16 zero bytes

# op-geth builds 0x7C with to = the sender address (spec §5.2); 0x8400… is named in comments.
HVM_STATE_PREDEPLOY = bytes.fromhex("84" + "00" * 19)


class HvmDecodeError(ValueError):
    """Calldata or envelope that is not a canonical updateHvmState call; the message says why."""


@dataclass(frozen=True, slots=True)
class HvmStateUpdate:
    canonical_tip_internal: bytes  # 32 bytes, Bitcoin internal order (as in the calldata)
    headers: tuple[bytes, ...]  # raw 80-byte Bitcoin headers, in calldata order

    @property
    def canonical_tip_display(self) -> str:
        return self.canonical_tip_internal[::-1].hex()

    @property
    def header_hashes_internal(self) -> tuple[bytes, ...]:
        return tuple(dsha256(h) for h in self.headers)

    @property
    def header_hashes_display(self) -> tuple[str, ...]:
        return tuple(h[::-1].hex() for h in self.header_hashes_internal)


@dataclass(frozen=True, slots=True)
class BtcAttributesTx:
    """A decoded 0x7C transaction: envelope fields plus the decoded call."""

    to_address: bytes | None
    gas: int
    update: HvmStateUpdate


def _word(value: int) -> bytes:
    return value.to_bytes(_WORD, "big")


def encode_update_hvm_state(
    canonical_tip_internal: bytes, headers: Sequence[bytes], *, max_headers: int = DEFAULT_MAX_HEADERS
) -> bytes:
    """Calldata identical to op-geth's ``BtcAttributesDepositData.MarshalBinary``."""
    if len(canonical_tip_internal) != 32:
        raise HvmDecodeError(f"canonical tip must be 32 bytes, got {len(canonical_tip_internal)}")
    if len(headers) > max_headers:
        raise HvmDecodeError(f"{len(headers)} headers exceed the cap of {max_headers}")
    n = len(headers)
    parts = [UPDATE_HVM_STATE_SELECTOR, canonical_tip_internal, _word(_ARRAY_OFFSET), _word(n)]
    parts += [_word(_WORD * n + HEADER_SLOT_SIZE * i) for i in range(n)]
    for i, header in enumerate(headers):
        if len(header) != BTC_HEADER_SIZE:
            raise HvmDecodeError(f"header {i} must be {BTC_HEADER_SIZE} bytes, got {len(header)}")
        parts += [_word(BTC_HEADER_SIZE), header, _PADDING]
    return b"".join(parts)


def expected_calldata_size(n_headers: int) -> int:
    return _FIXED_PART + (_WORD + HEADER_SLOT_SIZE) * n_headers


def decode_update_hvm_state(calldata: bytes, *, max_headers: int = DEFAULT_MAX_HEADERS) -> HvmStateUpdate:
    """Strictly decode updateHvmState calldata.

    1. Selector must be c94f1cca and the fixed part (tip, array offset 0x40, N) present.
    2. N must not exceed ``max_headers``; the total size must be exactly 4 + 96 + 160*N.
    3. Offset word i must equal 32*N + 128*i.
    4. Each slot: length word exactly 0x50, 80 header bytes, 16 zero padding bytes.
    """
    if len(calldata) < 4 or calldata[:4] != UPDATE_HVM_STATE_SELECTOR:
        raise HvmDecodeError(
            f"selector is 0x{calldata[:4].hex()}, expected 0x{UPDATE_HVM_STATE_SELECTOR.hex()}"
        )
    if len(calldata) < _FIXED_PART:
        raise HvmDecodeError(
            f"calldata is {len(calldata)} bytes, shorter than the fixed {_FIXED_PART}-byte part"
        )

    def word(offset: int) -> int:
        return int.from_bytes(calldata[offset : offset + _WORD], "big")

    tip = calldata[4:36]
    array_offset = word(36)
    if array_offset != _ARRAY_OFFSET:
        raise HvmDecodeError(f"bytes[] offset is {array_offset:#x}, expected 0x40")
    n = word(68)
    if n > max_headers:
        raise HvmDecodeError(f"{n} headers exceed the cap of {max_headers}")
    expected = expected_calldata_size(n)
    if len(calldata) < expected:
        raise HvmDecodeError(f"calldata is {len(calldata)} bytes, {n} headers need exactly {expected}")
    if len(calldata) > expected:
        raise HvmDecodeError(f"{len(calldata) - expected} trailing byte(s) after {n} headers")

    headers = []
    slots_start = _FIXED_PART + _WORD * n
    for i in range(n):
        offset = word(_FIXED_PART + _WORD * i)
        if offset != _WORD * n + HEADER_SLOT_SIZE * i:
            raise HvmDecodeError(
                f"offset of header {i} is {offset:#x}, expected {_WORD * n + HEADER_SLOT_SIZE * i:#x}"
            )
        slot = slots_start + HEADER_SLOT_SIZE * i
        length = word(slot)
        if length != BTC_HEADER_SIZE:
            raise HvmDecodeError(f"length of header {i} is {length:#x}, expected 0x50")
        header = calldata[slot + _WORD : slot + _WORD + BTC_HEADER_SIZE]
        padding = calldata[slot + _WORD + BTC_HEADER_SIZE : slot + HEADER_SLOT_SIZE]
        if padding != _PADDING:
            raise HvmDecodeError(f"padding after header {i} is not zero: {padding.hex()}")
        headers.append(header)
    return HvmStateUpdate(canonical_tip_internal=tip, headers=tuple(headers))


def encode_btc_attributes_tx(
    canonical_tip_internal: bytes,
    headers: Sequence[bytes],
    *,
    to_address: bytes | None = bytes.fromhex("88" * 20),
    gas: int = SYSTEM_TX_GAS,
    max_headers: int = DEFAULT_MAX_HEADERS,
) -> bytes:
    """Full 0x7C transaction bytes; defaults match op-geth's ``MakeBtcAttributesDepositedTx``."""
    data = encode_update_hvm_state(canonical_tip_internal, headers, max_headers=max_headers)
    return encode_system_tx(BTC_ATTRIBUTES_TX, to_address, gas, data)


def decode_btc_attributes_tx(raw: bytes, *, max_headers: int = DEFAULT_MAX_HEADERS) -> BtcAttributesTx:
    """Decode a raw 0x7C transaction (envelope ``0x7C || rlp([to, gas, data])``)."""
    try:
        envelope = decode_system_tx(raw, expected_type=BTC_ATTRIBUTES_TX)
    except SystemTxDecodeError as exc:
        raise HvmDecodeError(f"bad 0x7C envelope: {exc}") from exc
    return BtcAttributesTx(
        to_address=envelope.to_address,
        gas=envelope.gas,
        update=decode_update_hvm_state(envelope.data, max_headers=max_headers),
    )
