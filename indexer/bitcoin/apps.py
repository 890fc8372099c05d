from __future__ import annotations

from django.apps import AppConfig


class BitcoinConfig(AppConfig):
    name = "indexer.bitcoin"
    label = "bitcoin"
    verbose_name = "Bitcoin indexer"
