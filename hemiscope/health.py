"""``/healthz``: can this process serve, and what should an operator look at?

The answer is status and per-component state only. Hosts, ports, roles and error text never
reach an anonymous caller (an error message from psycopg names all of them); they go to the
log, and to callers that ``/metrics`` admits (see ``hemiscope/metrics.py``).

* 503 ``unavailable``: only when the process cannot serve pages - the database is unreachable.
* 200 ``warning``: it serves, but something needs attention: the broker is down (indexing is
  stalled), no recent worker heartbeat, an indexer lags its node, or a data alert from one of
  ``HEALTH_WARNING_SOURCES`` (later: integrity, reserves).
* 200 ``ok``: none of the above.

Everything here is cheap: one ``SELECT 1``, one cursor query, one Redis PING and a few Redis
reads of what the workers recorded (``hemiscope/telemetry.py``). No node is called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from hemiscope import telemetry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthWarning:
    """A condition worth an operator's attention that does not stop the site serving."""

    code: str  # stable, for alert rules: "worker-stale", "lag-bitcoin", "integrity", ...
    message: str  # for people; never hosts, ports, roles or exception text


@dataclass
class Readings:
    """What one health check saw; warning sources read it instead of measuring again."""

    errors: dict[str, str] = field(default_factory=dict)  # component -> detail (log only)
    cursors: dict[str, int] = field(default_factory=dict)
    heartbeat_age: float | None = None
    node_tips: dict[str, telemetry.NodeTip | None] = field(default_factory=dict)

    def lag(self, chain: str) -> int | None:
        tip = self.node_tips.get(chain)
        height = self.cursors.get(chain)
        if tip is None or height is None:
            return None
        return max(0, tip.height - height)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _check_database(readings: Readings) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        readings.cursors = telemetry.cursor_heights()
    except Exception as exc:  # any failure means "cannot serve"; the detail goes to the log
        readings.errors["database"] = _error(exc)


def _check_broker(readings: Readings) -> None:
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        readings.errors["broker"] = _error(exc)


def measure() -> Readings:
    readings = Readings()
    _check_database(readings)
    _check_broker(readings)
    readings.heartbeat_age = telemetry.heartbeat_age()
    readings.node_tips = {chain: telemetry.node_tip(chain) for chain in telemetry.CHAINS}
    return readings


# --- Warning sources (HEALTH_WARNING_SOURCES): Readings -> list[HealthWarning] ------------------


def worker_warnings(readings: Readings) -> list[HealthWarning]:
    out = []
    if "broker" in readings.errors:
        out.append(HealthWarning("broker-unreachable", "the task broker is unreachable: indexing is stalled"))
    age = readings.heartbeat_age
    if age is None:
        out.append(HealthWarning("worker-unseen", "no worker heartbeat recorded: is a Celery worker and beat running?"))
    elif age > settings.HEALTH_WORKER_STALE_SECONDS:
        out.append(HealthWarning("worker-stale", f"the last worker heartbeat is {age:.0f} s old"))
    return out


def _max_lag(chain: str) -> int:
    return settings.HEALTH_MAX_LAG_BITCOIN_BLOCKS if chain == "bitcoin" else settings.HEALTH_MAX_LAG_HEMI_BLOCKS


def lag_warnings(readings: Readings) -> list[HealthWarning]:
    out = []
    for chain in telemetry.CHAINS:
        lag = readings.lag(chain)
        if lag is not None and lag > _max_lag(chain):
            out.append(HealthWarning(f"lag-{chain}", f"the {chain} indexer is {lag} blocks behind its node"))
    return out


def _warning_sources() -> list[Callable[[Readings], list[HealthWarning]]]:
    return [import_string(path) for path in settings.HEALTH_WARNING_SOURCES]


def collect_warnings(readings: Readings) -> list[HealthWarning]:
    out: list[HealthWarning] = []
    for source in _warning_sources():
        try:
            out.extend(source(readings))
        except Exception as exc:  # a broken alert source is itself a warning, never a 500
            name = getattr(source, "__name__", repr(source))
            log.exception("health warning source failed", extra={"source": name})
            readings.errors[f"source:{name}"] = _error(exc)
            out.append(HealthWarning("check-failed", f"the health check {name} could not run"))
    return out


def _indexer_state(readings: Readings, chain: str) -> dict:
    height = readings.cursors.get(chain)
    lag = readings.lag(chain)
    if "database" in readings.errors:
        state = "unknown"
    elif height is None:
        state = "not started"
    elif lag is None:
        state = "unknown"  # no node tip recorded yet
    else:
        state = "lagging" if lag > _max_lag(chain) else "ok"
    return {"state": state, "height": height, "lag_blocks": lag}


def _worker_state(age: float | None) -> str:
    if age is None:
        return "unknown"
    return "stale" if age > settings.HEALTH_WORKER_STALE_SECONDS else "ok"


@never_cache
@require_GET
def healthz(request):
    readings = measure()
    warnings = collect_warnings(readings)
    for component, detail in readings.errors.items():
        log.warning("health check failing", extra={"component": component, "error": detail})
    if "database" in readings.errors:
        status, code = "unavailable", 503
    else:
        status, code = ("warning" if warnings else "ok"), 200
    body = {
        "status": status,
        "components": {
            "database": "failing" if "database" in readings.errors else "ok",
            "broker": "failing" if "broker" in readings.errors else "ok",
            "worker": _worker_state(readings.heartbeat_age),
            "indexer": {chain: _indexer_state(readings, chain) for chain in telemetry.CHAINS},
        },
        "warnings": [{"code": w.code, "message": w.message} for w in warnings],
    }
    from hemiscope.metrics import access_allowed

    if readings.errors and access_allowed(request):
        body["errors"] = readings.errors  # operators (metrics access) may see the detail
    return JsonResponse(body, status=code)
