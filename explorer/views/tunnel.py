"""The Bitcoin tunnel: mints with their stored verdicts (``?verdict=``, ``?stage=``), deposits
not minted (``?deposits_verdict=``, ``?deposits_stage=``), withdrawals (``?withdrawals_verdict=``,
``?withdrawals_stage=``) - each a keyset page read through ``explorer.queries.verdicts``.
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
    # The page's two other lists filter on prefixed parameters, so each keeps its own filter.
    deposit_filter = verdicts.Filter.from_query(request.GET, verdicts.DEPOSIT_STAGES, prefix="deposits_")
    withdrawal_filter = verdicts.Filter.from_query(request.GET, verdicts.WITHDRAWAL_STAGES, prefix="withdrawals_")
    unminted = verdicts.unminted_deposits(
        page_request(request, verdicts.UNMINTED, param="deposits_cursor"), deposit_filter
    )
    withdrawals = verdicts.withdrawals(
        page_request(request, verdicts.WITHDRAWALS, param="withdrawals_cursor"), withdrawal_filter
    )
    return {
        "deposit_filter": deposit_filter,
        "withdrawal_filter": withdrawal_filter,
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
