"""The hand-written RLP encoder gives pyrlp's bytes, byte for byte, and refuses what it should.

pyrlp (``rlp.encode``) is the independent reference: random nested structures of byte strings,
non-negative integers (including the 55/56-byte and 2**64 boundaries of the length prefixes)
and lists; plus the recorded real-chain transactions re-encoded both ways.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from indexer.hemi import rlpfast
from indexer.hemi.mappers import map_block
from indexer.hemi.rlpcodec import encode_receipt, encode_transaction, transaction_payload
from tests.fuzzing import FUZZ, ByteSource

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"

# Lengths around the short/long prefix boundary (55/56) and the single-byte rule.
strings = st.one_of(
    st.binary(max_size=3),
    st.binary(min_size=54, max_size=58),
    st.binary(max_size=300),
    st.integers(0, 0x7F).map(lambda b: bytes([b])),
)
BOUNDARY_INTS = [0x7F, 0x80, 0xFF, 0x100, 2**64 - 1, 2**64, 256**55 - 1, 256**55, 256**56]
integers = st.one_of(st.integers(0, 300), st.integers(0, 2**256 - 1), st.sampled_from(BOUNDARY_INTS))


def rlp_item(src: ByteSource, depth: int = 0):
    """A random nested structure of byte strings, integers, lists and pairs, read from fuzzed
    bytes (nested hypothesis strategies cost ~10x more to generate than the encoding itself)."""
    kind = src.below(10)
    if kind < 2 and depth < 4:
        return [rlp_item(src, depth + 1) for _ in range(src.below(7))]
    if kind == 2 and depth < 4:
        return (rlp_item(src, depth + 1), rlp_item(src, depth + 1))
    if kind < 6:
        return src.pick([lambda: src.blob(3), lambda: src.blob(58, 54), lambda: src.blob(300),
                         lambda: bytes([src.below(0x80)])])()
    return src.pick([lambda: src.below(301), lambda: src.uint(32), lambda: src.pick(BOUNDARY_INTS)])()


FUZZ_BYTES = st.binary(min_size=32, max_size=2048)


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_encode_matches_pyrlp(data):
    item = rlp_item(ByteSource(data))
    assert rlpfast.encode(item) == rlp.encode(item)


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_encode_list_matches_pyrlp(data):
    src = ByteSource(data)
    values = [rlp_item(src) for _ in range(src.below(9))]
    assert rlpfast.encode_list(values) == rlp.encode(values)


@pytest.mark.fuzz
@FUZZ
@given(integers)
def test_encode_int_matches_pyrlp(value):
    assert rlpfast.encode_int(value) == rlp.encode(value)


@pytest.mark.fuzz
@FUZZ
@given(strings)
def test_encode_string_matches_pyrlp_for_bytes_and_bytearray(data):
    assert rlpfast.encode_string(data) == rlp.encode(data)
    assert rlpfast.encode(bytearray(data)) == rlp.encode(data)


def test_long_payload_prefixes():
    # A list payload of exactly 56 bytes takes the long form (0xf8 0x38).
    assert rlpfast.encode([b"\x01" * 55]) == rlp.encode([b"\x01" * 55])
    assert rlpfast.encode([b"\x01" * 55])[:2] == b"\xf8\x38"
    assert rlpfast.encode(b"x" * 1024)[:3] == b"\xb9\x04\x00"


@pytest.mark.parametrize("bad", [True, False, "text", -1, 1.5, None, {b"k": b"v"}])
def test_values_without_a_canonical_encoding_are_refused(bad):
    with pytest.raises(rlpfast.RlpEncodeError):
        rlpfast.encode(bad)
    with pytest.raises(rlpfast.RlpEncodeError):
        rlpfast.encode_list([b"ok", bad])


def test_records_are_not_encoded_as_lists():
    # Records are named tuples; encoding one by field order would be a silent wrong encoding.
    from indexer.hemi.records import AccessListEntry

    entry = AccessListEntry(address=b"\x11" * 20, storage_keys=())
    with pytest.raises(rlpfast.RlpEncodeError, match="AccessListEntry"):
        rlpfast.encode_list([entry])
    with pytest.raises(rlpfast.RlpEncodeError):
        rlpfast.encode(entry)


@pytest.mark.parametrize("name", ["goerli-block-8651337-london.json", "goerli-block-8656414-shanghai.json"])
def test_recorded_transactions_encode_like_pyrlp(name):
    block = map_block(json.loads((FIXTURES / name).read_text()))
    assert block.transactions
    for tx in block.transactions:
        payload = transaction_payload(tx)
        assert rlpfast.encode_list(payload) == rlp.encode(payload)
        raw = encode_transaction(tx)
        assert raw.endswith(rlp.encode(payload))


def test_receipt_encoding_matches_pyrlp():
    from indexer.hemi.mappers import map_receipt

    receipt = map_receipt(
        {
            "transactionHash": "0x" + "11" * 32,
            "transactionIndex": "0x0",
            "blockHash": "0x" + "22" * 32,
            "blockNumber": "0x5",
            "from": "0x" + "33" * 20,
            "to": "0x" + "44" * 20,
            "cumulativeGasUsed": "0x5208",
            "gasUsed": "0x5208",
            "status": "0x1",
            "logsBloom": "0x" + "00" * 256,
            "type": "0x2",
            "logs": [
                {
                    "address": "0x" + "55" * 20,
                    "topics": ["0x" + "66" * 32, "0x" + "77" * 32],
                    "data": "0x" + "88" * 64,
                    "logIndex": "0x0",
                }
            ],
        }
    )
    logs = [[log.address, list(log.topics), log.data] for log in receipt.logs]
    expected = b"\x02" + rlp.encode([b"\x01", receipt.cumulative_gas_used, receipt.logs_bloom, logs])
    assert encode_receipt(receipt) == expected
