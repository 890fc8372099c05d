from __future__ import annotations

from django.apps import AppConfig


class HemiConfig(AppConfig):
    name = "indexer.hemi"
    label = "hemi"
    verbose_name = "Hemi indexer"
