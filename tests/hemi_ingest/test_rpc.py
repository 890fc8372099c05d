"""The Hemi JSON-RPC transport: batching, retries on transient errors only, rate limiting."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from indexer.core.errors import PermanentError, TransientError
from indexer.hemi.rpc import (
    BlockNotFound,
    CallReverted,
    HemiRpc,
    MethodNotSupported,
    RateLimiter,
)


def h256(n: int) -> str:
    return f"0x{n:064x}"


class ScriptedNode:
    """A tiny local HTTP JSON-RPC server whose replies are scripted per request."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.failures: list[tuple[int, str]] = []  # (HTTP status, body) served before real answers
        self.item_errors: dict[str, list[dict]] = {}  # method -> errors served (one per call) first
        self.unsupported: set[str] = set()
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                node.requests.append(body)
                if node.failures:
                    status, text = node.failures.pop(0)
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(text.encode())
                    return
                reply = [node.answer(c) for c in body] if isinstance(body, list) else node.answer(body)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def answer(self, call: dict) -> dict:
        method, params, rid = call["method"], call["params"], call["id"]
        if method in self.unsupported:
            error = {"code": -32601, "message": f"the method {method} does not exist"}
            return {"jsonrpc": "2.0", "id": rid, "error": error}
        queued = self.item_errors.get(method)
        if queued:
            return {"jsonrpc": "2.0", "id": rid, "error": queued.pop(0)}
        if method == "eth_blockNumber":
            return {"jsonrpc": "2.0", "id": rid, "result": "0x2a"}
        if method == "eth_getBlockByNumber":
            n = int(params[0], 16)
            txs = [h256(n * 10 + i) for i in range(2)]
            result = None if n > 42 else {"number": params[0], "hash": h256(n), "transactions": txs}
            return {"jsonrpc": "2.0", "id": rid, "result": result}
        if method == "eth_getBlockReceipts":
            n = int(params[0], 16)
            return {"jsonrpc": "2.0", "id": rid, "result": [{"transactionHash": h256(n * 10 + i)} for i in range(2)]}
        if method == "eth_getTransactionReceipt":
            return {"jsonrpc": "2.0", "id": rid, "result": {"transactionHash": params[0]}}
        if method == "eth_call":
            if params[0]["data"] == "0xdeadbeef":
                error = {"code": 3, "message": "execution reverted: nope", "data": "0x08c379a0"}
                return {"jsonrpc": "2.0", "id": rid, "error": error}
            return {"jsonrpc": "2.0", "id": rid, "result": "0x" + "00" * 31 + "12"}
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": "unexpected"}}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def node() -> Iterator[ScriptedNode]:
    scripted = ScriptedNode()
    yield scripted
    scripted.close()


def fast_client(url: str, **kwargs: Any) -> HemiRpc:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.02)
    return HemiRpc(url, **kwargs)


def test_blocks_are_fetched_in_one_http_batch_per_batch_size(node: ScriptedNode) -> None:
    rpc = fast_client(node.url, batch_size=4)
    blocks = rpc.blocks_by_number(range(10))
    assert [int(b["number"], 16) for b in blocks] == list(range(10))
    assert [len(r) for r in node.requests] == [4, 4, 2]
    assert rpc.requests_sent == 10


def test_block_receipts_come_back_grouped_per_block_in_order(node: ScriptedNode) -> None:
    receipts = fast_client(node.url).block_receipts([3, 4])
    assert [[r["transactionHash"][-2:] for r in rs] for rs in receipts] == [["1e", "1f"], ["28", "29"]]
    assert len(node.requests) == 1


def test_unsupported_get_block_receipts_falls_back_to_per_transaction_receipts(node: ScriptedNode) -> None:
    node.unsupported.add("eth_getBlockReceipts")
    rpc = fast_client(node.url)
    receipts = rpc.block_receipts([3, 4])
    assert [len(rs) for rs in receipts] == [2, 2]
    assert receipts[1][0]["transactionHash"] == h256(40)
    # Remembered: the next call goes straight to the fallback.
    node.requests.clear()
    rpc.block_receipts([5], tx_hashes=[["0x" + "ab" * 32]])
    assert [c["method"] for c in node.requests[0]] == ["eth_getTransactionReceipt"]


