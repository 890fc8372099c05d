"""What every page view shares: full page or htmx partial, and 400s for bad parameters."""

from __future__ import annotations

import functools

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from explorer.params import BadParameter
from explorer.queries.cursor import PageRequest
from hemiscope import networks


def page(template: str, partial: str | None = None):
    """Decorate a view returning a context dict: GET only, ``Vary: HX-Request``, full page or
    the named partial for htmx, and a styled 400 naming the bad parameter."""

    def wrap(view):
        @functools.wraps(view)
        @require_GET
        @vary_on_headers("HX-Request")
        def inner(request, *args, **kwargs):
            try:
                result = view(request, *args, **kwargs)
            except BadParameter as exc:
                return bad_request(request, exc)
            if isinstance(result, HttpResponse):
                return result
            chosen = partial if (partial and request.htmx and not request.htmx.boosted) else template
            return render(request, chosen, result)

        return inner

    return wrap


def bad_request(request, exc: BadParameter | str) -> HttpResponse:
    reason = str(exc)
    if request.path.startswith("/api/"):
        from explorer.views.errors import json_error

        return json_error(400, reason)
    return render(request, "explorer/errors/error.html", {"status": 400, "title": "Bad request", "reason": reason},
                  status=400)  # fmt: skip


def not_found(message: str):
    raise Http404(message)


def page_request(request, list_name: str, arity: int = 1, default: int = 25, param: str = "cursor") -> PageRequest:
    """A page's main list reads ``?cursor=``; a second list on the same page its own ``param``."""
    return PageRequest.from_query(list_name, request.GET, arity, default, param)


def hemibtc() -> bytes | None:
    address = networks.current().hemibtc_address
    return bytes.fromhex(address[2:]) if address else None
