"""The Bitcoin tunnel: mints with their stored verdicts (``?verdict=``, ``?stage=``), deposits
not minted, withdrawals - each a keyset page read through ``explorer.queries.verdicts``.
(Its JSON lives in the REST API: ``/api/v1/tunnel/mints|deposits|withdrawals``.)"""

from __future__ import annotations

from explorer.queries import keystones, verdicts
from explorer.views import live
from explorer.views.common import page, page_request


def mint_rows(items):
    """(mint, stored verdict) pairs for ``explorer/provenance/mint_table.html``."""
    return [(m, verdicts.verdict_of(m)) for m in items]


@page("explorer/tunnel/tunnel.html", "explorer/tunnel/tunnel_body.html")
def tunnel_page(request):
    mints = verdicts.mints(
        page_request(request, verdicts.MINTS), verdicts.Filter.from_query(request.GET, verdicts.MINT_STAGES)
    )
    unminted = verdicts.unminted_deposits(page_request(request, verdicts.UNMINTED, param="deposits_cursor"))
    withdrawals = verdicts.withdrawals(page_request(request, verdicts.WITHDRAWALS, param="withdrawals_cursor"))
    return {
        "mints": mints,
        "mint_rows": mint_rows(mints.items),
        "unminted": unminted,
        "unminted_rows": [(d, verdicts.verdict_of(d)) for d in unminted.items],
        "withdrawals": withdrawals,
        "withdrawal_rows": [(w, verdicts.verdict_of(w)) for w in withdrawals.items],
        "alerts": keystones.recent_alerts(),
        # Only the first page follows new rows; a deeper page is a fixed slice of the lists.
        "live": None if _paged(request) else live.region(request, final=False),
    }


def _paged(request) -> bool:
    return any(request.GET.get(p) for p in ("cursor", "deposits_cursor", "withdrawals_cursor"))
