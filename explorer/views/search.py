"""``GET /search?q=``: a unique hit redirects to its page, several are listed, none is a
helpful 404, malformed input a 400 with the reason."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from explorer.params import BadParameter
from explorer.queries.search import search
from explorer.views.common import bad_request


@require_GET
def search_page(request):
    q = request.GET.get("q", "")
    try:
        result = search(q)
    except BadParameter as exc:
        return bad_request(request, exc)
    if result.redirect:
        return redirect(result.redirect)
    status = 200 if result.hits else 404
    return render(request, "explorer/search/results.html", {"result": result, "q": result.query}, status=status)
