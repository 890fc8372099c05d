"""The RPC clients against a real local HTTP server that misbehaves (issue 12, item 6).

A slow drip must not stretch a call past its deadline, a 200 MB reply must not be read whole,
and every malformed reply - garbage scalars, odd, duplicate or missing batch ids - must be a
named transient or permanent error, never a bare TypeError/ValueError. The server is a plain
socket server in a thread, so it can do what no well-behaved framework would: drip the status
line a byte at a time, announce 200 MB, or stream without end.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from indexer.bitcoin.esplora import EsploraSource
from indexer.bitcoin.rpc import RpcSource
from indexer.core.errors import PermanentError, TransientError
from indexer.core.http import DeadlineExceeded, ReplyTooLarge
from indexer.core.jsonrpc import BadReply
from indexer.core.retry import RetryPolicy
from indexer.hemi.rpc import HemiRpc

ONCE = RetryPolicy(attempts=1)
HUGE = 200 * 1024 * 1024
# How long the drip would take in all; the clients' deadline is 1 s.
DRIP_SECONDS = 12.0

Behaviour = Callable[[socket.socket, bytes], None]


class MisbehavingServer:
    """Accepts connections on 127.0.0.1 and answers each request with ``behaviour``."""

    def __init__(self) -> None:
        self.behaviour: Behaviour = lambda conn, body: None
        self.bytes_sent = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by close()
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(DRIP_SECONDS * 2)
            try:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                headers, _, body = head.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in headers.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                while len(body) < length:
                    body += conn.recv(65536)
                self.behaviour(conn, body)
            except OSError:
                pass  # the client hung up: that is what several tests want

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.bytes_sent += len(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    s = MisbehavingServer()
    yield s
    s.close()


def head(length: int | None, *, chunked: bool = False) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def replying(server: MisbehavingServer, make: Callable[[object], object]) -> Behaviour:
    """Answer with ``make(request JSON)`` serialized, promptly and well-formed at the HTTP level."""

    def behaviour(conn: socket.socket, body: bytes) -> None:
        data = json.dumps(make(json.loads(body))).encode()
        server.send(conn, head(len(data)) + data)

    return behaviour


def clients(url: str) -> dict[str, Callable[[], object]]:
    """One call per client, each with a 1 s deadline and no retries."""
    return {
        "hemi": lambda: HemiRpc(url, timeout=1.0, max_retries=0).block_number(),
        "bitcoin-rpc": lambda: RpcSource(url, timeout=1.0, retry=ONCE).tip_height(),
        "esplora": lambda: EsploraSource(url, timeout=1.0, retry=ONCE).tip_height(),
    }


# ----------------------------------------------------------------------------- deadline


@pytest.mark.parametrize("client", ["hemi", "bitcoin-rpc", "esplora"])
@pytest.mark.parametrize("where", ["body", "status line"])
def test_a_slow_drip_cannot_hold_a_call_past_its_deadline(server: MisbehavingServer, client: str, where: str) -> None:
    reply = json.dumps({"jsonrpc": "2.0", "id": 1, "result": "0x2a"}).encode()
    everything = head(len(reply)) + reply
    step = DRIP_SECONDS / len(everything)

    def drip(conn: socket.socket, body: bytes) -> None:
        start = 0 if where == "status line" else len(everything) - len(reply)
        server.send(conn, everything[:start])
        for byte in everything[start:]:
            time.sleep(step)
            server.send(conn, bytes([byte]))

    server.behaviour = drip
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as raised:
        clients(server.url)[client]()
    elapsed = time.monotonic() - started
    assert isinstance(raised.value, TransientError)  # a slow server may be fine next time
    # Bound, not a speed goal: the drip would take DRIP_SECONDS; the deadline is 1 s.
    assert elapsed < DRIP_SECONDS / 3, f"a 1 s call took {elapsed:.1f}s"


# ----------------------------------------------------------------------------- size


@pytest.mark.parametrize("client", ["hemi", "bitcoin-rpc", "esplora"])
def test_a_200_mb_reply_announced_by_content_length_is_refused_unread(server: MisbehavingServer, client: str) -> None:
    def huge(conn: socket.socket, body: bytes) -> None:
        server.send(conn, head(HUGE))
        piece = b"0" * (1 << 20)
        while server.bytes_sent < HUGE:
            server.send(conn, piece)

    server.behaviour = huge
    with pytest.raises(ReplyTooLarge) as raised:
        clients(server.url)[client]()
    assert isinstance(raised.value, PermanentError)
    time.sleep(0.2)
    assert server.bytes_sent < 64 * 1024 * 1024, f"{server.bytes_sent} bytes were pulled from the server"


def test_an_endless_chunked_reply_is_cut_at_the_cap(server: MisbehavingServer) -> None:
    def endless(conn: socket.socket, body: bytes) -> None:
        server.send(conn, head(None, chunked=True))
        piece = b"%x\r\n%s\r\n" % (1 << 20, b"0" * (1 << 20))
        while server.bytes_sent < HUGE:
            server.send(conn, piece)

    server.behaviour = endless
    rpc = HemiRpc(server.url, timeout=30.0, max_retries=0, max_reply_bytes=4 << 20)
    with pytest.raises(ReplyTooLarge):
        rpc.block_number()
    time.sleep(0.2)
    assert server.bytes_sent < 64 * 1024 * 1024, f"{server.bytes_sent} bytes were pulled from the server"


def test_a_batch_too_large_for_the_cap_is_fetched_in_halves(server: MisbehavingServer) -> None:
    def blocks(request: object) -> object:
        assert isinstance(request, list)
        return [
            {
                "jsonrpc": "2.0",
                "id": c["id"],
                "result": {"number": c["params"][0], "hash": "0x" + "11" * 32, "pad": "x" * 3000},
            }
            for c in request
        ]

    sizes = []
    behaviour = replying(server, blocks)

    def recording(conn: socket.socket, body: bytes) -> None:
        sizes.append(len(json.loads(body)))
        behaviour(conn, body)

    server.behaviour = recording
    rpc = HemiRpc(server.url, timeout=5.0, max_retries=0, batch_size=8, max_reply_bytes=14_000)
    got = rpc.blocks_by_number(range(8), full_tx=False)
    assert [int(b["number"], 16) for b in got] == list(range(8))
    assert sizes[0] == 8 and max(sizes[1:]) <= 4  # refused whole, then fetched in halves


# ----------------------------------------------------------------------------- garbage


@pytest.mark.parametrize("garbage", [None, "0xzz", [], "", "0x", 42, {"a": 1}, True])
def test_garbage_scalars_from_a_hemi_node_are_named_errors(server: MisbehavingServer, garbage: object) -> None:
    server.behaviour = replying(server, lambda r: {"jsonrpc": "2.0", "id": r["id"], "result": garbage})
    rpc = HemiRpc(server.url, timeout=5.0, max_retries=0)
    for call in (
        rpc.block_number,
        rpc.chain_id,
        lambda: rpc.eth_call(b"\x01" * 20, b""),
        lambda: rpc.get_code(b"\x01" * 20),
    ):
        if call in (rpc.block_number, rpc.chain_id) or garbage != "0x":  # "0x" is valid empty data
            with pytest.raises(BadReply):
                call()


@pytest.mark.parametrize("garbage", [None, "zz" * 32, [], "", 42.0, True, "ab" * 31])
def test_garbage_scalars_from_a_bitcoin_node_are_named_errors(server: MisbehavingServer, garbage: object) -> None:
    server.behaviour = replying(server, lambda r: {"id": r["id"], "result": garbage, "error": None})
    source = RpcSource(server.url, timeout=5.0, retry=ONCE)
    with pytest.raises(BadReply):
        source.block_hash(1)
    if not isinstance(garbage, int) or isinstance(garbage, bool):
        with pytest.raises(BadReply):
            source.tip_height()


def _batch_reply(request: object, mangle: str) -> object:
    assert isinstance(request, list)
    items = [
        {"jsonrpc": "2.0", "id": c["id"], "result": {"number": c["params"][0], "hash": "0x" + "22" * 32}}
        for c in request
    ]
    if mangle == "list id":
        items[0]["id"] = [items[0]["id"]]
    elif mangle == "object id":
        items[0]["id"] = {"n": items[0]["id"]}
    elif mangle == "text id":
        items[0]["id"] = str(items[0]["id"])
    elif mangle == "unknown id":
        items[0]["id"] = 10**9
    elif mangle == "duplicate id":
        items[1]["id"] = items[0]["id"]
    elif mangle == "missing id":
        items.pop()
    elif mangle == "extra item":
        items.append(dict(items[0]))
    elif mangle == "not an object":
        items[0] = "surprise"
    elif mangle == "no result nor error":
        del items[0]["result"]
    return items


MANGLES = [
    "list id",
    "object id",
    "text id",
    "unknown id",
    "duplicate id",
    "missing id",
    "extra item",
    "not an object",
    "no result nor error",
]


@pytest.mark.parametrize("mangle", MANGLES)
def test_odd_duplicate_or_missing_batch_ids_from_a_hemi_node_are_named_errors(
    server: MisbehavingServer, mangle: str
) -> None:
    server.behaviour = replying(server, lambda r: _batch_reply(r, mangle))
    rpc = HemiRpc(server.url, timeout=5.0, max_retries=0)
    with pytest.raises(BadReply):
        rpc.blocks_by_number([1, 2, 3], full_tx=False)


@pytest.mark.parametrize("mangle", MANGLES)
def test_odd_duplicate_or_missing_batch_ids_from_a_bitcoin_node_are_named_errors(
    server: MisbehavingServer, mangle: str
) -> None:
    def reply(request: object) -> object:
        items = _batch_reply(request, mangle)
        for item in items:
            if isinstance(item, dict) and "result" in item:
                item["result"] = "33" * 32
        return items

    server.behaviour = replying(server, reply)
    source = RpcSource(server.url, timeout=5.0, retry=ONCE)
    with pytest.raises(BadReply):
        source.block_hashes([1, 2, 3])


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"id": 1, "result": "\\ud800"}', b"\xff\xfe"])
def test_unparseable_or_absurdly_nested_json_is_a_named_error(server: MisbehavingServer, body: bytes) -> None:
    server.behaviour = lambda conn, _: server.send(conn, head(len(body)) + body)
    with pytest.raises(BadReply):
        HemiRpc(server.url, timeout=5.0, max_retries=0).block_number()
    with pytest.raises(BadReply):
        RpcSource(server.url, timeout=5.0, retry=ONCE).tip_height()
