"""Property tests: whatever the bytes, decoding either succeeds or raises BitcoinDecodeError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.bitcoin.decode import (
    BitcoinDecodeError,
    decode_block,
    decode_header,
    decode_tx,
)
from indexer.bitcoin.merkle import witness_commitment_ok
from indexer.bitcoin.pop import classify_pop_script, miner_pubkey_from_script_sig
from tests.fuzzing import FUZZ


def _decode_tx_or_named_error(data: bytes) -> None:
    try:
        tx = decode_tx(data)
    except BitcoinDecodeError:
        return
    # Success means the bytes were exactly one transaction: everything must be readable.
    assert tx.raw == data
    assert len(tx.inputs) >= 1
    _ = (tx.outputs, tx.version, tx.locktime, tx.vsize, tx.wtxid_internal, tx.is_coinbase)


@pytest.mark.fuzz
@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_as_transaction(data):
    _decode_tx_or_named_error(data)


@pytest.mark.fuzz
@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_as_block_or_header(data):
    for decode in (decode_block, decode_header):
        try:
            decode(data)
        except BitcoinDecodeError:
            pass


@pytest.mark.fuzz
@FUZZ
@given(st.data())
def test_mutated_real_transactions(vector_a_raw, block, data):
    source = data.draw(st.sampled_from([vector_a_raw, block.txs[11].raw, block.txs[0].raw]))
    raw = bytearray(source)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "flip" and raw:
            raw[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "set" and raw:
            raw[pos] = data.draw(st.sampled_from([0x00, 0x01, 0xFC, 0xFD, 0xFE, 0xFF]))
        elif kind == "insert":
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=9))
        elif raw:
            del raw[pos : pos + data.draw(st.integers(1, 9))]
    _decode_tx_or_named_error(bytes(raw))


@pytest.mark.fuzz
@FUZZ
@given(st.data())
def test_truncated_real_block_always_raises(block_raw, small_block_raw, data):
    # Mostly the small block (every cut lands near a structure boundary); sometimes the 1 MB one.
    block_raw = block_raw if data.draw(st.integers(0, 15)) == 0 else small_block_raw
    cut = data.draw(st.integers(0, len(block_raw) - 1))
    try:
        decode_block(block_raw[:cut])
    except BitcoinDecodeError:
        return
    raise AssertionError(f"a block truncated to {cut} bytes decoded")


@pytest.mark.fuzz
@FUZZ
@given(st.data())
def test_corrupted_real_block_raises_or_decodes_consistently(small_block_raw, data):
    block_raw = small_block_raw
    raw = bytearray(block_raw)
    pos = data.draw(st.integers(80, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255))
    try:
        block = decode_block(bytes(raw))
    except BitcoinDecodeError:
        return
    if bytes(raw) != block_raw:
        # Witness bytes are outside the txid merkle tree; only the BIP141 commitment covers them.
        assert witness_commitment_ok(block) is False


@pytest.mark.fuzz
@FUZZ
@given(st.binary(max_size=120))
def test_script_classifiers_never_raise(script):
    classify_pop_script(script)
    classify_pop_script(b"\x6a" + script)
    miner_pubkey_from_script_sig(script)
