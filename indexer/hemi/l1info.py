"""OP-stack L1-attributes ("L1 info") deposit calldata: decode and encode (pure).

The first transaction of every Hemi block is a 0x7E deposit from the L1-info depositor
``0xDeaD…0001`` to the L1Block predeploy ``0x4200…0015``. Its calldata names the block's
**L1 origin** - the Ethereum block number that goes into the keystone (spec §2.2).

Three layouts, chosen by selector:

* Bedrock ``setL1BlockValues(uint64,uint64,uint256,bytes32,uint64,bytes32,uint256,uint256)``
  ``0x015d8eb9``: standard ABI, 4 + 8*32 = 260 bytes.
* Ecotone ``setL1BlockValuesEcotone()`` ``0x440a5e20``: tightly packed, 4 + 160 = 164 bytes:
  baseFeeScalar u32, blobBaseFeeScalar u32, sequenceNumber u64, timestamp u64, number u64,
  basefee u256, blobBaseFee u256, hash bytes32, batcherHash bytes32.
* Isthmus ``setL1BlockValuesIsthmus()`` ``0x098999be``: Ecotone + operatorFeeScalar u32 +
  operatorFeeConstant u64 = 176 bytes (ethereum-optimism specs, isthmus/l1-attributes.md).

Note the activation block of a fork still uses the previous layout; decoding by selector
(not by timestamp) handles that without knowing fork times.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

L1_INFO_DEPOSITOR = bytes.fromhex("deaddeaddeaddeaddeaddeaddeaddeaddead0001")
L1_BLOCK_PREDEPLOY = bytes.fromhex("4200000000000000000000000000000000000015")

BEDROCK_SIGNATURE = "setL1BlockValues(uint64,uint64,uint256,bytes32,uint64,bytes32,uint256,uint256)"
ECOTONE_SIGNATURE = "setL1BlockValuesEcotone()"
ISTHMUS_SIGNATURE = "setL1BlockValuesIsthmus()"
# keccak256(signature)[:4]; verified against the signatures in tests.
BEDROCK_SELECTOR = bytes.fromhex("015d8eb9")
ECOTONE_SELECTOR = bytes.fromhex("440a5e20")
ISTHMUS_SELECTOR = bytes.fromhex("098999be")

BEDROCK_LEN = 4 + 8 * 32
ECOTONE_LEN = 4 + 160
ISTHMUS_LEN = ECOTONE_LEN + 4 + 8

# Packed head of Ecotone/Isthmus: u32 u32 u64 u64 u64, then 4 full words.
_PACKED_HEAD = struct.Struct(">IIQQQ")
_U64_MAX = 2**64 - 1
_U32_MAX = 2**32 - 1


class L1InfoDecodeError(ValueError):
    """Calldata that is not a well-formed L1-attributes call."""


@dataclass(frozen=True, slots=True)
class L1BlockInfo:
    """Fields of the L1-attributes call; later-fork fields are None on older layouts."""

    layout: str  # "bedrock" | "ecotone" | "isthmus"
    number: int  # L1 origin block number
    timestamp: int
    base_fee: int
    block_hash: bytes  # L1 origin block hash (EVM order)
    sequence_number: int  # L2 blocks since the start of this epoch
    batcher_hash: bytes  # 32 bytes, version 0 = left-padded batcher address
    l1_fee_overhead: int | None = None  # bedrock only
    l1_fee_scalar: int | None = None  # bedrock only
    base_fee_scalar: int | None = None  # ecotone+
    blob_base_fee_scalar: int | None = None  # ecotone+
    blob_base_fee: int | None = None  # ecotone+
    operator_fee_scalar: int | None = None  # isthmus
    operator_fee_constant: int | None = None  # isthmus

    @property
    def batcher_address(self) -> bytes:
        return self.batcher_hash[12:]


def _word_int(data: bytes, index: int, field: str, max_value: int | None = None) -> int:
    value = int.from_bytes(data[4 + 32 * index : 4 + 32 * (index + 1)], "big")
    if max_value is not None and value > max_value:
        raise L1InfoDecodeError(f"{field} {value} does not fit its declared type")
    return value


def _word_bytes(data: bytes, index: int) -> bytes:
    return data[4 + 32 * index : 4 + 32 * (index + 1)]


def decode_l1_info(calldata: bytes) -> L1BlockInfo:
    selector = calldata[:4]
    if selector == BEDROCK_SELECTOR:
        if len(calldata) != BEDROCK_LEN:
            raise L1InfoDecodeError(f"bedrock L1 info must be {BEDROCK_LEN} bytes, got {len(calldata)}")
        return L1BlockInfo(
            layout="bedrock",
            number=_word_int(calldata, 0, "number", _U64_MAX),
            timestamp=_word_int(calldata, 1, "timestamp", _U64_MAX),
            base_fee=_word_int(calldata, 2, "basefee"),
            block_hash=_word_bytes(calldata, 3),
            sequence_number=_word_int(calldata, 4, "sequenceNumber", _U64_MAX),
            batcher_hash=_word_bytes(calldata, 5),
            l1_fee_overhead=_word_int(calldata, 6, "l1FeeOverhead"),
            l1_fee_scalar=_word_int(calldata, 7, "l1FeeScalar"),
        )
    if selector in (ECOTONE_SELECTOR, ISTHMUS_SELECTOR):
        isthmus = selector == ISTHMUS_SELECTOR
        expected = ISTHMUS_LEN if isthmus else ECOTONE_LEN
        layout = "isthmus" if isthmus else "ecotone"
        if len(calldata) != expected:
            raise L1InfoDecodeError(f"{layout} L1 info must be {expected} bytes, got {len(calldata)}")
        base_scalar, blob_scalar, seq, ts, number = _PACKED_HEAD.unpack_from(calldata, 4)
        words = calldata[36:164]
        operator_scalar = operator_constant = None
        if isthmus:
            operator_scalar, operator_constant = struct.unpack_from(">IQ", calldata, 164)
        return L1BlockInfo(
            layout=layout,
            number=number,
            timestamp=ts,
            base_fee=int.from_bytes(words[0:32], "big"),
            block_hash=words[64:96],
            sequence_number=seq,
            batcher_hash=words[96:128],
            base_fee_scalar=base_scalar,
            blob_base_fee_scalar=blob_scalar,
            blob_base_fee=int.from_bytes(words[32:64], "big"),
            operator_fee_scalar=operator_scalar,
            operator_fee_constant=operator_constant,
        )
    raise L1InfoDecodeError(f"unknown L1 info selector 0x{selector.hex()}")


def _u256(value: int | None, field: str) -> bytes:
    if value is None or not 0 <= value < 2**256:
        raise L1InfoDecodeError(f"{field} must be a uint256, got {value}")
    return value.to_bytes(32, "big")


def _check(value: int | None, limit: int, field: str) -> int:
    if value is None or not 0 <= value <= limit:
        raise L1InfoDecodeError(f"{field} out of range: {value}")
    return value


def encode_l1_info(info: L1BlockInfo) -> bytes:
    """Byte-identical inverse of :func:`decode_l1_info` for all three layouts."""
    if len(info.block_hash) != 32 or len(info.batcher_hash) != 32:
        raise L1InfoDecodeError("block_hash and batcher_hash must be 32 bytes")
    if info.layout == "bedrock":
        return b"".join(
            [
                BEDROCK_SELECTOR,
                _u256(_check(info.number, _U64_MAX, "number"), "number"),
                _u256(_check(info.timestamp, _U64_MAX, "timestamp"), "timestamp"),
                _u256(info.base_fee, "basefee"),
                info.block_hash,
                _u256(_check(info.sequence_number, _U64_MAX, "sequenceNumber"), "sequenceNumber"),
                info.batcher_hash,
                _u256(info.l1_fee_overhead, "l1FeeOverhead"),
                _u256(info.l1_fee_scalar, "l1FeeScalar"),
            ]
        )
    if info.layout not in ("ecotone", "isthmus"):
        raise L1InfoDecodeError(f"unknown layout {info.layout!r}")
    head = _PACKED_HEAD.pack(
        _check(info.base_fee_scalar, _U32_MAX, "baseFeeScalar"),
        _check(info.blob_base_fee_scalar, _U32_MAX, "blobBaseFeeScalar"),
        _check(info.sequence_number, _U64_MAX, "sequenceNumber"),
        _check(info.timestamp, _U64_MAX, "timestamp"),
        _check(info.number, _U64_MAX, "number"),
    )
    out = b"".join(
        [
            ECOTONE_SELECTOR if info.layout == "ecotone" else ISTHMUS_SELECTOR,
            head,
            _u256(info.base_fee, "basefee"),
            _u256(info.blob_base_fee, "blobBaseFee"),
            info.block_hash,
            info.batcher_hash,
        ]
    )
    if info.layout == "isthmus":
        out += struct.pack(
            ">IQ",
            _check(info.operator_fee_scalar, _U32_MAX, "operatorFeeScalar"),
            _check(info.operator_fee_constant, _U64_MAX, "operatorFeeConstant"),
        )
    return out
