"""Esplora REST transport (Blockstream's esplora, mempool.space's ``/api``), one keep-alive session.

Endpoints used (all public, no key):

* ``GET /blocks/tip/height`` -> decimal text;
* ``GET /block-height/:height`` -> display-order hash as text (404 above the tip);
* ``GET /block/:hash/raw`` -> the serialized block, binary;
* ``GET /block/:hash/header`` -> the 80-byte header as hex text;
* ``GET /tx/:txid/raw`` -> the serialized transaction, binary (the spent outputs of stored txs).

Esplora has no batch endpoint, so the batched methods loop over one connection. Public
instances rate-limit with HTTP 429, which is classified transient like 5xx.
"""

from __future__ import annotations

from collections.abc import Sequence

from indexer.bitcoin.source import (
    DEFAULT_MAX_REPLY_BYTES,
    DEFAULT_TIMEOUT,
    BlockNotFound,
    TxNotFound,
    check_block_bytes,
    check_tx_bytes,
)
from indexer.core.errors import PermanentError
from indexer.core.http import HttpClient
from indexer.core.jsonrpc import BadReply, HttpStatusError, ServerBusy
from indexer.core.retry import RPC_RETRY, RetryPolicy, call_with_retries


class EsploraSource:
    """``BitcoinSource`` over an Esplora base URL such as ``https://mempool.space/api``."""

    name = "esplora"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        retry: RetryPolicy | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RPC_RETRY
        self.http = HttpClient(self.base_url, timeout=timeout, max_reply_bytes=max_reply_bytes)

    @property
    def timeout(self) -> float:
        return self.http.timeout

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str) -> bytes:
        """GET ``path``, classified and retried on transient failures; returns the body."""

        def attempt() -> bytes:
            reply = self.http.request("GET", path=path, what=f"GET {path}")
            status = reply.status
            if status == 200:
                return reply.body
            detail = reply.body[:200]
            if status == 404:
                raise BlockNotFound(f"GET {path}: HTTP 404: {detail!r}")
            if status == 429 or status >= 500:
                err = ServerBusy(f"GET {path}: HTTP {status}: {detail!r}")
                err.retry_after = reply.retry_after
                raise err
            if status in (401, 403):
                raise PermanentError(f"GET {path}: HTTP {status}: access refused")
            raise HttpStatusError(f"GET {path}: HTTP {status}: {detail!r}", status=status)

        return call_with_retries(attempt, self.retry, f"GET {path}")

    def _text(self, path: str) -> str:
        try:
            return self._get(path).decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise BadReply(f"GET {path}: reply is not ASCII text") from exc

    def tip_height(self) -> int:
        text = self._text("/blocks/tip/height")
        if not (text.isascii() and text.isdigit()):
            raise BadReply(f"GET /blocks/tip/height: not a height: {text[:100]!r}")
        return int(text)

    def block_hash(self, height: int) -> bytes:
        text = self._text(f"/block-height/{int(height)}")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise BadReply(f"GET /block-height/{height}: not a block hash: {text[:100]!r}")
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
            raise BadReply(f"GET {path}: reply is not hex") from exc
        if len(raw) != 80:
            raise BadReply(f"GET {path}: expected 80 header bytes, got {len(raw)}")
        return check_block_bytes(raw, hash_internal)

    def raw_headers(self, hashes_internal: Sequence[bytes]) -> list[bytes]:
        return [self.raw_header(h) for h in hashes_internal]

    def raw_transactions(self, txids_internal: Sequence[bytes]) -> list[bytes]:
        out = []
        for txid in txids_internal:
            try:
                raw = self._get(f"/tx/{txid[::-1].hex()}/raw")
            except BlockNotFound as exc:
                raise TxNotFound(str(exc)) from exc
            out.append(check_tx_bytes(raw, txid))
        return out
