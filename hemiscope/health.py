"""``/healthz``: is the database reachable, and is the Celery broker reachable?

503 when either is not. 200 with ``"status": "warning"`` and a ``warnings`` list when the site
serves but an indexer needs an operator (``hemiscope.indexer_alerts``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthWarning:
    """A condition worth an operator's attention that does not stop the site serving."""

    code: str  # stable, for alert rules: "hemi-wrong-chain", "bitcoin-reorg-too-deep", ...
    message: str


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not healthy"; the reason is reported
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@never_cache
@require_GET
def healthz(request):
    problems = {name: err for name, err in (("database", _check_database()), ("broker", _check_broker())) if err}
    body = {
        "status": "ok" if not problems else "unhealthy",
        "database": "ok" if "database" not in problems else "failing",
        "broker": "ok" if "broker" not in problems else "failing",
    }
    if problems:
        body["failing"] = sorted(problems)
        body["errors"] = problems
        log.warning("health check failed", extra={"failing": sorted(problems)})
        return JsonResponse(body, status=503)
    from hemiscope.indexer_alerts import health_warnings

    warnings = health_warnings()
    if warnings:
        body["status"] = "warning"
        body["warnings"] = [{"code": w.code, "message": w.message} for w in warnings]
    return JsonResponse(body)
