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

from collections.abc import Sequence
from typing import Any

from indexer.bitcoin.source import (
    DEFAULT_MAX_REPLY_BYTES,
    DEFAULT_TIMEOUT,
    BlockNotFound,
    TxNotFound,
    check_block_bytes,
    check_tx_bytes,
)
from indexer.core.errors import PermanentError, TransientError
from indexer.core.jsonrpc import ErrorObject, JsonRpcClient, Reply, integer, plain_hex
from indexer.core.retry import RPC_RETRY, RetryPolicy, call_with_retries

# Codes that mean "no such block/height" across Core (-5 invalid address or key, -8 invalid
# parameter, i.e. height out of range) and bcoin (-1 with "not found" in the message).
_NOT_FOUND_CODES = {-5, -8}
# Core: -28 "Loading block index" / "Verifying blocks" while starting; bcoin never sends it.
_WARMING_UP = -28
# Hashes are tiny, raw blocks are not: a batch of 50 full mainnet blocks would be ~400 MB of hex.
HASH_BATCH = 500
BLOCK_BATCH = 10


class RpcError(PermanentError):
    """A JSON-RPC error object the server sent back (code and message kept for logs)."""

    def __init__(self, method: str, code: int | None, message: str):
        super().__init__(f"{method}: RPC error {code}: {message}")
        self.code = code
        self.rpc_message = message


class NodeWarmingUp(TransientError):
    """Bitcoin Core is still loading its block index (-28)."""


def _classify(method: str, error: ErrorObject) -> Exception:
    code, message = error.code, error.message
    if code in _NOT_FOUND_CODES or (code == -1 and "not found" in message.lower()):
        return BlockNotFound(f"{method}: {message} (code {code})")
    if code == _WARMING_UP:
        return NodeWarmingUp(f"{method}: node warming up: {message}")
    return RpcError(method, code, message)


def _result(method: str, reply: Reply) -> Any:
    if reply.error is not None:
        raise _classify(method, reply.error)
    return reply.result


class RpcSource:
    """``BitcoinSource`` over a node's JSON-RPC. The URL carries the credentials
    (``http://user:password@host:port/``); bcoin checks only the password (its api key).
    ``timeout`` is the total deadline of each request (see ``indexer.core.http``)."""

    name = "rpc"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        retry: RetryPolicy | None = None,
    ):
        self.url = url
        self.retry = retry or RPC_RETRY
        self.client = JsonRpcClient(url, timeout=timeout, max_reply_bytes=max_reply_bytes, version="1.0")

    @property
    def timeout(self) -> float:
        return self.client.timeout

    def close(self) -> None:
        self.client.close()

    # -- transport -------------------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call, retried on transient failures."""
        return call_with_retries(lambda: _result(method, self.client.call(method, params)), self.retry, method)

    def batch(self, method: str, params_list: Sequence[Sequence[Any]]) -> list[Any]:
        """Many calls of one method in a single POST; results in the order of ``params_list``.

        The first error in the batch is raised (classified like a single call): callers ask
        for things that must all exist, so a partial answer is not useful.
        """
        if not params_list:
            return []

        def attempt() -> list[Any]:
            replies = self.client.batch([(method, p) for p in params_list], f"{method} x{len(params_list)}")
            return [_result(method, r) for r in replies]

        return call_with_retries(attempt, self.retry, f"{method} batch")

    # -- BitcoinSource ---------------------------------------------------------------------

    def tip_height(self) -> int:
        return integer(self.call("getblockcount"), "getblockcount")

    def block_hash(self, height: int) -> bytes:
        return _hash_from_hex(self.call("getblockhash", height), "getblockhash")

    def block_hashes(self, heights: Sequence[int]) -> list[bytes]:
        out: list[bytes] = []
        for chunk in _chunks(list(heights), HASH_BATCH):
            out += [_hash_from_hex(h, "getblockhash") for h in self.batch("getblockhash", [[h] for h in chunk])]
        return out

    def raw_block(self, hash_internal: bytes) -> bytes:
        raw = plain_hex(self.call("getblock", hash_internal[::-1].hex(), 0), "getblock")
        return check_block_bytes(raw, hash_internal)

    def raw_blocks(self, hashes_internal: Sequence[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for chunk in _chunks(list(hashes_internal), BLOCK_BATCH):
            replies = self.batch("getblock", [[h[::-1].hex(), 0] for h in chunk])
            out += [check_block_bytes(plain_hex(r, "getblock"), h) for r, h in zip(replies, chunk, strict=True)]
        return out

    def raw_header(self, hash_internal: bytes) -> bytes:
        return _header(self.call("getblockheader", hash_internal[::-1].hex(), False), hash_internal)

    def raw_headers(self, hashes_internal: Sequence[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for chunk in _chunks(list(hashes_internal), HASH_BATCH):
            replies = self.batch("getblockheader", [[h[::-1].hex(), False] for h in chunk])
            out += [_header(r, h) for r, h in zip(replies, chunk, strict=True)]
        return out

    def raw_transactions(self, txids_internal: Sequence[bytes]) -> list[bytes]:
        # getrawtransaction reads any confirmed tx only with the node's tx index (Core -txindex,
        # bcoin --index-tx); without it the node answers "not found" like for an unknown txid.
        out: list[bytes] = []
        for chunk in _chunks(list(txids_internal), BLOCK_BATCH * 10):
            try:
                replies = self.batch("getrawtransaction", [[t[::-1].hex(), False] for t in chunk])
            except BlockNotFound as exc:
                raise TxNotFound(str(exc)) from exc
            out += [check_tx_bytes(plain_hex(r, "getrawtransaction"), t) for r, t in zip(replies, chunk, strict=True)]
        return out


def _header(reply: Any, hash_internal: bytes) -> bytes:
    return check_block_bytes(plain_hex(reply, "getblockheader", length=80), hash_internal)


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _hash_from_hex(value: Any, what: str) -> bytes:
    """Servers print display order; we keep internal order."""
    return plain_hex(value, what, length=32)[::-1]
