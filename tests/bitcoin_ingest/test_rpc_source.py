"""The JSON-RPC transport against a real bcoin regtest node (errors as HTTP 200, -1 not -5)."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from devnet.btc import mine
from indexer.bitcoin.connect import source_for
from indexer.bitcoin.decode import decode_block
from indexer.bitcoin.rpc import RpcError, RpcSource
from indexer.bitcoin.source import BlockNotFound, SourceNotConfigured
from indexer.core.errors import PermanentError, TransientError
from indexer.core.retry import RetryPolicy
from indexer.hashing import display_to_internal

pytestmark = pytest.mark.integration


def test_hashes_blocks_and_headers_agree_with_the_node(source, btc_rpc, miner):
    mine(btc_rpc, 3, miner.p2pkh_address)
    tip = source.tip_height()
    assert tip == btc_rpc.getblockcount()
    heights = list(range(max(0, tip - 2), tip + 1))
    hashes = source.block_hashes(heights)
    assert hashes == [display_to_internal(btc_rpc.getblockhash(h)) for h in heights]
    assert source.block_hash(tip) == hashes[-1]
    raws = source.raw_blocks(hashes)
    assert [decode_block(raw).hash_internal for raw in raws] == hashes
    assert source.raw_block(hashes[0]) == raws[0]
    assert source.raw_headers(hashes) == [raw[:80] for raw in raws]
    assert source.raw_header(hashes[-1]) == raws[-1][:80]


def test_batches_larger_than_one_request_keep_their_order(source, btc_rpc, miner, monkeypatch):
    import indexer.bitcoin.rpc as rpc_module

    monkeypatch.setattr(rpc_module, "HASH_BATCH", 2)
    monkeypatch.setattr(rpc_module, "BLOCK_BATCH", 2)
    mine(btc_rpc, 5, miner.p2pkh_address)
    heights = list(range(btc_rpc.getblockcount() - 4, btc_rpc.getblockcount() + 1))
    hashes = source.block_hashes(heights)
    assert hashes == [display_to_internal(btc_rpc.getblockhash(h)) for h in heights]
    assert [decode_block(r).hash_internal for r in source.raw_blocks(hashes)] == hashes


def test_an_unknown_block_is_block_not_found_though_bcoin_says_minus_one(source):
    with pytest.raises(BlockNotFound):
        source.raw_block(b"\x42" * 32)
    with pytest.raises(BlockNotFound):
        source.raw_blocks([b"\x42" * 32])


def test_a_height_above_the_tip_is_block_not_found(source):
    with pytest.raises(BlockNotFound):
        source.block_hash(source.tip_height() + 1000)


def test_other_rpc_errors_are_permanent(source):
    with pytest.raises(RpcError) as caught:
        source.call("nosuchmethod")
    assert caught.value.code == -32601


def test_a_wrong_api_key_is_permanent_and_not_retried(bcoin, fast_retry, caplog):
    src = RpcSource(bcoin.bitcoin_rpc_url.replace(bcoin.api_key, "wrong"), retry=fast_retry)
    with caplog.at_level(logging.WARNING, logger="indexer.bitcoin.source"):
        with pytest.raises(PermanentError, match="credentials"):
            src.tip_height()
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


def test_a_refused_connection_is_retried_with_backoff_then_transient(caplog):
    policy = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)
    src = RpcSource("http://x:y@127.0.0.1:9/", retry=policy)
    with caplog.at_level(logging.WARNING, logger="indexer.bitcoin.source"):
        with pytest.raises(TransientError):
            src.tip_height()
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert [r.attempt for r in retries] == [1, 2]


def test_the_backoff_is_bounded_and_jittered():
    policy = RetryPolicy(attempts=10, base_delay=0.5, max_delay=4.0)
    attempts = [n for n in range(10) for _ in range(20)]
    delays = [policy.delay(n) for n in attempts]
    assert all(0 <= d <= 4.0 for d in delays)
    assert all(d >= min(4.0, 0.5 * 2**n) / 2 for n, d in zip(attempts, delays, strict=True))
    assert len(set(delays)) > 100  # jitter: no two workers retry in lockstep


def test_source_for_prefers_rpc_and_refuses_an_unconfigured_network(bcoin):
    from hemiscope.networks import PRESETS

    devnet = PRESETS["devnet"]
    src = source_for(replace(devnet, bitcoin_rpc_url=bcoin.bitcoin_rpc_url, bitcoin_esplora_url="http://unused"))
    assert isinstance(src, RpcSource)
    with pytest.raises(SourceNotConfigured):
        source_for(replace(devnet, bitcoin_rpc_url=None, bitcoin_esplora_url=None))
