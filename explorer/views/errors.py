"""Styled error pages (``handler400/404/500``); JSON under ``/api/``. Never Django's debug page
listing every route: these run whatever DEBUG says for the 404s raised by our views."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render

from hemiscope.throttling import is_api_path

TITLES = {400: "Bad request", 403: "Forbidden", 404: "Not found", 500: "Server error"}


def error_body(status: int, reason: str) -> dict:
    """The one JSON error shape under /api/ (pages' JSON views and the DRF API alike)."""
    return {"error": reason, "status": status}


def json_error(status: int, reason: str) -> JsonResponse:
    return JsonResponse(error_body(status, reason), status=status)


def _error(request, status: int, reason: str):
    if is_api_path(request.path_info):
        return json_error(status, reason)
    context = {"status": status, "title": TITLES.get(status, "Error"), "reason": reason}
    return render(request, "explorer/errors/error.html", context, status=status)


def _reason(exception, default: str) -> str:
    message = exception.args[0] if exception is not None and exception.args else None
    return message if isinstance(message, str) and message else default


def bad_request(request, exception=None):
    return _error(request, 400, _reason(exception, "The request could not be understood."))


def permission_denied(request, exception=None):
    return _error(request, 403, "You may not see this page.")


def not_found(request, exception=None):
    return _error(request, 404, _reason(exception, "There is no page at this address."))


def server_error(request):
    # No context processors that could fail again: a plain render of the static template.
    if is_api_path(request.path_info):
        return json_error(500, "internal server error")
    return render(request, "explorer/errors/500.html", status=500)
