"""Server-rendered pages. One template per page; htmx requests get the named partial."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from hemiscope import networks


@require_GET
@vary_on_headers("HX-Request")
def home(request):
    net = networks.current()
    context = {"network": net}
    template = "explorer/partials/home_summary.html" if request.htmx else "explorer/home.html"
    return render(request, template, context)
