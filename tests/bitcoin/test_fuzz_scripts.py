"""Fuzz targets for the Bitcoin-side decoders above raw transactions: PoP scans, tunnel deposits
and withdrawal payouts, address codecs, keystone bytes and compact difficulty bits. Whatever the
input: a result or the decoder's named error, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.bitcoin.address import AddressError, address_from_script, script_from_address
from indexer.bitcoin.decode import BitcoinDecodeError, decode_tx
from indexer.bitcoin.headers import bits_to_target, block_work, decode_compact, target_to_bits
from indexer.bitcoin.merkle import verify_merkle_branch
from indexer.bitcoin.pop import (
    miner_address_for_pubkey,
    push_data_after_op_return,
    read_push,
    scan_tx,
)
from indexer.bitcoin.tunnel import check_deposit, find_withdrawal_payout, withdrawal_index_from_op_return
from indexer.keystone import KeystoneAbrev, KeystoneDecodeError, LegacyKeystoneHeader
from tests.fuzzing import FUZZ, only_raises

NETWORKS = ("mainnet", "testnet3", "testnet4", "regtest")
# Script-shaped inputs: standard templates with random bodies, then random bytes.
scripts = st.one_of(
    st.binary(max_size=90),
    st.tuples(st.sampled_from([b"\x76\xa9\x14", b"\xa9\x14", b"\x00\x14", b"\x00\x20", b"\x51\x20", b"\x6a"]),
              st.binary(max_size=40)).map(b"".join),
    st.binary(min_size=2, max_size=40).map(lambda p: bytes([0x51 + p[0] % 16, len(p) - 1]) + p[1:]),
)


def _mutate(data: st.DataObject, raw: bytes) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, max(len(out) - 1, 0)))
        kind = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if kind == "flip" and out:
            out[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "insert":
            out[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif out:
            del out[pos : pos + data.draw(st.integers(1, 8))]
    return bytes(out)


@pytest.mark.fuzz
@FUZZ
@given(st.data())
def test_pop_tunnel_and_payout_scans_of_mutated_real_transactions(vector_a_raw, block, data):
    source = data.draw(st.sampled_from([vector_a_raw, block.txs[0].raw, block.txs[11].raw, block.txs[40].raw]))
    tx = only_raises(decode_tx, BitcoinDecodeError, _mutate(data, source))
    if tx is None:
        return
    scan_tx(tx, tx_index=data.draw(st.integers(0, 5000)))
    vault = data.draw(st.sampled_from([o.script_pubkey for o in tx.outputs] or [b"\x00"]))
    check = check_deposit(tx, {vault: "v"})
    assert (check.deposit is None) == (check.reason is not None)
    first = tx.inputs[0]
    payout = find_withdrawal_payout(tx, {(first.prev_txid_internal, first.vout): "v"}, {vault: "v"})
    if payout is not None:
        assert 0 <= payout.withdrawal_index < 2**32


@pytest.mark.fuzz
@FUZZ
@given(scripts)
def test_script_readers_return_values_or_none(script):
    read_push(script, 0)
    read_push(script, len(script) // 2)
    push_data_after_op_return(script)
    index = withdrawal_index_from_op_return(script)
    assert index is None or 0 <= index < 2**32


@pytest.mark.fuzz
@FUZZ
@given(scripts, st.sampled_from(NETWORKS))
def test_an_address_derived_from_a_script_leads_back_to_it(script, network):
    address = address_from_script(script, network)
    if address is not None:
        assert script_from_address(address, network) == script


@pytest.mark.fuzz
@FUZZ
@given(
    st.one_of(
        st.text(max_size=100),
        st.text(alphabet="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", max_size=60),
        st.tuples(st.sampled_from(["bc1", "tb1", "rb1", "bcrt1", "BC1", "tB1"]),
                  st.text(alphabet="qpzry9x8gf2tvdw0s3jn54khce6mua7lQPZRY", max_size=90)).map("".join),
    ),
    st.sampled_from((*NETWORKS, "signet")),
)
def test_any_text_as_an_address_is_a_script_or_an_address_error(text, network):
    script = only_raises(script_from_address, AddressError, text, network)
    if script is not None:
        assert address_from_script(script, network) is not None


@pytest.mark.fuzz
@FUZZ
@given(st.binary(max_size=120), st.binary(min_size=33, max_size=33))
def test_keystone_bytes_decode_or_raise_keystone_decode_error(data, pubkey):
    for decode in (KeystoneAbrev.from_bytes, LegacyKeystoneHeader.from_bytes):
        only_raises(decode, KeystoneDecodeError, data)
        only_raises(decode, KeystoneDecodeError, bytes([1]) + data)
    abrev = only_raises(KeystoneAbrev.from_bytes, KeystoneDecodeError, bytes([1]) + data[:75])
    if abrev is not None:
        assert KeystoneAbrev.from_bytes(abrev.to_bytes()) == abrev
    miner_address_for_pubkey(pubkey)


@pytest.mark.fuzz
@FUZZ
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**256 - 1))
def test_compact_bits_decode_or_raise_value_error_as_documented(bits, target):
    _, negative, overflow = decode_compact(bits)
    assert (only_raises(bits_to_target, ValueError, bits) is None) == (negative or overflow)
    assert block_work(bits) >= 0
    round_trip = only_raises(bits_to_target, ValueError, target_to_bits(target))
    assert round_trip is None or round_trip <= target


@pytest.mark.fuzz
@FUZZ
@given(st.binary(min_size=32, max_size=32), st.lists(st.binary(min_size=32, max_size=32), max_size=24),
       st.integers(-5, 2**30), st.binary(min_size=32, max_size=32))
def test_merkle_branch_verification_is_a_boolean(leaf, branch, index, root):
    assert verify_merkle_branch(leaf, branch, index, root) in (True, False)
