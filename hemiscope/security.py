"""Response headers Django does not send itself: ``Permissions-Policy``.

The Content-Security-Policy comes from django-csp (``csp.middleware.CSPMiddleware``, configured
by ``CONTENT_SECURITY_POLICY`` in settings).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def permissions_policy_header(policy: dict[str, list[str]]) -> str:
    """``{"camera": [], "fullscreen": ["self"]}`` -> ``camera=(), fullscreen=(self)``."""
    parts = []
    for feature, allow in policy.items():
        origins = " ".join(origin if origin == "self" or origin == "*" else f'"{origin}"' for origin in allow)
        parts.append(f"{feature}=({origins})")
    return ", ".join(parts)


class PermissionsPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.header = permissions_policy_header(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = self.header
        return response
