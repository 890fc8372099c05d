"""``block/:hash/raw``: whole blocks are not stored, so they come from the configured Bitcoin
source (the operator's node or a public Esplora) - but never as an open proxy:

* only blocks Hemiscope has indexed are asked for (the hash is looked up first);
* the bytes are checked against the block hash by the source and cached (``ESPLORA_RAW_BLOCK
  _CACHE_SECONDS``), so a popular block costs the source one read;
* the endpoint has its own, lower rate per client (``ESPLORA_RAW_BLOCK_RATE``), on top of the
  API's anonymous throttle, and one attempt with the source's deadline (no retries that would
  hold a web thread).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache

from hemiscope import networks
from hemiscope.throttling import AnonApiThrottle
from indexer.bitcoin.connect import source_for
from indexer.core.errors import IndexerError
from indexer.core.retry import RetryPolicy

log = logging.getLogger(__name__)
_ONE_ATTEMPT = RetryPolicy(attempts=1)


class SourceUnavailable(Exception):
    """The Bitcoin source did not deliver the block (down, slow, refused)."""


class RawBlockThrottle(AnonApiThrottle):
    scope = "esplora-raw-block"

    def get_rate(self) -> str:
        return settings.ESPLORA_RAW_BLOCK_RATE


def raw_block(hash_internal: bytes) -> bytes:
    """The serialized block (cached); ``SourceUnavailable`` when the source fails."""
    key = f"esplora:raw-block:{hash_internal.hex()}"
    try:
        cached = cache.get(key)
    except Exception:  # a cache outage must not become an outage of the endpoint
        cached = None
    if cached is not None:
        return cached
    try:
        source = source_for(networks.current(), retry=_ONE_ATTEMPT)
        try:
            raw = source.raw_block(hash_internal)
        finally:
            source.close()
    except IndexerError as exc:
        log.warning("raw block not served by the Bitcoin source", extra={"error": f"{type(exc).__name__}: {exc}"})
        raise SourceUnavailable(type(exc).__name__) from exc
    try:
        cache.set(key, raw, timeout=settings.ESPLORA_RAW_BLOCK_CACHE_SECONDS)
    except Exception:
        log.warning("raw block not cached: cache unavailable")
    return raw
