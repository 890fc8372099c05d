"""Esplora's error shape: a plain-text body with the HTTP status ("Block not found"), which is
what its clients read (mempool.js shows the text, esplora-client keeps it as the message)."""

from __future__ import annotations

import math

from django.http import Http404, HttpResponse
from rest_framework import exceptions

from explorer.params import BadParameter


def text(status: int, message: str, **headers: str) -> HttpResponse:
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def exception_handler(exc, context) -> HttpResponse | None:
    if isinstance(exc, BadParameter):
        return text(400, str(exc))
    if isinstance(exc, Http404):
        return text(404, exc.args[0] if exc.args and isinstance(exc.args[0], str) else "Not found")
    if isinstance(exc, exceptions.Throttled):
        wait = str(max(1, math.ceil(exc.wait))) if exc.wait is not None else None
        return text(429, "Too many requests", **({"Retry_After": wait} if wait else {}))
    if isinstance(exc, exceptions.MethodNotAllowed):
        view = context.get("view")
        return text(405, "Method not allowed", Allow=", ".join(view.allowed_methods if view else []))
    if isinstance(exc, exceptions.APIException):
        return text(exc.status_code, str(exc.detail))
    return None


def not_found(request, *args, **kwargs) -> HttpResponse:
    """Any other path under the Esplora base: Esplora's 404, not the site's HTML page."""
    return text(404, "Not found")
