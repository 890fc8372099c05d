"""The Bitcoin tunnel: mints with verdicts, deposits not minted, withdrawals - each paged.
(Its JSON lives in the REST API: ``/api/v1/tunnel/mints|deposits|withdrawals``.)"""

from __future__ import annotations

from explorer import anchoring, tunnel_audit
from explorer.queries import keystones, tunnel
from explorer.views import live
from explorer.views.common import page, page_request


def withdrawal_rows(items):
    return [(w, v.link, v.status) for w, v in zip(items, tunnel.withdrawal_verdicts(items), strict=True)]


@page("explorer/tunnel/tunnel.html", "explorer/tunnel/tunnel_body.html")
def tunnel_page(request):
    size = tunnel.VERDICT_PAGE_SIZE
    mints = tunnel.mints(page_request(request, tunnel.MINTS, default=size))
    unminted = tunnel.unminted_deposits(page_request(request, tunnel.UNMINTED, default=size, param="deposits_cursor"))
    withdrawals = tunnel.withdrawals(
        page_request(request, tunnel.WITHDRAWALS, default=size, param="withdrawals_cursor")
    )
    tip = anchoring.bitcoin_tip_height()
    return {
        "mints": mints,
        "mint_rows": list(zip(mints.items, tunnel.mint_verdicts(mints.items), strict=True)),
        "unminted": unminted,
        "unminted_rows": [(d, tunnel_audit.deposit_status(d, tip)) for d in unminted.items],
        "withdrawals": withdrawals,
        "withdrawal_rows": withdrawal_rows(withdrawals.items),
        "alerts": keystones.recent_alerts(),
        # Only the first page follows new rows; a deeper page is a fixed slice of the lists.
        "live": None if _paged(request) else live.region(request, final=False),
    }


def _paged(request) -> bool:
    return any(request.GET.get(p) for p in ("cursor", "deposits_cursor", "withdrawals_cursor"))
