"""Hemi (op-geth) JSON-RPC transport: batched HTTP with keep-alive, retries and a rate limit.

Transport only: replies are returned as the node's JSON (dicts/lists/strings); turning them
into records is ``mappers.py``'s job.

Why our own keep-alive HTTP (``indexer.core.http``) and not web3.py: measured on a local anvil
(200 blocks x ~50 transfers, full transactions + ``eth_getBlockReceipts``, batches of 50) a
keep-alive connection posting one JSON array per batch fetched about 3x faster than
web3.py 8's ``w3.batch_requests()`` over its ``HTTPProvider`` (web3 formats every field
into ``AttributeDict``/``HexBytes`` that the mappers would then undo, and validates each
reply). ``benchmarks/bench_hemi_ingest.py`` prints the raw fetch rate this module reaches.

Transport (deadline per call, reply size cap, malformed replies as ``BadReply``) is the
core's ``indexer.core.jsonrpc``; errors are the core's two kinds:

* transient (:class:`indexer.core.errors.TransientError`): timeouts, connection errors, HTTP
  5xx/429 and JSON-RPC "limit exceeded" (-32005, :class:`RateLimited`); retried here with
  the core's backoff, raised once the retries are used up (Celery tasks and work items retry
  on it again, later);
* permanent: :class:`HemiRpcError` (an error object from the node) and its named subclasses
  :class:`CallReverted`, :class:`MethodNotSupported`, :class:`BlockNotFound`, and the core's
  ``BadReply`` / ``ReplyTooLarge`` / ``AccessDenied``; never retried.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.core.errors import PermanentError, TransientError
from indexer.core.jsonrpc import (
    DEFAULT_MAX_REPLY_BYTES,
    ErrorObject,
    JsonRpcClient,
    Reply,
    hex_data,
    json_object,
    quantity,
)
from indexer.core.retry import RetryPolicy, call_with_retries

logger = logging.getLogger(__name__)

# Seconds for a whole call: connect, send, and every byte of the reply.
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_BATCH_SIZE = 50
# JSON-RPC error codes (EIP-1474 and geth's conventions).
CODE_METHOD_NOT_FOUND = -32601
CODE_LIMIT_EXCEEDED = -32005
CODE_EXECUTION_REVERTED = 3
# Phrases nodes and proxies use for "you are going too fast" when they do not use -32005.
_RATE_LIMIT_PHRASES = ("limit exceeded", "rate limit", "too many requests", "exceeds the limit")
# Phrases for "this node does not implement the method" (geth, erigon, proxies' whitelists).
_UNSUPPORTED_PHRASES = ("method not found", "not supported", "does not exist", "not available", "unsupported")


class HemiRpcError(PermanentError):
    """An error object from the node that retrying will not fix."""

    def __init__(self, message: str, *, method: str = "", code: int | None = None, data: Any = None) -> None:
        self.method = method
        self.code = code
        self.data = data
        super().__init__(f"{method}: {message}" if method else message)


class RateLimited(TransientError):
    """The node (or its proxy) said we are going too fast (-32005 or a rate-limit message)."""

    def __init__(self, message: str, *, method: str = "", code: int | None = None) -> None:
        self.method = method
        self.code = code
        super().__init__(f"{method}: {message}" if method else message)


class MethodNotSupported(HemiRpcError):
    """The node (or a proxy in front of it) does not serve this method."""


class BlockNotFound(HemiRpcError):
    """The node has no block at that number (beyond its tip, or it just reorged shorter)."""


class CallReverted(HemiRpcError):
    """``eth_call`` reverted; ``revert_data`` holds the raw revert bytes (may be empty)."""

    def __init__(self, message: str, *, method: str = "eth_call", code: int | None = None, data: Any = None) -> None:
        super().__init__(message, method=method, code=code, data=data)
        self.revert_data = _revert_bytes(data)


def _revert_bytes(data: Any) -> bytes:
    if isinstance(data, dict):  # some proxies nest it: {"data": "0x…"}
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


@dataclass(frozen=True, slots=True)
class RpcErrorReply:
    """One failed item of a batch (kept as a value so the caller can classify it)."""

    method: str
    code: int | None
    message: str
    data: Any = None

    @classmethod
    def of(cls, method: str, error: ErrorObject) -> RpcErrorReply:
        return cls(method, error.code, error.message, error.data)

    @property
    def transient(self) -> bool:
        text = self.message.lower()
        return self.code == CODE_LIMIT_EXCEEDED or any(p in text for p in _RATE_LIMIT_PHRASES)

    @property
    def unsupported(self) -> bool:
        text = self.message.lower()
        return self.code == CODE_METHOD_NOT_FOUND or any(p in text for p in _UNSUPPORTED_PHRASES)

    @property
    def reverted(self) -> bool:
        return self.code == CODE_EXECUTION_REVERTED or "revert" in self.message.lower()

    def to_exception(self) -> HemiRpcError | RateLimited:
        kwargs = {"method": self.method, "code": self.code, "data": self.data}
        text = f"{self.message} (code {self.code})"
        if self.transient:
            return RateLimited(text, method=self.method, code=self.code)
        if self.method == "eth_call" and self.reverted:
            return CallReverted(text, **kwargs)
        if self.unsupported:
            return MethodNotSupported(text, **kwargs)
        return HemiRpcError(text, **kwargs)


class RateLimiter:
    """Token bucket shared by every request of one client: ``per_minute`` tokens a minute.

    A batch of N calls takes N tokens. Tokens are reserved first and waited for afterwards
    (the bucket may go negative), so a batch larger than the bucket still gets through, and
    concurrent callers queue behind each other instead of all waking at once.
    """

    def __init__(self, per_minute: int, *, burst: int | None = None) -> None:
        if per_minute < 0:
            raise ValueError("per_minute must be >= 0")
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        # A burst of one second's worth (at least 1) keeps the average honest at small rates.
        self.capacity = float(burst if burst is not None else max(1, per_minute // 60))
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    @property
    def unlimited(self) -> bool:
        return self.per_minute == 0

    def acquire(self, n: int = 1) -> float:
        """Take ``n`` tokens, sleeping as long as needed; returns the seconds slept."""
        if self.unlimited or n <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)
        return wait


class HemiRpc:
    """A JSON-RPC client for one Hemi node URL. Not shared between threads or processes.

    ``timeout`` is the total deadline of each HTTP exchange; ``max_reply_bytes`` the largest
    reply read (a larger batch reply is split and fetched in halves).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        requests_per_minute: int = 0,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_reply_bytes = max_reply_bytes
        self.retry = RetryPolicy(attempts=max_retries + 1, base_delay=backoff, max_delay=max_backoff)
        self.batch_size = batch_size
        self.limiter = RateLimiter(requests_per_minute)
        self.requests_sent = 0  # JSON-RPC calls sent (a batch of N counts N), for tests and logs
        self._block_receipts_supported: bool | None = None
        self.client = JsonRpcClient(url, timeout=timeout, max_reply_bytes=max_reply_bytes, version="2.0")

    @classmethod
    def from_network(cls, network: Any = None, **kwargs: Any) -> HemiRpc:
        """A client for the configured network (``networks.current()``); raises if it has no URL.
        Deadline and reply cap default to ``HEMI_RPC_TIMEOUT_SECONDS`` / ``RPC_MAX_REPLY_MB``."""
        from django.conf import settings

        if network is None:
            from hemiscope import networks

            network = networks.current()
        if not network.hemi_rpc_url:
            raise HemiRpcError(f"no Hemi RPC URL configured for network {network.name!r} (set HEMI_RPC_URL)")
        kwargs.setdefault("requests_per_minute", network.hemi_rpc_requests_per_minute)
        kwargs.setdefault("timeout", settings.HEMI_RPC_TIMEOUT_SECONDS)
        kwargs.setdefault("max_reply_bytes", settings.RPC_MAX_REPLY_BYTES)
        return cls(network.hemi_rpc_url, **kwargs)

    def clone(self) -> HemiRpc:
        """Another client (own connection, for another thread) sharing this one's rate limit."""
        other = HemiRpc(
            self.url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            backoff=self.backoff,
            max_backoff=self.max_backoff,
            batch_size=self.batch_size,
            max_reply_bytes=self.max_reply_bytes,
        )
        other.limiter = self.limiter
        other._block_receipts_supported = self._block_receipts_supported
        return other

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HemiRpc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _send_batch(self, calls: Sequence[tuple[str, list]]) -> list[Reply]:
        """One HTTP batch, transport errors retried with backoff (the rate limit counts each)."""

        def attempt() -> list[Reply]:
            self.limiter.acquire(len(calls))
            self.requests_sent += len(calls)
            return self.client.batch(calls, f"batch[{len(calls)}]")

        return call_with_retries(attempt, self.retry, f"hemi batch[{len(calls)}]")

    def batch_raw(self, calls: Sequence[tuple[str, list]]) -> list[Any]:
        """Results in call order; a failed item is an :class:`RpcErrorReply` (transient ones retried).

        Calls are sent in HTTP batches of ``batch_size``. Items that fail with a rate-limit
        error are re-sent (alone with the other failed items) with backoff.
        """
        results: list[Any] = [None] * len(calls)
        for start in range(0, len(calls), self.batch_size):
            positions = list(range(start, min(start + self.batch_size, len(calls))))
            for attempt in itertools.count():
                replies = self._send_batch([calls[p] for p in positions])
                pending = []
                for pos, reply in zip(positions, replies, strict=True):
                    if reply.error is None:
                        results[pos] = reply.result
                        continue
                    results[pos] = error = RpcErrorReply.of(calls[pos][0], reply.error)
                    if error.transient:
                        pending.append(pos)
                if not pending or attempt >= self.max_retries:
                    break  # leave the transient error replies in place: the caller raises them
                time.sleep(self.retry.delay(attempt))
                positions = pending
        return results

    def batch(self, calls: Sequence[tuple[str, list]]) -> list[Any]:
        """Like :meth:`batch_raw`, but the first failed item is raised as its named error."""
        results = self.batch_raw(calls)
        for item in results:
            if isinstance(item, RpcErrorReply):
                raise item.to_exception()
        return results

    def call(self, method: str, params: list | None = None) -> Any:
        """One call; a rate-limited answer is retried like a transport error."""

        def attempt() -> Any:
            self.limiter.acquire(1)
            self.requests_sent += 1
            reply = self.client.call(method, params or [])
            if reply.error is not None:
                raise RpcErrorReply.of(method, reply.error).to_exception()
            return reply.result

        return call_with_retries(attempt, self.retry, method)

    # ------------------------------------------------------------------ methods

    def chain_id(self) -> int:
        return quantity(self.call("eth_chainId"), "eth_chainId")

    def block_number(self) -> int:
        return quantity(self.call("eth_blockNumber"), "eth_blockNumber")

    def block_by_number(self, number: int, full_tx: bool = True) -> dict:
        return self.blocks_by_number([number], full_tx)[0]

    def block_by_hash(self, block_hash: bytes, full_tx: bool = False) -> dict:
        block = self.call("eth_getBlockByHash", ["0x" + block_hash.hex(), full_tx])
        if block is None:
            raise BlockNotFound(f"no block 0x{block_hash.hex()}", method="eth_getBlockByHash")
        return json_object(block, "eth_getBlockByHash")

    def blocks_by_number(self, numbers: Iterable[int], full_tx: bool = True) -> list[dict]:
        numbers = list(numbers)
        blocks = self.batch([("eth_getBlockByNumber", [hex(n), full_tx]) for n in numbers])
        for n, block in zip(numbers, blocks, strict=True):
            if block is None:
                raise BlockNotFound(f"no block {n}", method="eth_getBlockByNumber")
            json_object(block, f"eth_getBlockByNumber({n})")
        return blocks

    def block_hashes(self, numbers: Iterable[int]) -> dict[int, bytes]:
        """{number: hash} of the node's blocks (headers only; for reorg checks)."""
        numbers = list(numbers)
        blocks = self.blocks_by_number(numbers, full_tx=False)
        return {n: hex_data(b.get("hash"), f"block {n} hash", length=32) for n, b in zip(numbers, blocks, strict=True)}

    def blocks_with_receipts(self, numbers: Iterable[int]) -> tuple[list[dict], list[list[dict]]]:
        """Full blocks and their receipts; one HTTP round trip when ``eth_getBlockReceipts`` works."""
        numbers = list(numbers)
        if self._block_receipts_supported is False:
            blocks = self.blocks_by_number(numbers)
            return blocks, self.block_receipts(numbers, [[t["hash"] for t in b["transactions"]] for b in blocks])
        calls = [("eth_getBlockByNumber", [hex(n), True]) for n in numbers]
        calls += [("eth_getBlockReceipts", [hex(n)]) for n in numbers]
        replies = self.batch_raw(calls)
        blocks, receipts = replies[: len(numbers)], replies[len(numbers) :]
        for item in blocks:
            if isinstance(item, RpcErrorReply):
                raise item.to_exception()
        for n, block in zip(numbers, blocks, strict=True):
            if block is None:
                raise BlockNotFound(f"no block {n}", method="eth_getBlockByNumber")
            json_object(block, f"eth_getBlockByNumber({n})")
        errors = [r for r in receipts if isinstance(r, RpcErrorReply)]
        if errors:
            if not errors[0].unsupported:
                raise errors[0].to_exception()
            self._block_receipts_supported = False
            return blocks, self.block_receipts(numbers, [[t["hash"] for t in b["transactions"]] for b in blocks])
        self._block_receipts_supported = True
        for n, rs in zip(numbers, receipts, strict=True):
            if rs is None:
                raise BlockNotFound(f"no receipts for block {n}", method="eth_getBlockReceipts")
        return blocks, receipts

    def block_receipts(
        self, numbers: Iterable[int], tx_hashes: Sequence[Sequence[str]] | None = None
    ) -> list[list[dict]]:
        """Receipts of each block, in transaction order.

        Uses ``eth_getBlockReceipts`` (one call per block). If the node does not serve it,
        falls back - for good, on this client - to one ``eth_getTransactionReceipt`` per
        transaction; ``tx_hashes`` (each block's transaction hashes as hex) saves re-reading
        the blocks for that.
        """
        numbers = list(numbers)
        if self._block_receipts_supported is not False:
            replies = self.batch_raw([("eth_getBlockReceipts", [hex(n)]) for n in numbers])
            errors = [r for r in replies if isinstance(r, RpcErrorReply)]
            if not errors:
                self._block_receipts_supported = True
                for n, receipts in zip(numbers, replies, strict=True):
                    if receipts is None:
                        raise BlockNotFound(f"no receipts for block {n}", method="eth_getBlockReceipts")
                return replies
            if not errors[0].unsupported:
                raise errors[0].to_exception()
            logger.info("eth_getBlockReceipts unsupported, using per-transaction receipts", extra={"url": self.url})
            self._block_receipts_supported = False
        if tx_hashes is None:
            blocks = self.blocks_by_number(numbers, full_tx=False)
            tx_hashes = [b["transactions"] for b in blocks]
        flat = [h for hashes in tx_hashes for h in hashes]
        receipts = self.batch([("eth_getTransactionReceipt", [h]) for h in flat])
        for h, receipt in zip(flat, receipts, strict=True):
            if receipt is None:
                raise BlockNotFound(f"no receipt for transaction {h}", method="eth_getTransactionReceipt")
        out: list[list[dict]] = []
        it = iter(receipts)
        for hashes in tx_hashes:
            out.append([next(it) for _ in hashes])
        return out

    def get_logs(
        self,
        from_block: int,
        to_block: int,
        address: str | Sequence[str] | None = None,
        topics: Sequence[Any] | None = None,
    ) -> list[dict]:
        flt: dict[str, Any] = {"fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if address is not None:
            flt["address"] = address
        if topics is not None:
            flt["topics"] = list(topics)
        return self.call("eth_getLogs", [flt])

    def eth_call(self, to: bytes | str, data: bytes, block: int | str = "latest") -> bytes:
        """Call a contract; returns the raw return bytes. A revert raises :class:`CallReverted`."""
        to_hex = to if isinstance(to, str) else "0x" + to.hex()
        tag = hex(block) if isinstance(block, int) else block
        return hex_data(self.call("eth_call", [{"to": to_hex, "data": "0x" + data.hex()}, tag]), "eth_call")

    def get_code(self, address: bytes, block: int | str = "latest") -> bytes:
        tag = hex(block) if isinstance(block, int) else block
        return hex_data(self.call("eth_getCode", ["0x" + address.hex(), tag]), "eth_getCode")
