"""/metrics: Prometheus text for configured scrapers only (404 for everyone else)."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hemiscope import telemetry


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture
def closed(settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_BEARER_TOKEN = None


def test_without_an_allowed_address_or_token_metrics_is_a_404(client, db, closed, settings):
    assert client.get("/metrics").status_code == 404
    settings.METRICS_BEARER_TOKEN = "right-token"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer right-token"}).status_code == 200


def test_an_allowed_network_is_matched_on_the_client_address(client, db, closed, settings):
    settings.METRICS_ALLOWED_IPS = ["10.20.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.20.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.21.3.4").status_code == 404
    # A forged X-Forwarded-For is not an address when no proxy is configured.
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.20.3.4").status_code == 404


def test_metrics_report_heights_lag_ingest_rate_and_heartbeat(client, db, closed, settings):
    from django.core.cache import cache

    from hemiscope.metrics import VERDICT_CACHE_KEY
    from indexer.models import ChainCursor

    settings.METRICS_ALLOWED_IPS = ["127.0.0.1/32"]
    cache.delete(VERDICT_CACHE_KEY)  # another test's sample may still be cached
    telemetry._set_json(telemetry.INGEST_KEY, {"ts": time.time() - 15, "heights": {}, "rates": {}})
    ChainCursor.objects.create(chain="hemi", height=400, block_hash=b"\x02" * 32)
    telemetry.heartbeat()  # the task body, run here: samples the cursor and computes the rate
    ChainCursor.objects.filter(chain="hemi").update(height=430)
    telemetry._set_json(
        telemetry.INGEST_KEY,
        {**telemetry._get_json(telemetry.INGEST_KEY), "ts": time.time() - 10},
    )
    telemetry.heartbeat()
    telemetry._set_json(telemetry.NODE_TIP_KEY.format(chain="hemi"), {"height": 450, "ts": time.time()})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    values = samples(response.content.decode())
    assert values[("hemiscope_indexer_height", (("chain", "hemi"),))] == 430
    assert values[("hemiscope_node_tip_height", (("chain", "hemi"),))] == 450
    assert values[("hemiscope_indexer_lag_blocks", (("chain", "hemi"),))] == 20
    assert 2.5 <= values[("hemiscope_ingest_blocks_per_second", (("chain", "hemi"),))] <= 3.1  # 30 blocks / ~10 s
    assert values[("hemiscope_worker_heartbeat_age_seconds", ())] < 60
    verdicts = {
        v: values[("hemiscope_recent_mint_verdicts", (("verdict", v),))] for v in ("verified", "pending", "failed")
    }
    assert verdicts == {"verified": 0, "pending": 0, "failed": 0}


@pytest.mark.django_db(transaction=True)
def test_a_task_failing_in_a_real_worker_is_counted(client, closed, settings, celery_worker_process):
    from indexer.hemi.tasks import backfill_range

    settings.METRICS_BEARER_TOKEN = "t0ken"
    name = "indexer.hemi.tasks.backfill_range"
    before = telemetry.task_failures().get(name, 0)
    # The tests' devnet has no Hemi RPC URL: the task fails (RuntimeError), it is not retried.
    result = backfill_range.delay(1, 2)
    with pytest.raises(RuntimeError, match="no Hemi RPC URL configured"):
        result.get(timeout=30)
    deadline = time.monotonic() + 10
    while telemetry.task_failures().get(name, 0) == before:
        assert time.monotonic() < deadline, "the failure was not counted"
        time.sleep(0.1)
    text = client.get("/metrics", headers={"Authorization": "Bearer t0ken"}).content.decode()
    assert samples(text)[("hemiscope_task_failures_total", (("task", name),))] == before + 1
