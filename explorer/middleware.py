"""Styled 404/400 pages for errors our views raise, even with DEBUG on (Django would show its
technical page, which lists every route)."""

from __future__ import annotations

from django.http import Http404

from explorer.params import BadParameter


class ExplorerErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from explorer.views import errors

        if isinstance(exception, Http404):
            return errors.not_found(request, exception)
        if isinstance(exception, BadParameter):
            return errors.bad_request(request, exception)
        return None
