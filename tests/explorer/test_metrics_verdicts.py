"""/metrics counts the verdicts of the newest mints, bounded in size and cached."""

from __future__ import annotations

from django.core.cache import cache
from prometheus_client.parser import text_string_to_metric_families

from hemiscope import metrics
from tests.explorer.conftest import store_verdicts


def verdict_samples(client) -> dict[str, float]:
    text = client.get("/metrics", headers={"Authorization": "Bearer v"}).content.decode()
    family = next(f for f in text_string_to_metric_families(text) if f.name == "hemiscope_recent_mint_verdicts")
    return {s.labels["verdict"]: s.value for s in family.samples}


def test_verdict_counts_come_from_the_newest_mints_and_are_cached(
    client, tunnel, story, settings, monkeypatch, django_assert_max_num_queries
):
    settings.METRICS_BEARER_TOKEN = "v"
    monkeypatch.setenv("HEMIBTC_ADDRESS", "0x" + tunnel.HEMIBTC.hex())
    cache.delete(metrics.VERDICT_CACHE_KEY)
    story(btc_tip=110)  # published, 5 confirmations: pending superfinality
    store_verdicts()
    assert verdict_samples(client) == {"verified": 0, "pending": 1, "failed": 0}
    with django_assert_max_num_queries(2):  # cursors only: the verdicts come from the cache
        verdict_samples(client)
    monkeypatch.setattr(metrics, "VERDICT_SAMPLE", 0)
    cache.delete(metrics.VERDICT_CACHE_KEY)
    assert verdict_samples(client) == {"verified": 0, "pending": 0, "failed": 0}
