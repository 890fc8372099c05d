"""Esplora REST transport (Blockstream's esplora, mempool.space's ``/api``), one keep-alive session.

Endpoints used (all public, no key):

* ``GET /blocks/tip/height`` -> decimal text;
* ``GET /block-height/:height`` -> display-order hash as text (404 above the tip);
* ``GET /block/:hash/raw`` -> the serialized block, binary;
* ``GET /block/:hash/header`` -> the 80-byte header as hex text.

Esplora has no batch endpoint, so the batched methods loop over one connection. Public
instances rate-limit with HTTP 429, which is classified transient like 5xx.
"""

from __future__ import annotations

from collections.abc import Sequence

import requests

from indexer.bitcoin.source import (
    DEFAULT_TIMEOUT,
    BlockNotFound,
    PermanentSourceError,
    RetryPolicy,
    TransientSourceError,
    call_with_retries,
    check_block_bytes,
)


class EsploraSource:
    """``BitcoinSource`` over an Esplora base URL such as ``https://mempool.space/api``."""

    name = "esplora"

    def __init__(
        self, base_url: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT, retry: RetryPolicy | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._session = requests.Session()

    def close(self) -> None:
        self._session.close()

    def _get(self, path: str) -> bytes:
        """GET ``path``, classified and retried on transient failures; returns the body."""
        url = self.base_url + path

        def attempt() -> bytes:
            try:
                response = self._session.get(url, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientSourceError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
            except requests.RequestException as exc:
                raise PermanentSourceError(f"GET {path}: {type(exc).__name__}: {exc}") from exc
            status = response.status_code
            if status == 200:
                return response.content
            detail = response.text[:200]
            if status == 404:
                raise BlockNotFound(f"GET {path}: HTTP 404: {detail!r}")
            if status == 429 or status >= 500:
                raise TransientSourceError(f"GET {path}: HTTP {status}: {detail!r}")
            raise PermanentSourceError(f"GET {path}: HTTP {status}: {detail!r}")

        return call_with_retries(attempt, self.retry, f"GET {path}")

    def _text(self, path: str) -> str:
        try:
            return self._get(path).decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise PermanentSourceError(f"GET {path}: reply is not ASCII text") from exc

    def tip_height(self) -> int:
        text = self._text("/blocks/tip/height")
        if not text.isdigit():
            raise PermanentSourceError(f"GET /blocks/tip/height: not a height: {text[:100]!r}")
        return int(text)

    def block_hash(self, height: int) -> bytes:
        text = self._text(f"/block-height/{int(height)}")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise PermanentSourceError(f"GET /block-height/{height}: not a block hash: {text[:100]!r}")
        return raw[::-1]  # Esplora prints display order; we keep internal order

    def block_hashes(self, heights: Sequence[int]) -> list[bytes]:
        return [self.block_hash(h) for h in heights]

    def raw_block(self, hash_internal: bytes) -> bytes:
        return check_block_bytes(self._get(f"/block/{hash_internal[::-1].hex()}/raw"), hash_internal)

    def raw_blocks(self, hashes_internal: Sequence[bytes]) -> list[bytes]:
        return [self.raw_block(h) for h in hashes_internal]

    def raw_header(self, hash_internal: bytes) -> bytes:
        path = f"/block/{hash_internal[::-1].hex()}/header"
        text = self._text(path)
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise PermanentSourceError(f"GET {path}: reply is not hex") from exc
        if len(raw) != 80:
            raise PermanentSourceError(f"GET {path}: expected 80 header bytes, got {len(raw)}")
        return check_block_bytes(raw, hash_internal)

    def raw_headers(self, hashes_internal: Sequence[bytes]) -> list[bytes]:
        return [self.raw_header(h) for h in hashes_internal]
