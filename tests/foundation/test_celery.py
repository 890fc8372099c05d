from __future__ import annotations

import pytest


@pytest.mark.django_db(transaction=True)
def test_a_task_round_trips_through_redis_and_a_real_worker(celery_worker_process):
    from hemiscope.celery import app, ping

    assert app.conf.task_always_eager is False
    result = ping.delay("hemiscope")
    assert result.get(timeout=30) == "pong:hemiscope"
    assert result.status == "SUCCESS"
