"""``/metrics``: Prometheus text exposition, for configured scrapers only.

Access: a client address inside ``METRICS_ALLOWED_IPS`` or ``Authorization: Bearer
<METRICS_BEARER_TOKEN>``. Anyone else gets the same 404 as a path that does not exist, so with
neither setting (the production default) the endpoint is effectively off.

Values are computed per scrape from the database and what workers recorded in Redis
(``hemiscope/telemetry.py``), never from per-process counters: gunicorn runs several worker
processes and a scrape reaches only one of them. Recent verdicts are read from the stored
verdicts (``VERDICT_SAMPLE`` mints, one query) and cached for ``VERDICT_CACHE_SECONDS``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections import Counter
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hemiscope import telemetry
from hemiscope.throttling import client_ip

log = logging.getLogger(__name__)

# Until verdicts are stored, each costs ~15 indexed queries: sample the newest mints only.
VERDICT_SAMPLE = 25
VERDICT_CACHE_SECONDS = 60
VERDICT_CACHE_KEY = "hemiscope:metrics:recent-verdicts"


def access_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_BEARER_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_IPS)


def recent_verdicts() -> dict[str, int]:
    """Stored verdicts of the newest ``VERDICT_SAMPLE`` canonical hemiBTC mints (one query; a
    mint not judged yet counts as pending)."""
    cached = cache.get(VERDICT_CACHE_KEY)
    if cached is not None:
        return cached
    from explorer.queries import verdicts
    from explorer.queries.cursor import first_page

    page = verdicts.mints(first_page(verdicts.MINTS, VERDICT_SAMPLE))
    counts = dict(Counter(verdicts.verdict_of(m).verdict for m in page.items))
    cache.set(VERDICT_CACHE_KEY, counts, VERDICT_CACHE_SECONDS)
    return counts


class HemiscopeCollector:
    """One scrape's worth of metric families (see the README's production notes)."""

    def collect(self) -> Iterator[Metric]:
        cursors = telemetry.cursor_heights()
        height = GaugeMetricFamily("hemiscope_indexer_height", "Last indexed block height", labels=["chain"])
        tip = GaugeMetricFamily("hemiscope_node_tip_height", "Node tip height a worker last saw", labels=["chain"])
        tip_age = GaugeMetricFamily(
            "hemiscope_node_tip_age_seconds", "Age of that node tip reading", labels=["chain"]
        )
        lag = GaugeMetricFamily("hemiscope_indexer_lag_blocks", "Node tip minus indexed height", labels=["chain"])
        for chain in telemetry.CHAINS:
            reading = telemetry.node_tip(chain)
            if chain in cursors:
                height.add_metric([chain], cursors[chain])
            if reading is not None:
                tip.add_metric([chain], reading.height)
                tip_age.add_metric([chain], reading.age_seconds)
                if chain in cursors:
                    lag.add_metric([chain], max(0, reading.height - cursors[chain]))
        yield from (height, tip, tip_age, lag)

        rate = GaugeMetricFamily(
            "hemiscope_ingest_blocks_per_second", "Blocks indexed per second over the last heartbeat period",
            labels=["chain"],
        )
        for chain, value in telemetry.ingest_rates().items():
            rate.add_metric([chain], value)
        yield rate

        age = telemetry.heartbeat_age()
        if age is not None:
            yield GaugeMetricFamily(
                "hemiscope_worker_heartbeat_age_seconds", "Seconds since a worker ran the heartbeat task", value=age
            )

        failures = CounterMetricFamily("hemiscope_task_failures", "Celery task failures", labels=["task"])
        for task, count in sorted(telemetry.task_failures().items()):
            failures.add_metric([task], count)
        yield failures

        verdicts = GaugeMetricFamily(
            "hemiscope_recent_mint_verdicts",
            f"Overall verdicts of the newest {VERDICT_SAMPLE} canonical hemiBTC mints",
            labels=["verdict"],
        )
        counts = recent_verdicts()
        for verdict in ("verified", "pending", "failed"):
            verdicts.add_metric([verdict], counts.get(verdict, 0))
        yield verdicts


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not access_allowed(request):
        raise Http404("no such page")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HemiscopeCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
