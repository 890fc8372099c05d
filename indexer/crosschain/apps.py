from __future__ import annotations

from django.apps import AppConfig


class CrosschainConfig(AppConfig):
    name = "indexer.crosschain"
    label = "crosschain"
    verbose_name = "Indexer (between the chains)"
