"""/reserves: the reserve equation at a position, its history as a chart, and the rows behind
each term (keyset pages). The numbers come from ``explorer.reserves.reconcile``; the history
from ``explorer.queries.reserve_history``."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db.models import F
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse

from explorer import chart_cache, charts, reserves
from explorer.params import BadParameter
from explorer.queries import charts as chart_data
from explorer.views.common import page, page_request
from indexer.hemi.records import ZERO_ADDRESS

ROWS_LIST = "reserve-rows"


def _int_param(query, name: str, minimum: int = 0) -> int | None:
    raw = query.get(name)
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) < minimum:  # isdigit alone takes '²'
        raise BadParameter(f"{name}: a whole number of at least {minimum}, got {raw[:40]!r}")
    return int(raw)


def position_params(query) -> tuple[int | None, int | None, int]:
    """``at_btc_height``, ``at_hemi_block``, ``min_confirmations`` from a query string (400 on
    malformed values; pages and the API read the same names)."""
    k = _int_param(query, "min_confirmations", 1)
    return (
        _int_param(query, "at_btc_height"),
        _int_param(query, "at_hemi_block"),
        reserves.DEFAULT_MIN_CONFIRMATIONS if k is None else k,
    )


def history_chart(span: str, points=None):
    """(points, svg, legend) of reserves vs supply over ``span`` (shared with /charts, which
    passes the points it read); the points come from the chart cache (explorer/chart_cache.py)."""
    if points is None:
        points = chart_cache.numbers(span, ("reserves",))["reserves"]
    if not any(p.held_sats or p.supply_sats for p in points):
        return points, None, None
    series = [
        charts.Series("BTC held by the vaults", "s1", [p.held_sats / 1e8 for p in points]),
        charts.Series("hemiBTC total supply", "s2", [p.supply_sats / 1e8 for p in points]),
    ]
    fmt = "%H:%M" if span in ("1h", "1d") else "%m-%d"
    svg = charts.line_chart(
        "reserves", "Reserves vs supply",
        f"BTC held by the tunnel vaults and hemiBTC total supply at the end of each bucket over the last {span}.",
        [datetime.fromtimestamp(p.end, tz=UTC).strftime(fmt) for p in points], series, y_unit="BTC", x_title="UTC",
        tips=[f"until {datetime.fromtimestamp(p.end, tz=UTC):%Y-%m-%d %H:%M} UTC" for p in points],
    )  # fmt: skip
    return points, svg, charts.legend(series)


@page("explorer/reserves/reserves.html")
def reserves_page(request):
    at_btc, at_hemi, k = position_params(request.GET)
    span = chart_data.parse_span(request.GET.get("span"))
    error = None
    result = None
    try:
        result = reserves.newest_or_at(at_btc, at_hemi, k)
    except reserves.ReconcileError as exc:
        error = str(exc)
    return {
        "result": result,
        "error": error,
        "span": span,
        "spans": list(chart_data.SPANS),
        "history_html": chart_cache.rendered("reserves-history", span, lambda: history_body(span)),
    }


def history_body(span: str) -> str:
    """The history chart with its table, as HTML (cached like /charts' body)."""
    points, svg, legend = history_chart(span)
    return render_to_string(
        "explorer/reserves/history.html", {"points": points, "history_svg": svg, "history_legend": legend}
    )


@page("explorer/reserves/rows.html")
def reserve_rows(request, key: str):
    if key not in reserves.ROW_KEYS:
        raise Http404(f"no reserve term named {key[:80]}")
    at_btc, at_hemi, k = position_params(request.GET)
    try:
        position = reserves.resolve_position(at_btc, at_hemi, k)
    except reserves.ReconcileError as exc:
        raise BadParameter(str(exc)) from exc
    req = page_request(request, f"{ROWS_LIST}-{key}")
    qs = _shaped(key, reserves.term_rows(key, position))
    if req.after is not None:
        qs = qs.filter(id__gt=req.after[0])
    rows = req.page(list(qs[: req.limit + 1]), lambda r: (r.id,))
    return {
        "key": key,
        "label": _LABELS.get(key, key),
        "position": position,
        "rows": rows,
        "items": [_describe(key, r) for r in rows.items],
        "query": position.query(),
    }


_HEAVY_TX = ("transaction__raw", "transaction__merkle_branch")
_HEAVY_HEMI_TX = ("transaction__raw", "transaction__receipt_raw", "transaction__input")


def _shaped(key: str, qs):
    """Each list with the joins its rows show (one query per page) and no raw bytes."""
    if key in ("held", "non_deposit_inflows"):
        return qs.select_related("block")
    if key == "supply":
        return qs.select_related("block").annotate(tx_hash=F("log__transaction__hash"))
    if key == "deposits_not_yet_minted":
        return qs.select_related("block", "transaction").defer(*_HEAVY_TX)
    if key in ("withdrawals_unpaid", "withdrawal_fees", "deposit_fees", "unbacked_mints"):
        return qs.select_related("block", "transaction").defer(*_HEAVY_HEMI_TX)
    return qs.select_related("block", "transaction").defer(*_HEAVY_TX)  # vault spends


def _btc_tx(txid_internal) -> tuple[str, str]:
    txid = bytes(txid_internal)[::-1].hex()
    return txid, reverse("explorer:btc-tx", args=[txid])


def _hemi_tx(tx_hash) -> tuple[str, str]:
    h = "0x" + bytes(tx_hash).hex()
    return h, reverse("explorer:tx", args=[h])


def _describe(key: str, r) -> dict:
    """One row as the rows page shows it: what it is, where (a link), and the satoshis it adds."""
    if key in ("held", "non_deposit_inflows"):
        txid, url = _btc_tx(r.txid_internal)
        return {"what": f"output {txid}:{r.vout}", "url": url, "where": f"Bitcoin {r.block.height}",
                "sats": r.value_sats}  # fmt: skip
    if key == "supply":
        h, url = _hemi_tx(r.tx_hash)
        minted = bytes(r.sender) == ZERO_ADDRESS
        return {"what": f"{'mint' if minted else 'burn'} in {h}", "url": url, "where": f"Hemi {r.block.number}",
                "sats": int(r.value) if minted else -int(r.value)}  # fmt: skip
    if key == "deposits_not_yet_minted":
        txid, url = _btc_tx(r.transaction.txid_internal)
        note = "" if r.recipient is not None else " (no valid recipient: never mintable)"
        return {"what": f"deposit {txid}:{r.vout}{note}", "url": url, "where": f"Bitcoin {r.block.height}",
                "sats": r.value_sats}  # fmt: skip
    if key in ("withdrawals_unpaid", "withdrawal_fees"):
        h, url = _hemi_tx(r.transaction.hash)
        sats = int(r.net_sats) if key == "withdrawals_unpaid" else int(r.withdrawal_sats) - int(r.net_sats)
        return {"what": f"withdrawal {int(r.uuid)} ({r.btc_address or 'address not decoded'})", "url": url,
                "where": f"Hemi {r.block.number}", "sats": sats}  # fmt: skip
    if key in ("deposit_fees", "unbacked_mints"):
        h, _ = _hemi_tx(r.transaction.hash)
        url = reverse("explorer:mint-provenance", args=[h])
        sats = int(r.deposit_sats) - int(r.net_sats) if key == "deposit_fees" else int(r.net_sats)
        return {"what": f"mint {h} for deposit {r.deposit_txid_display}", "url": url,
                "where": f"Hemi {r.block.number}", "sats": sats}  # fmt: skip
    txid, url = _btc_tx(r.transaction.txid_internal)
    sats = r.network_fee_sats if key == "network_fees" else reserves.unexplained_sats(r)
    fee = "unknown (foreign inputs)" if r.network_fee_sats is None else f"{r.network_fee_sats} sat"
    return {"what": f"{r.get_kind_display()} {txid}, spent {r.spent_sats} sat, fee {fee}", "url": url,
            "where": f"Bitcoin {r.block.height}", "sats": sats}  # fmt: skip


_LABELS = {
    "held": "vault outputs held (unspent)",
    "supply": "hemiBTC mints and burns (total supply)",
    "deposits_not_yet_minted": "deposits not yet minted",
    "withdrawals_unpaid": "withdrawals initiated but not yet paid",
    "deposit_fees": "deposit fees retained (mints)",
    "withdrawal_fees": "withdrawal fees retained (withdrawals)",
    "network_fees": "Bitcoin network fees paid by the vaults (vault spends)",
    "unbacked_mints": "mints without a counted Bitcoin deposit",
    "unexplained_outflows": "vault spends not explained by a withdrawal",
    "non_deposit_inflows": "payments to a vault that are not deposits",
}
