"""The home page (how far each chain is indexed, the latest blocks and keystones, recent mints)
and the indexing status page."""

from __future__ import annotations

from explorer.queries import blocks, keystones, status, verdicts
from explorer.queries.cursor import first_page
from explorer.views import live
from explorer.views.common import page
from explorer.views.tunnel import mint_rows
from hemiscope import networks


@page("explorer/status/home.html", "explorer/status/home_summary.html")
def home(request):
    from indexer.core import alerts
    from indexer.models import ChainCursor

    cursors = {c.chain: c for c in ChainCursor.objects.all()}
    mints = verdicts.mints(first_page(verdicts.MINTS, 5))
    return {
        "network": networks.current(),
        "hemi_cursor": cursors.get("hemi"),
        "bitcoin_cursor": cursors.get("bitcoin"),
        "blocks": blocks.list_blocks(first_page(blocks.LIST, 6)),
        "keystones": keystones.list_keystones(first_page(keystones.LIST, 6)),
        "rows": mint_rows(mints.items),
        "alerts": keystones.recent_alerts(),
        "indexer_alerts": alerts.active(),
        "integrity": blocks.integrity_summary(),
        "live": live.region(request, final=False),
    }


@page("explorer/status/status.html", "explorer/status/status_body.html")
def status_page(request):
    """Indexing status: lag and progress per chain, workers, pending work, alerts. Never final."""
    r = status.readings()
    progress = status.chain_progress(r)
    return {
        "readings": r,
        "progress": progress,
        "work": status.pending_work(),
        "alerts": status.alerts(progress),
        "live": live.region(request, final=False),
        "poll_seconds": live.poll_seconds(),
    }
