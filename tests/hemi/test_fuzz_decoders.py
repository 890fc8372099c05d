"""Fuzz targets for every Hemi decoder: RPC reply mappers, system transactions (0x7C/0x7D),
hVM updates, L1-info, PoP payouts, tunnel events and calldata, raw transactions and receipts,
Merkle-Patricia proofs and token call results. Whatever the input: a record or the decoder's
named error. Valid encodings are mutated as well as random bytes, so the checks deep inside each
decoder are reached, and what decodes must re-encode to the same bytes where an encoder exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.hemi import events, hvm, l1info, mpt, payout, rawtx, rlpcodec, tokens
from indexer.hemi.mappers import HemiDecodeError, map_block, map_log, map_receipt, map_transaction
from indexer.hemi.records import BTC_ATTRIBUTES_TX, SYSTEM_TX_TYPES, HemiLog
from tests.fuzzing import FUZZ, ByteSource, only_raises
from tests.hemi.test_mappers import receipt_json, system_tx_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hemi"
BLOCKS = [json.loads((FIXTURES / n).read_text()) for n in ("goerli-block-8651337-london.json",
                                                           "goerli-block-8656414-shanghai.json")]
SINGLE_TXS = [json.loads((FIXTURES / n).read_text()) for n in ("geth-setcode-tx.json",
                                                               "op-mainnet-l1info-deposit-tx.json")]

# ~128 bytes on average (hypothesis keeps unbounded-looking collections short otherwise).
FUZZ_BYTES = st.binary(min_size=64, max_size=1024)

# What a broken or hostile node might put where a value belongs.
GARBAGE = [
    None, True, False, 0, -1, 2**64, 2**300, 1.5, float("nan"), "", "0x", "0x0", "0x00", "0xzz", "0X1", "-0x1",
    "0x" + "f" * 65, "0x" + "0" * 64, "0x" + "11" * 20, "0x" + "22" * 32, "null", " 0x1", "0x1 ", "\u0663",
    [], [1], {}, {"a": None}, "0x" + "ab" * 300,
]


def _garbage(src: ByteSource):
    if src.flag():
        return src.pick(GARBAGE)
    return "0x" + src.blob(40).hex() if src.flag() else src.blob(12).decode("latin-1")


def _paths(obj, prefix=()):
    """Every (container path, key) in a JSON tree, for picking what to corrupt."""
    out = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        out.append((prefix, key))
        out += _paths(value, (*prefix, key))
    return out


def _corrupt(src: ByteSource, obj):
    obj = json.loads(json.dumps(obj))  # a deep copy
    paths = _paths(obj)
    for _ in range(1 + src.below(3)):
        prefix, key = src.pick(paths)
        node = obj
        try:
            for step in prefix:
                node = node[step]
            if src.flag() and isinstance(node, dict):
                node.pop(key, None)
            else:
                node[key] = _garbage(src)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier corruption replaced the path
    return obj


LOG = {"address": "0x" + "11" * 20, "topics": ["0x" + "22" * 32], "data": "0x01", "logIndex": "0x0",
       "blockHash": "0x" + "ab" * 32, "blockNumber": "0x10", "transactionHash": "0x" + "cd" * 32,
       "transactionIndex": "0x0", "removed": False}
REPLIES = [
    (map_block, {**BLOCKS[0], "transactions": BLOCKS[0]["transactions"][:3]}),
    (map_block, {**BLOCKS[1], "transactions": BLOCKS[1]["transactions"][:3]}),
    *((map_transaction, tx) for tx in (*SINGLE_TXS, BLOCKS[1]["transactions"][0], system_tx_json(),
                                       system_tx_json(0x7D))),
    (map_receipt, receipt_json(logs=[LOG])),
    (map_log, LOG),
]


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_rpc_reply_mappers_map_or_raise_hemi_decode_error(data):
    src = ByteSource(data)
    mapper, reply = src.pick(REPLIES)
    only_raises(mapper, HemiDecodeError, _corrupt(src, reply) if src.below(16) else _garbage(src))


def _system_tx(src: ByteSource) -> bytes:
    to = None if src.flag() else src.blob(20, 20)
    return rlpcodec.encode_system_tx(src.pick(sorted(SYSTEM_TX_TYPES)), to, src.uint(8), src.blob(300))


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_system_and_raw_transactions_decode_or_raise_their_named_errors(data):
    src = ByteSource(data)
    raw = src.mutate(_system_tx(src)) if src.flag() else src.blob(300)
    system = only_raises(rlpcodec.decode_system_tx, rlpcodec.SystemTxDecodeError, raw)
    if system is not None:
        assert rlpcodec.encode_system_tx(system.tx_type, system.to_address, system.gas, system.data) == raw
    decoded = only_raises(rawtx.decode_raw_tx, rawtx.RawTxError, raw)
    if decoded is not None:
        assert decoded.to is None or len(decoded.to) == 20
    only_raises(rawtx.decode_raw_receipt, rawtx.RawTxError, raw)


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_hvm_updates_decode_or_raise_hvm_decode_error(data):
    src = ByteSource(data)
    headers = [src.blob(80, 80) for _ in range(src.below(5))]
    calldata = hvm.encode_update_hvm_state(src.blob(32, 32), headers)
    mutated = src.mutate(calldata) if src.flag() else calldata
    update = only_raises(hvm.decode_update_hvm_state, hvm.HvmDecodeError, mutated)
    if update is not None:
        assert hvm.encode_update_hvm_state(update.canonical_tip_internal, update.headers) == mutated
    raw = rlpcodec.encode_system_tx(BTC_ATTRIBUTES_TX, b"\x88" * 20, 1_000_000, mutated)
    only_raises(hvm.decode_btc_attributes_tx, hvm.HvmDecodeError, src.mutate(raw) if src.flag() else raw)


def _l1_info(src: ByteSource) -> l1info.L1BlockInfo:
    layout = src.pick(["bedrock", "ecotone", "isthmus"])
    common = dict(layout=layout, number=src.uint(8), timestamp=src.uint(8), base_fee=src.uint(32),
                  block_hash=src.blob(32, 32), sequence_number=src.uint(8), batcher_hash=src.blob(32, 32))
    if layout == "bedrock":
        return l1info.L1BlockInfo(**common, l1_fee_overhead=src.uint(32), l1_fee_scalar=src.uint(32))
    extra = dict(operator_fee_scalar=src.uint(4), operator_fee_constant=src.uint(8)) if layout == "isthmus" else {}
    return l1info.L1BlockInfo(**common, base_fee_scalar=src.uint(4), blob_base_fee_scalar=src.uint(4),
                              blob_base_fee=src.uint(32), **extra)


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_l1_info_decodes_or_raises_l1_info_decode_error(data):
    src = ByteSource(data)
    calldata = l1info.encode_l1_info(_l1_info(src))
    assert l1info.encode_l1_info(l1info.decode_l1_info(calldata)) == calldata
    mutated = src.mutate(calldata) if src.flag() else src.blob(300)
    info = only_raises(l1info.decode_l1_info, l1info.L1InfoDecodeError, mutated)
    if info is not None:
        assert l1info.encode_l1_info(info) == mutated


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_pop_payouts_decode_or_raise_payout_decode_error(data):
    src = ByteSource(data)
    n, version = src.below(4), src.pick([1, 2])
    miners = [src.blob(20, 20) for _ in range(n)]
    values = [src.uint(32 if version == 1 else 4) for _ in range(n)]  # v2: uint32 relative heights
    calldata = payout.encode_mint_pop_rewards(src.uint(8), miners, values, version=version)
    mutated = src.mutate(calldata) if src.flag() else calldata
    call = only_raises(payout.decode_mint_pop_rewards, payout.PayoutDecodeError, mutated)
    if call is not None:
        again = payout.encode_mint_pop_rewards(call.block_rewarded, call.miners, call.values, version=call.version)
        assert again == mutated
    raw = payout.encode_pop_payout_tx(mutated)
    only_raises(payout.decode_pop_payout_tx, payout.PayoutDecodeError, src.mutate(raw) if src.flag() else raw)


TOPICS = [events.DEPOSIT_CONFIRMED_TOPIC, events.WITHDRAWAL_INITIATED_TOPIC,
          events.WITHDRAWAL_CHALLENGE_SUCCESS_TOPIC, events.VAULT_CREATED_TOPIC, events.TRANSFER_TOPIC]


def _word(src: ByteSource) -> bytes:
    kind = src.below(3)
    if kind == 0:
        return src.blob(32, 32)
    if kind == 1:
        return b"\x00" * 12 + src.blob(20, 20)  # an address
    return (src.uint(8) + src.below(2)).to_bytes(32, "big")  # small integers, around uint64's end


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_tunnel_and_transfer_events_decode_or_raise_event_decode_error(data):
    src = ByteSource(data)
    topics = (src.pick(TOPICS), *(_word(src) for _ in range(src.below(5))))
    body = b"".join(_word(src) for _ in range(src.below(9))) + src.blob(8)
    log = HemiLog(b"\x11" * 20, topics, body, 0, 0, b"\x00" * 32, b"\x00" * 32, 1, False)
    only_raises(events.decode_tunnel_event, events.EventDecodeError, log)
    only_raises(events.decode_transfer, events.EventDecodeError, log)
    calldata = events.INITIATE_WITHDRAWAL_SELECTOR + body
    only_raises(events.decode_initiate_withdrawal_input, events.EventDecodeError, calldata)


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_merkle_patricia_proofs_verify_or_raise_proof_error(data):
    src = ByteSource(data)
    values = [src.blob(60, 1) for _ in range(1 + src.below(20))]
    index = src.below(len(values))
    root = mpt.ordered_trie_root(values)
    proof = honest = mpt.ordered_trie_proof(values, index)
    kind = src.below(3)
    if kind == 0:
        at = src.below(len(proof))
        proof = [*proof[:at], src.mutate(proof[at]), *proof[at + 1 :]]
    elif kind == 1:
        proof = [src.blob(120) for _ in range(src.below(5))]
    asked = index if src.flag() else src.below(41)
    got = only_raises(mpt.verify_ordered_proof, mpt.ProofError, root, asked, proof)
    if proof == honest and asked == index:
        assert got == values[index]
    only_raises(mpt.hex_prefix_decode, mpt.ProofError, src.blob(40))


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_token_call_results_always_decode_to_a_value_or_a_problem(data):
    src = ByteSource(data)
    kind = src.below(8)
    if kind == 0:
        raw = None  # the call reverted
    elif kind < 4:
        raw = src.blob(200)
    else:  # ABI-string-shaped: offset word, length word, bytes
        offset = (32).to_bytes(32, "big") if src.flag() else src.blob(32, 32)
        length = src.below(100).to_bytes(32, "big") if src.flag() else src.blob(32, 32)
        raw = offset + length + src.blob(100)
    for decode in (tokens.decode_text_result, tokens.decode_decimals_result, tokens.decode_total_supply_result):
        result = decode(raw)
        assert result.value is not None or result.problem
