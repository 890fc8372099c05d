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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.hemi import rlpfast
from indexer.hemi.mappers import map_block
from indexer.hemi.rlpcodec import encode_receipt, encode_transaction, transaction_payload

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Lengths around the short/long prefix boundary (55/56) and the single-byte rule.
strings = st.one_of(
    st.binary(max_size=3),
    st.binary(min_size=54, max_size=58),
    st.binary(max_size=300),
    st.integers(0, 0x7F).map(lambda b: bytes([b])),
)
integers = st.one_of(
    st.integers(0, 300),
    st.integers(0, 2**256 - 1),
    st.sampled_from([0x7F, 0x80, 0xFF, 0x100, 2**64 - 1, 2**64, 256**55 - 1, 256**55, 256**56]),
)
items = st.recursive(
    st.one_of(strings, integers),
    lambda children: st.one_of(st.lists(children, max_size=6), st.tuples(children, children)),
    max_leaves=40,
)


@FAST
@given(items)
def test_encode_matches_pyrlp(item):
    assert rlpfast.encode(item) == rlp.encode(item)


@FAST
@given(st.lists(items, max_size=8))
def test_encode_list_matches_pyrlp(values):
    assert rlpfast.encode_list(values) == rlp.encode(values)


@FAST
@given(integers)
def test_encode_int_matches_pyrlp(value):
    assert rlpfast.encode_int(value) == rlp.encode(value)


@FAST
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