def test_a_transient_http_failure_is_retried_once_and_then_succeeds(node: ScriptedNode) -> None:
    node.failures.append((503, "upstream busy"))
    rpc = fast_client(node.url)
    assert rpc.block_number() == 42
    assert len(node.requests) == 2


def test_429_and_limit_exceeded_items_are_retried(node: ScriptedNode) -> None:
    node.failures.append((429, "slow down"))
    node.item_errors["eth_getBlockByNumber"] = [{"code": -32005, "message": "limit exceeded"}]
    rpc = fast_client(node.url)
    blocks = rpc.blocks_by_number([1, 2])
    assert [b["number"] for b in blocks] == ["0x1", "0x2"]
    # 429, then the batch with one rate-limited item, then only that item again.
    assert [len(r) if isinstance(r, list) else 1 for r in node.requests] == [2, 2, 1]


def test_transient_errors_give_up_after_max_retries_with_a_named_error(node: ScriptedNode) -> None:
    node.failures.extend([(502, "bad gateway")] * 5)
    with pytest.raises(TransientError):
        fast_client(node.url, max_retries=2).block_number()
    assert len(node.requests) == 3


def test_connection_refused_is_transient() -> None:
    with pytest.raises(TransientError):
        fast_client("http://127.0.0.1:9", max_retries=1, timeout=1).block_number()


def test_non_transient_errors_are_not_retried(node: ScriptedNode) -> None:
    node.failures.append((400, "bad request"))
    with pytest.raises(PermanentError) as info:
        fast_client(node.url).block_number()
    assert not isinstance(info.value, TransientError)
    assert len(node.requests) == 1
    node.requests.clear()
    node.unsupported.add("eth_blockNumber")
    with pytest.raises(MethodNotSupported):
        fast_client(node.url).block_number()
    assert len(node.requests) == 1


@pytest.mark.parametrize(
    "body",
    [
        "<html>502 from a proxy, served as 200</html>",
        '[{"jsonrpc": "2.0", "id": 1, "result": "0x2a"}',  # cut off
        '{"jsonrpc": "2.0", "id": 1, "result": "\\ud800"}',  # a lone UTF-16 surrogate is no text
    ],
)
def test_a_reply_that_is_not_json_is_a_named_error(node: ScriptedNode, body: str) -> None:
    node.failures.append((200, body))
    with fast_client(node.url) as client, pytest.raises(PermanentError, match="reply is not JSON") as raised:
        client.block_number()
    assert not isinstance(raised.value, TransientError)
    assert len(node.requests) == 1  # not retried


def test_a_missing_block_is_a_named_error(node: ScriptedNode) -> None:
    with pytest.raises(BlockNotFound):
        fast_client(node.url).blocks_by_number([41, 42, 43])


def test_eth_call_returns_bytes_and_a_revert_is_call_reverted(node: ScriptedNode) -> None:
    rpc = fast_client(node.url)
    assert rpc.eth_call(b"\x11" * 20, bytes.fromhex("313ce567")) == bytes(31) + b"\x12"
    with pytest.raises(CallReverted) as info:
        rpc.eth_call(b"\x11" * 20, bytes.fromhex("deadbeef"))
    assert info.value.revert_data == bytes.fromhex("08c379a0")


def test_the_rate_limiter_counts_each_batch_item_as_one_request(node: ScriptedNode) -> None:
    # 600/min = 10/s with a burst of 10: 30 calls need ~2 s of refill after the burst.
    rpc = fast_client(node.url, requests_per_minute=600, batch_size=10)
    started = time.monotonic()
    rpc.blocks_by_number(range(30))
    assert time.monotonic() - started >= 1.8
    assert rpc.requests_sent == 30


def test_a_zero_rate_means_unlimited() -> None:
    limiter = RateLimiter(0)
    assert limiter.unlimited
    assert limiter.acquire(10_000) == 0.0


def test_the_rate_limiter_lets_a_batch_larger_than_the_bucket_through() -> None:
    limiter = RateLimiter(6000)  # 100/s, burst 100
    started = time.monotonic()
    limiter.acquire(150)  # 50 over the bucket: ~0.5 s
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 1.5
