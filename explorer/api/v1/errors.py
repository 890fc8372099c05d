"""DRF's exception handler for the API: every error is the same JSON as the explorer's own
error responses (``explorer.views.errors.json_error``), never HTML, never a traceback."""

from __future__ import annotations

import math

from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from explorer.params import BadParameter
from explorer.views.errors import error_body


def _text(detail) -> str:
    if isinstance(detail, list | tuple):
        return "; ".join(_text(d) for d in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in detail.items())
    return str(detail)


def exception_handler(exc, context) -> Response | None:
    """400 for a BadParameter (its message names the parameter), 404, and DRF's own errors
    (405, 406, 429 with Retry-After...) as ``{"error", "status"}``. Anything else propagates
    to Django's handler500, which answers JSON under /api/ too."""
    if isinstance(exc, BadParameter):
        return Response(error_body(400, str(exc)), status=400)
    if isinstance(exc, Http404):
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "not found"
        return Response(error_body(404, reason), status=404)
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            # Whole seconds, rounded up: never earlier than the throttle allows, never past its window.
            headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
        if isinstance(exc, exceptions.MethodNotAllowed):
            allowed = context["view"].allowed_methods if context.get("view") else []
            headers["Allow"] = ", ".join(allowed)
        return Response(error_body(exc.status_code, _text(exc.detail)), status=exc.status_code, headers=headers)
    return None
