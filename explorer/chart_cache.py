"""The numbers of /charts and of the /reserves history, cached per pair of chain tips.

Each chart is a fixed number of aggregates over a window ending at the newest indexed block
(``explorer.queries.charts``, ``explorer.queries.reserve_history``): 21 queries for the four
of /charts, 9 for the reserves history, and at mainnet size some read tens of thousands of
rows. Their answer only changes when a chain moves, so it is kept in the shared cache (Redis)
under the pair of cursor positions, like the reserve verdict (``explorer.reserves.at_tips``): a
page reads one query (the cursors) and one cache round trip; the first reader after a new
block, or the worker's beat task (``explorer.tasks.refresh_charts``, every HEARTBEAT_SECONDS,
the default span) computes them. Rows written below the tips without moving a cursor (a vault
rescan) show within a beat interval: the task recomputes whatever the cache holds, and
entries expire after ``CACHE_SECONDS`` anyway.

If the cache is unreachable the numbers are computed for the request (a page never fails
because Redis does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from explorer.queries import charts as chart_data
from explorer.queries import reserve_history
from indexer.models import ChainCursor

log = logging.getLogger(__name__)

CACHE_SECONDS = 300
# Part name -> (depends on the span, how to compute it).
PARTS: dict[str, tuple[bool, Callable[[str], object]]] = {
    "latency": (False, lambda span: chart_data.anchoring_latency()),
    "pops": (False, lambda span: chart_data.pop_per_block()),
    "flows": (True, chart_data.tunnel_flows),
    "reserves": (True, reserve_history.history),
}


def _tips() -> str | None:
    """Both chains' cursor positions (block hashes): one query. A reorg changes the hash. None
    until both chains have a cursor: nothing is cached then (rows without cursors are no index
    anyone serves)."""
    cursors = dict(ChainCursor.objects.filter(chain__in=("bitcoin", "hemi")).values_list("chain", "block_hash"))
    if len(cursors) < 2:
        return None
    return bytes(cursors["bitcoin"]).hex() + ":" + bytes(cursors["hemi"]).hex()


def _key(part: str, span: str, tips: str) -> str:
    by_span, _ = PARTS[part]
    return f"charts:{part}:{span if by_span else '*'}:{tips}"


def numbers(span: str, parts: tuple[str, ...] = tuple(PARTS)) -> dict[str, object]:
    """``{part: value}`` for ``parts`` over ``span``, from the cache when the tips have not moved."""
    from django.core.cache import cache

    tips = _tips()
    if tips is None:
        return {part: PARTS[part][1](span) for part in parts}
    keys = {part: _key(part, span, tips) for part in parts}
    try:
        found = cache.get_many(list(keys.values()))
    except Exception as exc:  # Redis down: compute (slower, never broken)
        log.warning("chart cache unreachable", extra={"error": str(exc)})
        return {part: PARTS[part][1](span) for part in parts}
    out = {}
    for part in parts:
        value = found.get(keys[part])
        if value is None:
            value = PARTS[part][1](span)
            try:
                cache.set(keys[part], value, CACHE_SECONDS)
            except Exception as exc:
                log.warning("chart cache unreachable", extra={"error": str(exc)})
        out[part] = value
    return out


def rendered(name: str, span: str, render: Callable[[], str]) -> str:
    """The HTML ``render`` makes of the numbers, cached like them (per span and pair of tips):
    at 100 keystones, 100 Bitcoin blocks and a few dozen buckets, drawing the SVGs and their
    tables costs more than the numbers did."""
    from django.core.cache import cache

    tips = _tips()
    if tips is None:
        return render()
    key = f"charts:html:{name}:{span}:{tips}"
    try:
        found = cache.get(key)
    except Exception as exc:
        log.warning("chart cache unreachable", extra={"error": str(exc)})
        return render()
    if found is None:
        found = render()
        try:
            cache.set(key, found, CACHE_SECONDS)
        except Exception as exc:
            log.warning("chart cache unreachable", extra={"error": str(exc)})
    return found


def store_rendered(name: str, span: str, html: str) -> None:
    """Store HTML the beat task rendered (see :func:`rendered`)."""
    from django.core.cache import cache

    tips = _tips()
    if tips is not None:
        cache.set(f"charts:html:{name}:{span}:{tips}", html, CACHE_SECONDS)


def refresh(span: str | None = None) -> dict[str, object]:
    """Recompute every part for ``span`` (the default span) and store it under the current tips:
    the beat task, so pages find the numbers ready."""
    from django.core.cache import cache

    span = span or chart_data.default_span()
    tips = _tips()
    out = {part: compute(span) for part, (_, compute) in PARTS.items()}
    if tips is not None:
        cache.set_many({_key(part, span, tips): value for part, value in out.items()}, CACHE_SECONDS)
    return out
