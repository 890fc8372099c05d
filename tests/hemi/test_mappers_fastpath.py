"""The mappers' regex-free parsing accepts exactly what go-ethereum's hexutil accepts.

The reference is the regex form of hexutil's rules (``0x(0|[1-9a-fA-F][0-9a-fA-F]*)`` for
quantities, ``0x([0-9a-fA-F]{2})*`` for data); hypothesis feeds strings built from hex digits
plus everything Python's ``int()``/``bytes.fromhex()`` would tolerate but hexutil does not
(signs, underscores, whitespace, upper-case prefixes, non-ASCII digits). Mapping a block with
a shared ValueCache must give the same records as mapping without one.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.hemi import mappers
from indexer.hemi.mappers import HemiDecodeError, ValueCache, map_block, map_receipt, parse_data, parse_quantity
from tests.fuzzing import FUZZ

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"

QUANTITY_RE = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)")
DATA_RE = re.compile(r"0x(?:[0-9a-fA-F]{2})*")

tricky = st.text(alphabet="0123456789abcdefABCDEFxX_+- \t\n\u0663\uff11", max_size=12)
candidates = st.one_of(tricky, tricky.map(lambda s: "0x" + s), st.integers(0, 2**300).map(hex))


@pytest.mark.fuzz
@FUZZ
@given(candidates)
def test_parse_quantity_accepts_exactly_hexutil_quantities(text):
    if QUANTITY_RE.fullmatch(text) and int(text, 16).bit_length() <= 256:
        assert parse_quantity(text, "f") == int(text, 16)
        assert mappers._q({"k": text}, "k", "") == int(text, 16)
    else:
        with pytest.raises(HemiDecodeError):
            parse_quantity(text, "f")
        with pytest.raises(HemiDecodeError):
            mappers._q({"k": text}, "k", "")


@pytest.mark.fuzz
@FUZZ
@given(candidates)
def test_parse_data_accepts_exactly_hexutil_data(text):
    if DATA_RE.fullmatch(text):
        assert parse_data(text, "f") == bytes.fromhex(text[2:])
        assert mappers._d({"k": text}, "k", "") == bytes.fromhex(text[2:])
    else:
        with pytest.raises(HemiDecodeError):
            parse_data(text, "f")
        with pytest.raises(HemiDecodeError):
            mappers._d({"k": text}, "k", "")


def test_a_cached_quantity_is_still_checked_against_the_field_width():
    cache = ValueCache()
    big = hex(2**70)
    assert mappers._q({"a": big}, "a", "", 256, cache.quantities) == 2**70
    with pytest.raises(HemiDecodeError, match="uint64"):
        mappers._q({"b": big}, "b", "", 64, cache.quantities)


@pytest.mark.parametrize("name", ["goerli-block-8651337-london.json", "goerli-block-8656414-shanghai.json"])
def test_mapping_with_a_value_cache_gives_the_same_records(name):
    obj = json.loads((FIXTURES / name).read_text())
    cache = ValueCache()
    cached = map_block(obj, cache)
    assert cached == map_block(obj)
    assert cache.hashes and cache.addresses and cache.quantities
    # Repeats are shared objects: every transaction's blockHash is the block's hash object.
    assert all(tx.block_hash is cached.hash for tx in cached.transactions or ())


def test_receipt_and_log_repeats_share_the_transaction_values():
    cache = ValueCache()
    tx_hash = "0x" + "ab" * 32
    receipt = {
        "transactionHash": tx_hash,
        "transactionIndex": "0x3",
        "blockHash": "0x" + "cd" * 32,
        "blockNumber": "0x10",
        "from": "0x" + "11" * 20,
        "to": None,
        "contractAddress": "0x" + "22" * 20,
        "cumulativeGasUsed": "0x1",
        "gasUsed": "0x1",
        "status": "0x1",
        "logsBloom": "0x" + "00" * 256,
        "logs": [
            {
                "address": "0x" + "22" * 20,
                "topics": [],
                "data": "0x",
                "logIndex": "0x0",
                "transactionHash": tx_hash,
                "transactionIndex": "0x3",
                "blockHash": "0x" + "cd" * 32,
                "blockNumber": "0x10",
            }
        ],
    }
    mapped = map_receipt(receipt, cache)
    assert mapped == map_receipt(receipt)
    log = mapped.logs[0]
    assert log.transaction_hash is mapped.transaction_hash and log.block_hash is mapped.block_hash
    assert log.address is mapped.contract_address
    assert pickle.loads(pickle.dumps(mapped, protocol=pickle.HIGHEST_PROTOCOL)) == mapped  # noqa: S301 - own bytes


@pytest.mark.parametrize("name", ["goerli-block-8651337-london.json", "goerli-block-8656414-shanghai.json"])
def test_records_survive_pickling_between_processes(name):
    block = map_block(json.loads((FIXTURES / name).read_text()), ValueCache())
    copy = pickle.loads(pickle.dumps(block, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - own bytes
    assert copy == block
    assert type(copy.transactions[0]) is type(block.transactions[0])
