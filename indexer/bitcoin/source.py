"""Where Bitcoin blocks come from: one interface over a node's JSON-RPC or an Esplora REST API.

Every hash crossing this interface is in INTERNAL byte order (raw double-SHA256 digest); the
transports convert to the display hex their servers speak. Blocks come back as raw bytes and
are decoded by ``indexer.bitcoin.decode``, never from a server's JSON layout (bcoin's verbose
JSON differs from Core's).

Errors are the core's two kinds (``indexer.core.errors``): transient ones (timeouts, refused
connections, HTTP 5xx/429, a node still warming up) are retried with backoff a bounded number
of times and then reach the caller (the Celery task or work item retries again later);
permanent ones (bad credentials, unknown block, malformed or oversized reply) are never
retried. ``connect.source_for`` picks the transport for a network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from indexer.bitcoin.decode import BitcoinDecodeError, decode_tx
from indexer.core.errors import PermanentError
from indexer.core.jsonrpc import BadReply
from indexer.hashing import dsha256

# Seconds for a whole call (connect, send, every byte of the reply). Raw mainnet blocks are up
# to ~4 MB (8 MB of hex over RPC) and a batch holds several, so it is generous.
DEFAULT_TIMEOUT = 120.0
# Largest reply accepted: a batch of BLOCK_BATCH full mainnet blocks in hex stays under it.
DEFAULT_MAX_REPLY_BYTES = 128 << 20


class BlockNotFound(PermanentError):
    """The source does not know this block hash, or the height is above its tip."""


class TxNotFound(PermanentError):
    """The source cannot serve this transaction (a node without a tx index, or an Esplora that
    only has some transactions, such as another Hemiscope)."""


class SourceNotConfigured(PermanentError):
    """The network has neither ``bitcoin_rpc_url`` nor ``bitcoin_esplora_url``."""


def check_block_bytes(raw: bytes, hash_internal: bytes) -> bytes:
    """Refuse bytes whose header does not hash to the block we asked for (a confused proxy or
    cache must not make us store another block under this hash)."""
    if len(raw) < 80 or dsha256(raw[:80]) != hash_internal:
        raise BadReply(f"source returned bytes that are not block {hash_internal[::-1].hex()}")
    return raw


def check_tx_bytes(raw: bytes, txid_internal: bytes) -> bytes:
    """Refuse bytes that are not the transaction we asked for (same reason as blocks)."""
    try:
        ok = decode_tx(raw).txid_internal == txid_internal
    except BitcoinDecodeError:
        ok = False
    if not ok:
        raise BadReply(f"source returned bytes that are not transaction {txid_internal[::-1].hex()}")
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

    def raw_transactions(self, txids_internal: Sequence[bytes]) -> list[bytes]:
        """Serialized transactions (any block: needs the node's tx index); ``TxNotFound`` names
        the first one the source does not have."""
        ...

    def close(self) -> None: ...
