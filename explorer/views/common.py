"""What every page view shares: full page or htmx partial, live polling, and 400s for bad
parameters."""

from __future__ import annotations

import functools

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from explorer.params import BadParameter, parse_hex
from explorer.queries import trail
from explorer.queries.cursor import PageRequest
from explorer.views import live
from hemiscope import networks


def page(template: str, partial: str | None = None):
    """Decorate a view returning a context dict: GET only, ``Vary: HX-Request``, full page or
    the named partial for htmx, and a styled 400 naming the bad parameter.

    Live polls (``explorer/views/live.py``): a poll whose data stamp is unchanged gets a 204
    before the view runs; a context whose ``live`` region is final is served with 286 to htmx,
    which stops its polling."""

    def wrap(view):
        @functools.wraps(view)
        @require_GET
        @vary_on_headers("HX-Request")
        def inner(request, *args, **kwargs):
            if live.unchanged_since(request):
                response = HttpResponse(status=204)
            else:
                htmx = bool(request.htmx) and not request.htmx.boosted
                try:
                    result = view(request, *args, **kwargs)
                    if not isinstance(result, HttpResponse) and not htmx and "trail" not in result:
                        result["trail"] = trail_from_query(request)
                except BadParameter as exc:
                    return bad_request(request, exc)
                if isinstance(result, HttpResponse):
                    response = result
                else:
                    chosen = partial if (partial and htmx) else template
                    region = result.get("live")
                    status = live.STOP_POLLING if (htmx and region is not None and region.final) else 200
                    response = render(request, chosen, result, status=status)
            if request.htmx:
                patch_cache_control(response, no_cache=True)  # a poll must always reach us
            return response

        return inner

    return wrap


def trail_from_query(request) -> trail.TrailView | None:
    """The cross-chain trail of the mint named by ``?mint=`` (pages reached along a trail show
    it, their own hop marked; ``?hop=`` says which hop when one page is two of them)."""
    raw = request.GET.get("mint")
    if not raw:
        return None
    mint = trail.mint_by_tx_hash(parse_hex(raw, 32, "mint: a Hemi mint transaction hash"))
    if mint is None:
        raise BadParameter(f"mint: no hemiBTC mint in transaction {raw[:80]}")
    return trail.view_for(mint, request.path, request.GET.get("hop"))


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
