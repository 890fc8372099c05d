"""Throttling of anonymous traffic (nobody logs in to Hemiscope, so that is all traffic).

One rate, ``THROTTLE_ANON_RATE``, two buckets per client address in the default cache:

* ``anon``: the API. DRF viewsets get :class:`AnonApiThrottle` from
  ``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]``; plain Django views under ``/api/`` are counted
  in the same bucket by :class:`ThrottleMiddleware`, which answers them with a JSON 429.
* ``html``: pages, counted by :class:`ThrottleMiddleware`, answered with a styled 429 page.

Exempt: ``/healthz`` (the orchestrator's probe must never be refused; it is one ``SELECT 1``,
one Redis PING and a few cache reads) and ``/metrics`` (already restricted to configured
addresses or a bearer token). Static files never reach the middleware (WhiteNoise answers first).

The client address is :func:`client_ip`: the TCP peer unless ``NUM_PROXIES`` says how many
trusted proxies append to ``X-Forwarded-For``.

If the cache is unreachable the throttle lets requests through (and logs): an outage of Redis
must not turn into an outage of the explorer.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)

EXEMPT_PATHS = ("/healthz", "/metrics")


def is_api_path(path: str) -> bool:
    """The API's paths: ``/api/...`` (v1, v2, schema), the Etherscan-style ``/api`` and the
    Esplora subset under ``/esplora/api/``. They answer errors (429 included) as data, never
    as HTML pages."""
    return path == "/api" or path.startswith(("/api/", "/esplora/api/"))


def client_ip(request: HttpRequest) -> str:
    """The address a request came from, as far as our own proxies vouch for it.

    Each proxy appends the peer it saw to ``X-Forwarded-For``, so with ``NUM_PROXIES = N`` the
    Nth entry from the right was written by our outermost proxy and is the client; entries to
    its left are whatever the client sent and are ignored. With ``NUM_PROXIES = 0`` the header
    is never read. A header shorter than N (a request that skipped a proxy) gives its leftmost
    entry; an entry that is not an IP address falls back to the TCP peer.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies == 0 or not forwarded:
        return remote
    entries = [part.strip() for part in forwarded.split(",")]
    candidate = entries[-min(proxies, len(entries))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class _AnonThrottle(SimpleRateThrottle):
    """DRF's sliding-window throttle with our rate, client address and fail-open cache."""

    def get_rate(self) -> str:
        # Read at each request (not at import like DRF's THROTTLE_RATES), so a test or a
        # benchmark can change settings.THROTTLE_ANON_RATE.
        return settings.THROTTLE_ANON_RATE

    def get_ident(self, request) -> str:
        return client_ip(request)

    def get_cache_key(self, request, view) -> str:
        return f"throttle:{self.scope}:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache is down or misbehaving: serve, say so in the log
            log.warning("throttle cache unavailable, request allowed", extra={"error": type(exc).__name__})
            return True


class AnonApiThrottle(_AnonThrottle):
    scope = "anon"


class AnonHtmlThrottle(_AnonThrottle):
    scope = "html"


def _is_drf_view(view_func: Callable) -> bool:
    # Imported here: rest_framework.views reads DEFAULT_THROTTLE_CLASSES, i.e. this module.
    from rest_framework.views import APIView

    cls = getattr(view_func, "cls", None)  # set by APIView.as_view() and ViewSet.as_view()
    return isinstance(cls, type) and issubclass(cls, APIView)


def throttled_response(request: HttpRequest, wait: float | None) -> HttpResponse:
    seconds = max(1, math.ceil(wait)) if wait is not None else None
    if is_api_path(request.path_info):
        detail = "Request was throttled." + (f" Expected available in {seconds} seconds." if seconds else "")
        response: HttpResponse = JsonResponse({"detail": detail}, status=429)
    else:
        response = render(request, "429.html", {"retry_after": seconds}, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response


class ThrottleMiddleware:
    """Counts every non-DRF, non-exempt request in its bucket; DRF views count themselves."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable, view_args, view_kwargs) -> HttpResponse | None:
        # path_info: the path inside the app, whatever prefix a proxy mounts it under.
        if request.path_info in EXEMPT_PATHS or _is_drf_view(view_func):
            return None
        throttle = AnonApiThrottle() if is_api_path(request.path_info) else AnonHtmlThrottle()
        if throttle.allow_request(request, None):
            return None
        log.info("throttled", extra={"path": request.path, "client": client_ip(request), "scope": throttle.scope})
        return throttled_response(request, throttle.wait())
