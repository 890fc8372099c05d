"""Celery tasks of the explorer: thin wrappers (the work lives in the modules they call) -
the reserve verdict, the stored verdicts' sweep and audit reports (explorer/reports/jobs.py
says how report jobs work)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from explorer.reports import jobs


@shared_task(name="explorer.refresh_reserves")
def refresh_reserves() -> str | None:
    """Recompute the reserve verdict at the newest position for banners and /healthz
    (``explorer.reserves.refresh``); returns its status. Idempotent; beat runs it every
    HEARTBEAT_SECONDS."""
    from explorer import reserves

    result = reserves.refresh()
    return None if result is None else result.status


@shared_task(name="explorer.tasks.refresh_charts")
def refresh_charts() -> list[str]:
    """Recompute the /charts and /reserves history numbers for the default span under the
    current chain tips (``explorer.chart_cache.refresh``), so pages read them from the cache.
    Idempotent; beat runs it every HEARTBEAT_SECONDS. Returns the parts it stored."""
    from explorer import chart_cache
    from explorer.queries.charts import default_span
    from explorer.views import charts, reserves

    span = default_span()
    parts = sorted(chart_cache.refresh(span))
    chart_cache.store_rendered("charts", span, charts.body(span))
    chart_cache.store_rendered("reserves-history", span, reserves.history_body(span))
    return parts


@shared_task(name="explorer.tasks.sweep_verdicts")
def sweep_verdicts() -> dict:
    from explorer import verdict_store
    from indexer.core import work

    verdict_store.record_sweep()
    work.nudge()
    return {"recorded": "sweep"}


# The report's own time limit (REPORTS_TIME_LIMIT_SECONDS), not the indexers' 10 minutes: a
# 100 000-mint report judges every mint. Redelivery after a lost worker is safe (jobs.run claims).
@shared_task(
    name="explorer.tasks.build_report",
    time_limit=settings.REPORTS_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.REPORTS_TIME_LIMIT_SECONDS - 30,
)
def build_report(job_id: str) -> None:
    jobs.run(job_id)


@shared_task(name="explorer.tasks.purge_reports")
def purge_reports() -> int:
    return jobs.purge_expired()
