"""Bitcoin JSON-RPC transport (Bitcoin Core and bcoin), batched, over one keep-alive session.

Differences between the two servers that matter here (bcoin-regtest.md §7):

* Core answers a failed single call with HTTP 500 (or 404 for an unknown method) and a JSON
  error body; bcoin answers every error with HTTP 200. So the body is parsed whatever the
  status, and the status alone decides only when there is no JSON-RPC reply in it.
* An unknown block hash is error -5 in Core but -1 ("Block not found") in bcoin; a height above
  the tip is -8 in both.
* Verbose block JSON differs (bcoin: integer ``bits``, no nonce, ``null`` links), so only raw
  bytes (``getblock <hash> 0``, ``getblockheader <hash> false``) are requested.
* bcoin keeps stale blocks readable and reports positive confirmations for them: staleness is
  decided by comparing ``getblockhash(height)``, which is what the reorg walk-back does.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

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

# Codes that mean "no such block/height" across Core (-5 invalid address or key, -8 invalid
# parameter, i.e. height out of range) and bcoin (-1 with "not found" in the message).
_NOT_FOUND_CODES = {-5, -8}
# Core: -28 "Loading block index" / "Verifying blocks" while starting; bcoin never sends it.
_WARMING_UP = -28
# Hashes are tiny, raw blocks are not: a batch of 50 full mainnet blocks would be ~400 MB of hex.
HASH_BATCH = 500
BLOCK_BATCH = 10


class RpcError(PermanentSourceError):
    """A JSON-RPC error object the server sent back (code and message kept for logs)."""

    def __init__(self, method: str, code: int | None, message: str):
        super().__init__(f"{method}: RPC error {code}: {message}")
        self.code = code
        self.rpc_message = message


def _classify(method: str, error: Any) -> Exception:
    if not isinstance(error, dict):
        return PermanentSourceError(f"{method}: malformed RPC error {error!r}")
    code, message = error.get("code"), str(error.get("message", ""))
    if code in _NOT_FOUND_CODES or (code == -1 and "not found" in message.lower()):
        return BlockNotFound(f"{method}: {message} (code {code})")
    if code == _WARMING_UP:
        return TransientSourceError(f"{method}: node warming up: {message}")
    return RpcError(method, code, message)


class RpcSource:
    """``BitcoinSource`` over a node's JSON-RPC. The URL carries the credentials
    (``http://user:password@host:port/``); bcoin checks only the password (its api key)."""

    name = "rpc"

    def __init__(self, url: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT, retry: RetryPolicy | None = None):
        self.url = url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._session = requests.Session()
        self._ids = itertools.count(1)

    def close(self) -> None:
        self._session.close()

    # -- transport -------------------------------------------------------------------------

    def _post(self, payload: Any, what: str) -> Any:
        """One HTTP POST, classified. Retries are the caller's (whole-request) business."""
        try:
            response = self._session.post(self.url, json=payload, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientSourceError(f"{what}: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise PermanentSourceError(f"{what}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status in (401, 403):
            raise PermanentSourceError(f"{what}: HTTP {status}: the node refused our credentials")
        try:
            body = response.json()
        except ValueError:
            body = None
        if body is None:
            if status == 429 or status >= 500:
                raise TransientSourceError(f"{what}: HTTP {status}")
            if status != 200:
                raise PermanentSourceError(f"{what}: HTTP {status}: {response.text[:200]!r}")
            raise PermanentSourceError(f"{what}: reply is not JSON: {response.text[:200]!r}")
        if status == 429 or (status >= 500 and not _has_rpc_reply(body)):
            raise TransientSourceError(f"{what}: HTTP {status}")
        return body

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call, retried on transient failures."""

        def attempt() -> Any:
            body = self._post(
                {"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": list(params)}, method
            )
            if not isinstance(body, dict) or ("result" not in body and "error" not in body):
                raise PermanentSourceError(f"{method}: malformed JSON-RPC reply {str(body)[:200]!r}")
            if body.get("error") is not None:
                raise _classify(method, body["error"])
            return body.get("result")

        return call_with_retries(attempt, self.retry, method)

    def batch(self, method: str, params_list: Sequence[Sequence[Any]]) -> list[Any]:
        """Many calls of one method in a single POST; results in the order of ``params_list``.

        The first error in the batch is raised (classified like a single call): callers ask
        for things that must all exist, so a partial answer is not useful.
        """
        if not params_list:
            return []

        def attempt() -> list[Any]:
            ids = [next(self._ids) for _ in params_list]
            payload = [
                {"jsonrpc": "1.0", "id": i, "method": method, "params": list(p)}
                for i, p in zip(ids, params_list, strict=True)
            ]
            body = self._post(payload, f"{method} x{len(params_list)}")
            if isinstance(body, dict):
                # A server that cannot batch answers the whole request with one error object.
                raise _classify(method, body.get("error"))
            if not isinstance(body, list) or len(body) != len(params_list):
                raise PermanentSourceError(f"{method}: batch reply has the wrong shape")
            by_id = {item.get("id"): item for item in body if isinstance(item, dict)}
            results = []
            for request_id in ids:
                # Replies may come back in any order (JSON-RPC 2.0 allows it); match by id.
                item = by_id.get(request_id)
                if item is None:
                    raise PermanentSourceError(f"{method}: batch reply lacks id {request_id}")
                if item.get("error") is not None:
                    raise _classify(method, item["error"])
                results.append(item.get("result"))
            return results

        return call_with_retries(attempt, self.retry, f"{method} batch")

    # -- BitcoinSource ---------------------------------------------------------------------

    def tip_height(self) -> int:
        return _as_int(self.call("getblockcount"), "getblockcount")

    def block_hash(self, height: int) -> bytes:
        return _hash_from_hex(self.call("getblockhash", height), "getblockhash")

    def block_hashes(self, heights: Sequence[int]) -> list[bytes]:
        out: list[bytes] = []
        for chunk in _chunks(list(heights), HASH_BATCH):
            out += [_hash_from_hex(h, "getblockhash") for h in self.batch("getblockhash", [[h] for h in chunk])]
        return out

    def raw_block(self, hash_internal: bytes) -> bytes:
        raw = _bytes_from_hex(self.call("getblock", hash_internal[::-1].hex(), 0), "getblock")
        return check_block_bytes(raw, hash_internal)

    def raw_blocks(self, hashes_internal: Sequence[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for chunk in _chunks(list(hashes_internal), BLOCK_BATCH):
            replies = self.batch("getblock", [[h[::-1].hex(), 0] for h in chunk])
            out += [check_block_bytes(_bytes_from_hex(r, "getblock"), h) for r, h in zip(replies, chunk, strict=True)]
        return out

    def raw_header(self, hash_internal: bytes) -> bytes:
        return _header(self.call("getblockheader", hash_internal[::-1].hex(), False), hash_internal)

    def raw_headers(self, hashes_internal: Sequence[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for chunk in _chunks(list(hashes_internal), HASH_BATCH):
            replies = self.batch("getblockheader", [[h[::-1].hex(), False] for h in chunk])
            out += [_header(r, h) for r, h in zip(replies, chunk, strict=True)]
        return out


def _header(reply: Any, hash_internal: bytes) -> bytes:
    raw = _bytes_from_hex(reply, "getblockheader")
    if len(raw) != 80:
        raise PermanentSourceError(f"getblockheader returned {len(raw)} bytes, expected 80")
    return check_block_bytes(raw, hash_internal)


def _has_rpc_reply(body: Any) -> bool:
    return isinstance(body, list) or (isinstance(body, dict) and ("result" in body or "error" in body))


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PermanentSourceError(f"{what}: expected an integer, got {json.dumps(value)[:100]}")
    return value


def _bytes_from_hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise PermanentSourceError(f"{what}: expected hex, got {json.dumps(value)[:100]}")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise PermanentSourceError(f"{what}: reply is not hex: {exc}") from exc


def _hash_from_hex(value: Any, what: str) -> bytes:
    """Servers print display order; we keep internal order."""
    raw = _bytes_from_hex(value, what)
    if len(raw) != 32:
        raise PermanentSourceError(f"{what}: expected a 32-byte hash, got {len(raw)} bytes")
    return raw[::-1]
