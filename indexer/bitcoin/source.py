"""Where Bitcoin blocks come from: one interface over a node's JSON-RPC or an Esplora REST API.

Every hash crossing this interface is in INTERNAL byte order (raw double-SHA256 digest); the
transports convert to the display hex their servers speak. Blocks come back as raw bytes and
are decoded by ``indexer.bitcoin.decode``, never from a server's JSON layout (bcoin's verbose
JSON differs from Core's).

Errors are classified once, here, so callers can decide what to do without knowing the
transport: ``TransientSourceError`` (timeouts, refused connections, HTTP 5xx/429, a node still
warming up) is retried with exponential backoff and jitter a bounded number of times, and then
reaches the caller (the Celery task retries again later); ``PermanentSourceError`` (bad
credentials, unknown block, malformed reply) is never retried.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from indexer.hashing import dsha256

if TYPE_CHECKING:
    from hemiscope.networks import NetworkPreset

log = logging.getLogger(__name__)

T = TypeVar("T")

# (connect, read) seconds. Raw mainnet blocks are up to ~4 MB (8 MB of hex over RPC), and a
# batch holds several, so the read timeout is generous; the connect timeout is not.
DEFAULT_TIMEOUT = (5.0, 60.0)


class SourceError(Exception):
    """Anything that went wrong while asking a Bitcoin source for data."""


class TransientSourceError(SourceError):
    """Worth retrying: the server may answer next time (timeout, refused, 5xx, 429, warm-up)."""


class PermanentSourceError(SourceError):
    """Retrying cannot help: bad credentials, a malformed reply, a request the server rejects."""


class BlockNotFound(PermanentSourceError):
    """The source does not know this block hash, or the height is above its tip."""


class SourceNotConfigured(PermanentSourceError):
    """The network has neither ``bitcoin_rpc_url`` nor ``bitcoin_esplora_url``."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter (sleep uniformly in [0, min(cap, base*2^n)]),
    so many workers hitting a recovering server do not retry in lockstep."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


def call_with_retries(
    fn: Callable[[], T], policy: RetryPolicy, what: str, sleep: Callable[[float], None] = time.sleep
) -> T:
    """Run ``fn``; on TransientSourceError sleep and try again, up to ``policy.attempts`` calls."""
    for attempt in range(policy.attempts):
        try:
            return fn()
        except TransientSourceError as exc:
            if attempt + 1 >= policy.attempts:
                raise
            delay = policy.delay(attempt)
            log.warning(
                "bitcoin source call failed, retrying",
                extra={"call": what, "attempt": attempt + 1, "delay_s": round(delay, 3), "error": str(exc)},
            )
            sleep(delay)
    raise AssertionError("unreachable: policy.attempts must be >= 1")


def check_block_bytes(raw: bytes, hash_internal: bytes) -> bytes:
    """Refuse bytes whose header does not hash to the block we asked for (a confused proxy or
    cache must not make us store another block under this hash)."""
    if len(raw) < 80 or dsha256(raw[:80]) != hash_internal:
        raise PermanentSourceError(f"source returned bytes that are not block {hash_internal[::-1].hex()}")
    return raw


class BitcoinSource(Protocol):
    """What the indexer needs from a Bitcoin node. Hashes are internal byte order."""

    name: str

    def tip_height(self) -> int: ...

    def block_hash(self, height: int) -> bytes: ...

    def block_hashes(self, heights: Sequence[int]) -> list[bytes]: ...

    def raw_block(self, hash_internal: bytes) -> bytes: ...

    def raw_blocks(self, hashes_internal: Sequence[bytes]) -> list[bytes]: ...

    def raw_header(self, hash_internal: bytes) -> bytes: ...

    def raw_headers(self, hashes_internal: Sequence[bytes]) -> list[bytes]: ...

    def close(self) -> None: ...


def source_for(network: NetworkPreset, *, retry: RetryPolicy | None = None) -> BitcoinSource:
    """The node's JSON-RPC when ``bitcoin_rpc_url`` is set (batched, fastest), else Esplora."""
    policy = retry or RetryPolicy()
    if network.bitcoin_rpc_url:
        from indexer.bitcoin.rpc import RpcSource

        return RpcSource(network.bitcoin_rpc_url, retry=policy)
    if network.bitcoin_esplora_url:
        from indexer.bitcoin.esplora import EsploraSource

        return EsploraSource(network.bitcoin_esplora_url, retry=policy)
    raise SourceNotConfigured(
        f"network {network.name!r} has no Bitcoin source: set BITCOIN_RPC_URL or BITCOIN_ESPLORA_URL"
    )
