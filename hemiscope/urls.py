from __future__ import annotations

from django.urls import include, path

from explorer.urls import catch_all
from hemiscope.health import healthz
from hemiscope.metrics import metrics

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("", include("explorer.urls")),
    *catch_all,
]

handler400 = "explorer.views.errors.bad_request"
handler403 = "explorer.views.errors.permission_denied"
handler404 = "explorer.views.errors.not_found"
handler500 = "explorer.views.errors.server_error"
