"""The explorer's URLs plus ``/bench/floor`` (see ``settings.py``)."""

from __future__ import annotations

from django.http import JsonResponse
from django.urls import path

from hemiscope.urls import urlpatterns as explorer_urls


def floor(request):
    return JsonResponse({"ok": True})


# Before the explorer's catch-all 404 route.
urlpatterns = [path("bench/floor", floor), *explorer_urls]
handler400 = "explorer.views.errors.bad_request"
handler403 = "explorer.views.errors.permission_denied"
handler404 = "explorer.views.errors.not_found"
handler500 = "explorer.views.errors.server_error"
