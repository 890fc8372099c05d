"""The Celery application: broker and result backend are Redis (``REDIS_URL``)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hemiscope.settings")

app = Celery("hemiscope")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="hemiscope.ping")
def ping(value: str) -> str:
    """Round-trip probe used by the health tests: proves broker, worker and backend all work."""
    return f"pong:{value}"
