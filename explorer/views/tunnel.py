"""The Bitcoin tunnel: mints with verdicts, deposits not minted, withdrawals - each paged."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from explorer import anchoring, provenance, tunnel_audit, withdrawal_audit
from explorer.params import BadParameter
from explorer.queries import keystones, tunnel
from explorer.views.common import hemibtc, page, page_request


def withdrawal_rows(items):
    rows = []
    for w in items:
        link = withdrawal_audit.audit_withdrawal(w)
        rows.append((w, link, withdrawal_audit.withdrawal_status(link)))
    return rows


@page("explorer/tunnel/tunnel.html", "explorer/tunnel/tunnel_body.html")
def tunnel_page(request):
    size = tunnel.VERDICT_PAGE_SIZE
    mints = tunnel.mints(page_request(request, tunnel.MINTS, default=size))
    unminted = tunnel.unminted_deposits(page_request(request, tunnel.UNMINTED, default=size, param="deposits_cursor"))
    withdrawals = tunnel.withdrawals(
        page_request(request, tunnel.WITHDRAWALS, default=size, param="withdrawals_cursor")
    )
    tip = anchoring.bitcoin_tip_height()
    hemibtc_address = hemibtc()
    return {
        "mints": mints,
        "mint_rows": [(m, provenance.for_mint(m, hemibtc=hemibtc_address)) for m in mints.items],
        "unminted": unminted,
        "unminted_rows": [(d, tunnel_audit.deposit_status(d, tip)) for d in unminted.items],
        "withdrawals": withdrawals,
        "withdrawal_rows": withdrawal_rows(withdrawals.items),
        "alerts": keystones.recent_alerts(),
    }


@require_GET
def withdrawals_json(request):
    try:
        page_ = tunnel.withdrawals(page_request(request, tunnel.WITHDRAWALS, default=tunnel.VERDICT_PAGE_SIZE))
    except BadParameter as exc:
        return JsonResponse({"error": str(exc), "status": 400}, status=400)
    rows = []
    for w, link, status in withdrawal_rows(page_.items):
        rows.append(
            {
                "uuid": str(int(w.uuid)),
                "hemi_tx": "0x" + bytes(w.transaction.hash).hex(),
                "btc_address": w.btc_address,
                "withdrawal_sats": str(int(w.withdrawal_sats)),
                "net_sats": str(int(w.net_sats)),
                "status": status,
                "verdict": link.verdict,
                "reason": link.reason,
                "evidence": link.evidence,
            }
        )
    next_params = {"cursor": page_.next_cursor} if page_.next_cursor else None
    return JsonResponse({"items": rows, "next_page_params": next_params})
