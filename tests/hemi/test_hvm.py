"""updateHvmState calldata (0x7C): byte-exact encoding, strict decoding, envelope.

Headers are real Bitcoin mainnet headers 1-3. The encoding is checked three ways: an explicit
byte layout written out here, eth_abi's generic ABI encoder, and decode(encode(x)) == x.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_abi import encode as abi_encode

from indexer.hashing import keccak256
from indexer.hemi.hvm import (
    DEFAULT_MAX_HEADERS,
    UPDATE_HVM_STATE_SELECTOR,
    UPDATE_HVM_STATE_SIGNATURE,
    HvmDecodeError,
    decode_btc_attributes_tx,
    decode_update_hvm_state,
    encode_btc_attributes_tx,
    encode_update_hvm_state,
    expected_calldata_size,
)
from indexer.hemi.rlpcodec import decode_system_tx, encode_system_tx

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"
RAW = (FIXTURES / "btc-mainnet-headers-1-3.bin").read_bytes()
HEADERS = [RAW[i : i + 80] for i in range(0, 240, 80)]
BLOCK_HASHES_DISPLAY = [
    "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048",
    "000000006a625f06636b8bb6ac7b960a8d03705d1ace08b1a19da3fdcc99ddbd",
    "0000000082b5015589a3fdf2d4baff403e6f0be035a5d9742c1cae6295464449",
]
# The canonical tip is carried in INTERNAL order (Go chainhash bytes): the reversed display hash.
TIP_INTERNAL = bytes.fromhex(BLOCK_HASHES_DISPLAY[2])[::-1]


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def test_selector_is_keccak_of_the_signature():
    assert keccak256(UPDATE_HVM_STATE_SIGNATURE.encode())[:4] == UPDATE_HVM_STATE_SELECTOR
    assert UPDATE_HVM_STATE_SELECTOR.hex() == "c94f1cca"


def test_fixture_headers_are_bitcoin_blocks_1_to_3():
    update = decode_update_hvm_state(encode_update_hvm_state(TIP_INTERNAL, HEADERS))
    assert list(update.header_hashes_display) == BLOCK_HASHES_DISPLAY
    assert update.canonical_tip_display == BLOCK_HASHES_DISPLAY[2]


def test_zero_headers_is_exactly_100_bytes():
    data = encode_update_hvm_state(TIP_INTERNAL, [])
    assert len(data) == 100 == expected_calldata_size(0)
    assert data.hex() == "c94f1cca" + TIP_INTERNAL.hex() + "00" * 31 + "40" + "00" * 32
    update = decode_update_hvm_state(data)
    assert update.headers == () and update.canonical_tip_internal == TIP_INTERNAL


def test_one_header_layout_byte_by_byte():
    data = encode_update_hvm_state(TIP_INTERNAL, HEADERS[:1])
    assert len(data) == 4 + 96 + 160 == 260
    assert data[0:4] == bytes.fromhex("c94f1cca")
    assert data[4:36] == TIP_INTERNAL
    assert data[36:68] == word(0x40)
    assert data[68:100] == word(1)
    assert data[100:132] == word(0x20)  # offset of header 0 = 32*N
    assert data[132:164] == word(0x50)
    assert data[164:244] == HEADERS[0]
    assert data[244:260] == bytes(16)


def test_three_headers_layout_byte_by_byte():
    data = encode_update_hvm_state(TIP_INTERNAL, HEADERS)
    assert len(data) == 4 + 96 + 160 * 3 == 580
    assert data[68:100] == word(3)
    assert [data[100 + 32 * i : 132 + 32 * i] for i in range(3)] == [word(0x60), word(0xE0), word(0x160)]
    slots = 100 + 32 * 3
    for i, header in enumerate(HEADERS):
        slot = slots + 128 * i
        assert data[slot : slot + 32] == word(0x50)
        assert data[slot + 32 : slot + 112] == header
        assert data[slot + 112 : slot + 128] == bytes(16)
    assert decode_update_hvm_state(data).headers == tuple(HEADERS)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_encoding_equals_generic_abi_encoding(n):
    generic = UPDATE_HVM_STATE_SELECTOR + abi_encode(["bytes32", "bytes[]"], [TIP_INTERNAL, HEADERS[:n]])
    assert encode_update_hvm_state(TIP_INTERNAL, HEADERS[:n]) == generic


def test_cap_defaults_to_30_and_is_configurable():
    thirty = encode_update_hvm_state(TIP_INTERNAL, [HEADERS[0]] * DEFAULT_MAX_HEADERS)
    assert len(decode_update_hvm_state(thirty).headers) == 30
    with pytest.raises(HvmDecodeError, match="30 headers exceed the cap of 6"):
        decode_update_hvm_state(thirty, max_headers=6)
    with pytest.raises(HvmDecodeError, match="31 headers exceed the cap of 30"):
        encode_update_hvm_state(TIP_INTERNAL, [HEADERS[0]] * 31)


def mutate(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


VALID = encode_update_hvm_state(TIP_INTERNAL, HEADERS)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "selector"),
        (mutate(VALID, 0, b"\xc9\x4f\x1c\xcb"), "selector"),
        (VALID[:99], "shorter than the fixed 100-byte part"),
        (mutate(VALID, 36, word(0x60)), "bytes\\[\\] offset is 0x60"),
        (mutate(VALID, 68, word(31)), "31 headers exceed the cap of 30"),
        (mutate(VALID, 68, word(2**255)), "exceed the cap"),
        (mutate(VALID, 100 + 32, word(0xE1)), "offset of header 1 is 0xe1, expected 0xe0"),
        (mutate(VALID, 196, word(0x4F)), "length of header 0 is 0x4f, expected 0x50"),
        (mutate(VALID, 196 + 128, word(0x51)), "length of header 1 is 0x51"),
        (mutate(VALID, 196 + 112 + 15, b"\x01"), "padding after header 0 is not zero"),
        (mutate(VALID, 196 + 256 + 112, b"\x80"), "padding after header 2 is not zero"),
        (VALID + b"\x00", "1 trailing byte"),
        (VALID[:-1], "580"),
        (mutate(VALID, 68, word(2)), "trailing"),  # N=2 with 3 headers of data
    ],
)
def test_strict_decoder_rejects_with_a_precise_reason(data, reason):
    with pytest.raises(HvmDecodeError, match=reason):
        decode_update_hvm_state(data)


def test_encoder_refuses_bad_inputs():
    with pytest.raises(HvmDecodeError, match="canonical tip must be 32 bytes"):
        encode_update_hvm_state(TIP_INTERNAL[:31], [])
    with pytest.raises(HvmDecodeError, match="header 1 must be 80 bytes, got 79"):
        encode_update_hvm_state(TIP_INTERNAL, [HEADERS[0], HEADERS[1][:79]])


def test_full_0x7c_transaction_round_trip():
    raw = encode_btc_attributes_tx(TIP_INTERNAL, HEADERS)
    envelope = decode_system_tx(raw)
    assert raw[0] == 0x7C and envelope.to_address == bytes.fromhex("88" * 20) and envelope.gas == 1_000_000
    tx = decode_btc_attributes_tx(raw)
    assert tx.update.headers == tuple(HEADERS) and tx.update.canonical_tip_internal == TIP_INTERNAL


def test_0x7c_with_nil_to_and_the_wrong_type_byte():
    data = encode_update_hvm_state(TIP_INTERNAL, HEADERS[:1])
    raw = encode_system_tx(0x7C, None, 1_000_000, data)
    assert decode_btc_attributes_tx(raw).to_address is None
    with pytest.raises(HvmDecodeError, match="bad 0x7C envelope"):
        decode_btc_attributes_tx(b"\x7d" + raw[1:])
    with pytest.raises(HvmDecodeError, match="trailing"):
        decode_btc_attributes_tx(encode_system_tx(0x7C, None, 1_000_000, data + b"\x00"))
