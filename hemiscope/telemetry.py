"""Readings that workers record for ``/healthz`` and ``/metrics`` to show cheaply.

The web process must never call a node (or walk the chain) to answer a health probe, so the
Celery side records what it saw, in Redis, and the web side only reads it:

* ``hemiscope.heartbeat`` (beat, every ``HEARTBEAT_SECONDS``): proves beat -> broker -> worker
  works end to end, and samples both cursors so the next run can compute the ingest rate;
* ``hemiscope.record_node_tips`` (beat, same period): each node's tip height, so lag is
  "node tip minus our cursor" without a node call per health check;
* the ``task_failure`` signal: a failure counter per task name.

Values are JSON in plain Redis keys under ``hemiscope:`` (readable with ``redis-cli``). Every
reader returns None / empty when Redis is unreachable: health reports "unknown", never crashes.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis
from celery import shared_task
from celery.signals import task_failure
from django.conf import settings

log = logging.getLogger(__name__)

CHAINS = ("bitcoin", "hemi")
HEARTBEAT_KEY = "hemiscope:heartbeat"
INGEST_KEY = "hemiscope:ingest"
NODE_TIP_KEY = "hemiscope:node-tip:{chain}"
TASK_FAILURES_KEY = "hemiscope:task-failures"

_clients: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis:
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    return client


def _get_json(key: str) -> Any:
    try:
        raw = _redis().get(key)
        return json.loads(raw) if raw else None
    except (redis.RedisError, ValueError) as exc:  # unreachable, or not what we wrote: no reading
        log.warning("telemetry read failed", extra={"key": key, "error": f"{type(exc).__name__}: {exc}"})
        return None


def _set_json(key: str, value: Any) -> None:
    _redis().set(key, json.dumps(value))


# --- What the workers record -------------------------------------------------------------------


def cursor_heights() -> dict[str, int]:
    from indexer.models import ChainCursor

    return dict(ChainCursor.objects.filter(chain__in=CHAINS).values_list("chain", "height"))


@shared_task(name="hemiscope.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker ran a task now, and the ingest rate since the previous heartbeat."""
    now = time.time()
    heights = cursor_heights()
    previous = _get_json(INGEST_KEY) or {}
    rates = {}
    elapsed = now - previous.get("ts", now)
    for chain, height in heights.items():
        before = previous.get("heights", {}).get(chain)
        # A reorg can move a cursor back; a rate is never negative.
        if before is not None and elapsed > 0:
            rates[chain] = max(0.0, (height - before) / elapsed)
    _set_json(INGEST_KEY, {"ts": now, "heights": heights, "rates": rates})
    _set_json(HEARTBEAT_KEY, {"ts": now})


def _bitcoin_tip(network) -> int | None:
    from indexer.bitcoin.connect import source_for
    from indexer.bitcoin.source import SourceNotConfigured
    from indexer.core.retry import RetryPolicy

    try:
        source = source_for(network, retry=RetryPolicy(attempts=1))
    except SourceNotConfigured:
        return None
    try:
        return source.tip_height()
    finally:
        source.close()


def _hemi_tip(network) -> int | None:
    from indexer.hemi.rpc import HemiRpc

    if not network.hemi_rpc_url:
        return None
    rpc = HemiRpc.from_network(network, max_retries=0)
    try:
        return rpc.block_number()
    finally:
        rpc.close()


@shared_task(name="hemiscope.record_node_tips", ignore_result=True)
def record_node_tips() -> None:
    """Ask each configured node for its tip once; a failing node just leaves its old reading
    (which ages, and health shows the age)."""
    from hemiscope import networks

    network = networks.current()
    for chain, read in (("bitcoin", _bitcoin_tip), ("hemi", _hemi_tip)):
        try:
            height = read(network)
        except Exception as exc:  # any node failure: keep the previous reading, say why in the log
            log.warning("node tip reading failed", extra={"chain": chain, "error": f"{type(exc).__name__}: {exc}"})
            continue
        if height is not None:
            _set_json(NODE_TIP_KEY.format(chain=chain), {"height": int(height), "ts": time.time()})


@task_failure.connect
def _count_task_failure(sender=None, **_kwargs: Any) -> None:
    name = getattr(sender, "name", None) or "unknown"
    try:
        _redis().hincrby(TASK_FAILURES_KEY, name, 1)
    except redis.RedisError as exc:
        log.warning("task failure not counted", extra={"task": name, "error": type(exc).__name__})


# --- What the web side reads -------------------------------------------------------------------


@dataclass(frozen=True)
class NodeTip:
    height: int
    age_seconds: float


def heartbeat_age() -> float | None:
    """Seconds since a worker last ran the heartbeat task (None: never, or Redis unreachable)."""
    value = _get_json(HEARTBEAT_KEY)
    return max(0.0, time.time() - value["ts"]) if value else None


def node_tip(chain: str) -> NodeTip | None:
    value = _get_json(NODE_TIP_KEY.format(chain=chain))
    return NodeTip(int(value["height"]), max(0.0, time.time() - value["ts"])) if value else None


def ingest_rates() -> dict[str, float]:
    """Blocks per second per chain over the last heartbeat period."""
    value = _get_json(INGEST_KEY) or {}
    return {chain: float(rate) for chain, rate in value.get("rates", {}).items()}


def task_failures() -> dict[str, int]:
    try:
        raw = _redis().hgetall(TASK_FAILURES_KEY)
    except redis.RedisError:
        return {}
    return {key.decode(): int(value) for key, value in raw.items()}
