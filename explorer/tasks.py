"""Celery tasks of the explorer: thin wrappers (the work lives in the modules they call)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="explorer.refresh_reserves")
def refresh_reserves() -> str | None:
    """Recompute the reserve verdict at the newest position for banners and /healthz
    (``explorer.reserves.refresh``); returns its status. Idempotent; beat runs it every
    HEARTBEAT_SECONDS."""
    from explorer import reserves

    result = reserves.refresh()
    return None if result is None else result.status


@shared_task(name="explorer.tasks.sweep_verdicts")
def sweep_verdicts() -> dict:
    from explorer import verdict_store
    from indexer.core import work

    verdict_store.record_sweep()
    work.nudge()
    return {"recorded": "sweep"}
