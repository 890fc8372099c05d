"""/healthz: per-component state, warnings with 200, 503 only when the process cannot serve,
and never a host, port, role or error text for an anonymous caller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hemiscope import health, telemetry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def anonymous_caller(settings):
    """The test client calls from 127.0.0.1, which DEBUG admits to /metrics (and so to the
    health detail): these tests speak as an anonymous caller unless they say otherwise."""
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_BEARER_TOKEN = None


def clear_readings() -> None:
    keys = [telemetry.HEARTBEAT_KEY, *(telemetry.NODE_TIP_KEY.format(chain=c) for c in telemetry.CHAINS)]
    telemetry._redis().delete(*keys)


@pytest.fixture
def fresh_readings(db):
    """Cursors, node tips and a heartbeat as a healthy deployment's workers leave them."""
    from indexer.models import ChainCursor

    ChainCursor.objects.create(chain="bitcoin", height=100, block_hash=b"\x01" * 32)
    ChainCursor.objects.create(chain="hemi", height=5000, block_hash=b"\x02" * 32)
    telemetry._set_json(telemetry.NODE_TIP_KEY.format(chain="bitcoin"), {"height": 101, "ts": time.time()})
    telemetry._set_json(telemetry.NODE_TIP_KEY.format(chain="hemi"), {"height": 5010, "ts": time.time()})
    telemetry._set_json(telemetry.HEARTBEAT_KEY, {"ts": time.time()})
    yield
    clear_readings()


def test_a_healthy_deployment_is_ok_with_lag_per_chain(client, fresh_readings):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "components": {
            "database": "ok",
            "broker": "ok",
            "worker": "ok",
            "indexer": {
                "bitcoin": {"state": "ok", "height": 100, "lag_blocks": 1},
                "hemi": {"state": "ok", "height": 5000, "lag_blocks": 10},
            },
        },
        "warnings": [],
    }


def test_lag_beyond_the_limit_and_a_stale_worker_are_warnings_not_outages(client, fresh_readings, settings):
    settings.HEALTH_MAX_LAG_HEMI_BLOCKS = 5
    telemetry._set_json(telemetry.HEARTBEAT_KEY, {"ts": time.time() - 3600})
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "warning"
    assert body["components"]["worker"] == "stale"
    assert body["components"]["indexer"]["hemi"] == {"state": "lagging", "height": 5000, "lag_blocks": 10}
    assert [w["code"] for w in body["warnings"]] == ["worker-stale", "lag-hemi"]


def test_no_heartbeat_and_no_node_tip_read_as_unknown(client, db):
    clear_readings()
    body = client.get("/healthz").json()
    assert body["components"]["worker"] == "unknown"
    assert body["components"]["indexer"]["bitcoin"] == {"state": "not started", "height": None, "lag_blocks": None}
    assert [w["code"] for w in body["warnings"]] == ["worker-unseen"]


def _integrity_alert(readings):
    return [health.HealthWarning("integrity", "a stored block failed re-hashing")]


def _broken_source(readings):
    raise RuntimeError("secret detail from 10.1.2.3:5432")


def test_data_alerts_are_warnings_from_pluggable_sources(client, fresh_readings, settings):
    settings.HEALTH_WARNING_SOURCES = [
        *settings.HEALTH_WARNING_SOURCES,
        f"{__name__}._integrity_alert",
        f"{__name__}._broken_source",
    ]
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "warning"
    assert body["warnings"] == [
        {"code": "integrity", "message": "a stored block failed re-hashing"},
        {"code": "check-failed", "message": "the health check _broken_source could not run"},
    ]
    assert "10.1.2.3" not in response.content.decode()


def test_a_broker_outage_is_a_warning_and_names_no_address(client, fresh_readings, settings):
    from hemiscope.services import free_port

    port = free_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["components"]["broker"] == "failing"
    assert body["warnings"][0]["code"] == "broker-unreachable"
    text = response.content.decode()
    assert str(port) not in text and "127.0.0.1" not in text and "Error" not in text


def test_operators_admitted_to_metrics_see_the_error_detail(client, fresh_readings, settings):
    from hemiscope.services import free_port

    port = free_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    settings.METRICS_BEARER_TOKEN = "scrape-token-123"
    assert "errors" not in client.get("/healthz").json()
    body = client.get("/healthz", headers={"Authorization": "Bearer scrape-token-123"}).json()
    assert "ConnectionError" in body["errors"]["broker"] and str(port) in body["errors"]["broker"]


def test_with_the_database_down_healthz_is_503_and_reveals_no_host_port_or_role():
    """A real dead database: the process is started pointing at a port nobody listens on."""
    from hemiscope.services import free_port

    port = free_port()
    role, secret_db = "hemiscope_owner_role", "hemiscope_prod_db"
    env = dict(
        os.environ,
        DATABASE_URL=f"postgresql://{role}:pw@127.0.0.1:{port}/{secret_db}",
        DATABASE_CONNECT_TIMEOUT="2",
        # Production settings: an anonymous caller, as on the public site.
        DEBUG="false",
        SECRET_KEY="test-only-" + "k" * 40,
        ALLOWED_HOSTS="testserver",
        HEMI_NETWORK="testnet",
        SECURE_SSL_REDIRECT="false",
    )
    code = (
        "from django.test.utils import setup_test_environment; setup_test_environment(); "
        "from django.test import Client; r = Client().get('/healthz'); "
        "print('RESULT', r.status_code, r.content.decode())"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    _, status, body_text = line.split(" ", 2)
    assert status == "503"
    body = json.loads(body_text)
    assert body["status"] == "unavailable"
    assert body["components"]["database"] == "failing"
    assert body["components"]["indexer"]["hemi"]["state"] == "unknown"
    for secret in (role, secret_db, str(port), "127.0.0.1", "localhost", "OperationalError", "connection"):
        assert secret not in body_text, secret
    # The detail is in the log, for the operator.
    logged = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    database_lines = [entry for entry in logged if entry.get("component") == "database"]
    assert database_lines and str(port) in database_lines[0]["error"]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_records_the_heartbeat_that_healthz_reads(client, celery_worker_process):
    telemetry._redis().delete(telemetry.HEARTBEAT_KEY)
    assert client.get("/healthz").json()["components"]["worker"] == "unknown"
    telemetry.heartbeat.delay()
    deadline = time.monotonic() + 30
    while telemetry.heartbeat_age() is None:
        assert time.monotonic() < deadline, "the worker never ran hemiscope.heartbeat"
        time.sleep(0.2)
    assert client.get("/healthz").json()["components"]["worker"] == "ok"
