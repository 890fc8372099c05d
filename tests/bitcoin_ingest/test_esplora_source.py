"""The Esplora transport against a tiny local Esplora serving the real testnet3 fixture block."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from indexer.bitcoin.connect import source_for
from indexer.bitcoin.esplora import EsploraSource
from indexer.bitcoin.source import BlockNotFound
from indexer.core.errors import PermanentError, TransientError
from indexer.core.retry import RetryPolicy
from indexer.hashing import dsha256

HEIGHT = 3802509
FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)


class FakeEsplora:
    """Routes -> (status, body); ``fail_next[path]`` holds statuses to answer before the real one."""

    def __init__(self, block: bytes):
        self.block = block
        self.hash_display = dsha256(block[:80])[::-1].hex()
        self.routes = {
            "/api/blocks/tip/height": (200, str(HEIGHT).encode()),
            f"/api/block-height/{HEIGHT}": (200, self.hash_display.encode()),
            f"/api/block/{self.hash_display}/raw": (200, block),
            f"/api/block/{self.hash_display}/header": (200, block[:80].hex().encode()),
        }
        self.fail_next: dict[str, list[int]] = defaultdict(list)
        self.hits: dict[str, int] = defaultdict(int)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.hits[self.path] += 1
                if fake.fail_next[self.path]:
                    status, body = fake.fail_next[self.path].pop(0), b"try again later"
                else:
                    status, body = fake.routes.get(self.path, (404, b"Block not found"))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"


@pytest.fixture
def esplora(testnet3_block) -> Iterator[FakeEsplora]:
    fake = FakeEsplora(testnet3_block)
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def source(esplora) -> Iterator[EsploraSource]:
    src = EsploraSource(esplora.url, retry=FAST)
    yield src
    src.close()


def test_tip_hash_block_and_header_come_back_in_internal_order(source, esplora, testnet3_block):
    assert source.tip_height() == HEIGHT
    hash_internal = source.block_hash(HEIGHT)
    assert hash_internal == dsha256(testnet3_block[:80])
    assert source.block_hashes([HEIGHT, HEIGHT]) == [hash_internal, hash_internal]
    assert source.raw_block(hash_internal) == testnet3_block
    assert source.raw_blocks([hash_internal]) == [testnet3_block]
    assert source.raw_header(hash_internal) == testnet3_block[:80]
    assert source.raw_headers([hash_internal]) == [testnet3_block[:80]]


def test_a_503_is_retried_and_then_succeeds(source, esplora):
    esplora.fail_next["/api/blocks/tip/height"] = [503]
    assert source.tip_height() == HEIGHT
    assert esplora.hits["/api/blocks/tip/height"] == 2


def test_a_429_is_transient_and_gives_up_after_the_bounded_attempts(source, esplora):
    esplora.fail_next["/api/blocks/tip/height"] = [429, 429, 429, 429]
    with pytest.raises(TransientError, match="429"):
        source.tip_height()
    assert esplora.hits["/api/blocks/tip/height"] == FAST.attempts


def test_a_404_is_permanent_and_not_retried(source, esplora):
    with pytest.raises(BlockNotFound):
        source.block_hash(HEIGHT + 1)
    with pytest.raises(BlockNotFound):
        source.raw_block(b"\x11" * 32)
    assert esplora.hits[f"/api/block-height/{HEIGHT + 1}"] == 1


def test_bytes_that_are_not_the_requested_block_are_refused(source, esplora, testnet3_block):
    other = b"\x22" * 32
    esplora.routes[f"/api/block/{other[::-1].hex()}/raw"] = (200, testnet3_block)
    with pytest.raises(PermanentError, match="not block"):
        source.raw_block(other)


def test_a_reply_that_is_not_a_height_is_permanent(source, esplora):
    esplora.routes["/api/blocks/tip/height"] = (200, b"<html>maintenance</html>")
    with pytest.raises(PermanentError):
        source.tip_height()
    assert esplora.hits["/api/blocks/tip/height"] == 1


def test_a_refused_connection_is_transient():
    src = EsploraSource("http://127.0.0.1:9/api", retry=FAST)  # port 9 (discard): nothing listens
    with pytest.raises(TransientError):
        src.tip_height()


def test_source_for_picks_esplora_without_an_rpc_url(esplora):
    from hemiscope.networks import PRESETS

    network = PRESETS["testnet"]
    assert network.bitcoin_rpc_url is None
    from dataclasses import replace

    src = source_for(replace(network, bitcoin_esplora_url=esplora.url))
    assert isinstance(src, EsploraSource) and src.tip_height() == HEIGHT
