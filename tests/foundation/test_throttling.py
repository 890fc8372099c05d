"""Anonymous throttling: one rate (THROTTLE_ANON_RATE), an API bucket answered in JSON and an
HTML bucket answered with a styled page, the client address taken behind NUM_PROXIES proxies."""

from __future__ import annotations

import secrets

import pytest
from django.test import RequestFactory
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from hemiscope.throttling import client_ip


def fresh_address() -> str:
    """A client address no earlier run has used (throttle windows outlive a test)."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


@pytest.fixture
def five_per_minute(settings):
    settings.THROTTLE_ANON_RATE = "5/min"
    settings.NUM_PROXIES = 0


class Ping(APIView):
    def get(self, request):
        return Response({"pong": True})


urlpatterns = [
    path("api/v1/test-ping", Ping.as_view()),
    path("", include("hemiscope.urls")),
]


@pytest.mark.parametrize(
    ("num_proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "192.0.2.1"),  # never trusted without proxies
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the forged left part is ignored
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
        (3, "203.0.113.9, 10.0.0.2", "203.0.113.9"),  # shorter than N: its leftmost entry
        (1, "not-an-ip", "192.0.2.1"),
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_the_client_is_the_nth_forwarded_entry_from_the_right(settings, num_proxies, forwarded, expected):
    settings.NUM_PROXIES = num_proxies
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_the_sixth_rapid_api_request_gets_a_json_429(client, db, five_per_minute):
    address = fresh_address()
    statuses = [client.get("/api/v1/tunnel/withdrawals", REMOTE_ADDR=address).status_code for _ in range(5)]
    assert statuses == [200] * 5
    response = client.get("/api/v1/tunnel/withdrawals", REMOTE_ADDR=address)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    body = response.json()  # the API's one error shape: {"error", "status"}
    assert body["status"] == 429 and body["error"].startswith("Request was throttled. Expected available in")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_sixth_rapid_page_gets_a_styled_429_page(client, db, five_per_minute):
    address = fresh_address()
    for _ in range(5):
        assert client.get("/tunnel", REMOTE_ADDR=address).status_code == 200
    response = client.get("/tunnel", REMOTE_ADDR=address)
    assert response.status_code == 429
    html = response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert "Too many requests" in html and "hemiscope.css" in html and "Try again in" in html
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    # Pages and the API are separate buckets at the same rate.
    assert client.get("/api/v1/tunnel/withdrawals", REMOTE_ADDR=address).status_code == 200


def test_healthz_and_metrics_are_exempt(client, db, five_per_minute, settings):
    settings.METRICS_ALLOWED_IPS = []
    address = fresh_address()
    assert {client.get("/healthz", REMOTE_ADDR=address).status_code for _ in range(8)} <= {200}
    assert {client.get("/metrics", REMOTE_ADDR=address).status_code for _ in range(8)} == {404}


def test_drf_views_inherit_the_throttle_and_are_counted_once(client, db, five_per_minute, settings):
    settings.ROOT_URLCONF = __name__
    address = fresh_address()
    statuses = [client.get("/api/v1/test-ping", REMOTE_ADDR=address).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]  # counted twice, the third would already fail
    assert "Expected available in" in client.get("/api/v1/test-ping", REMOTE_ADDR=address).json()["error"]


def test_forged_forwarded_for_does_not_escape_the_limit_without_proxies(client, db, five_per_minute):
    address = fresh_address()
    statuses = [
        client.get("/tunnel", REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
        for i in range(6)
    ]
    assert statuses[-1] == 429


def test_behind_one_proxy_each_forwarded_client_has_its_own_allowance(client, db, five_per_minute, settings):
    settings.NUM_PROXIES = 1
    proxy = fresh_address()
    first, second = fresh_address(), fresh_address()
    for _ in range(5):
        assert client.get("/tunnel", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=first).status_code == 200
    assert client.get("/tunnel", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=first).status_code == 429
    assert client.get("/tunnel", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=second).status_code == 200


def test_an_unreachable_cache_lets_requests_through(client, db, five_per_minute, settings):
    from hemiscope.services import free_port

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    address = fresh_address()
    assert [client.get("/tunnel", REMOTE_ADDR=address).status_code for _ in range(7)] == [200] * 7
