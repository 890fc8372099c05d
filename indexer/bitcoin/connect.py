"""Pick a Bitcoin source for a network: the node's JSON-RPC when configured, else Esplora."""

from __future__ import annotations

from typing import TYPE_CHECKING

from indexer.bitcoin.esplora import EsploraSource
from indexer.bitcoin.rpc import RpcSource
from indexer.bitcoin.source import BitcoinSource, SourceNotConfigured
from indexer.core.retry import RPC_RETRY, RetryPolicy

if TYPE_CHECKING:
    from hemiscope.networks import NetworkPreset


def source_for(network: NetworkPreset, *, retry: RetryPolicy | None = None) -> BitcoinSource:
    """The node's JSON-RPC when ``bitcoin_rpc_url`` is set (batched, fastest), else Esplora;
    the deadline and reply cap come from ``BITCOIN_RPC_TIMEOUT_SECONDS`` / ``RPC_MAX_REPLY_MB``."""
    from django.conf import settings

    limits = {"timeout": settings.BITCOIN_RPC_TIMEOUT_SECONDS, "max_reply_bytes": settings.RPC_MAX_REPLY_BYTES}
    policy = retry or RPC_RETRY
    if network.bitcoin_rpc_url:
        return RpcSource(network.bitcoin_rpc_url, retry=policy, **limits)
    if network.bitcoin_esplora_url:
        return EsploraSource(network.bitcoin_esplora_url, retry=policy, **limits)
    raise SourceNotConfigured(
        f"network {network.name!r} has no Bitcoin source: set BITCOIN_RPC_URL or BITCOIN_ESPLORA_URL"
    )
