from __future__ import annotations

from django.urls import include, path

from hemiscope.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("explorer.urls")),
]
