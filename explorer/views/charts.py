"""/charts: anchoring latency, PoP publications per Bitcoin block and tunnel flows as
server-rendered SVG, each with its numbers as a table and a CSV download."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET

from explorer import chart_cache, charts
from explorer.params import BadParameter
from explorer.queries import charts as data
from explorer.views.common import bad_request, page


def _utc(ts: int, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime(fmt)


def _latency_unit(points) -> tuple[str, int]:
    """Minutes, unless every latency is under two minutes (a devnet): then seconds."""
    values = [abs(v) for p in points for v in (p.published_after, p.superfinal_after) if v is not None]
    return ("seconds", 1) if values and max(values) < 120 else ("minutes", 60)


def _in(seconds: int | None, per: int) -> float | None:
    return None if seconds is None else round(seconds / per, 1)


def _bucket_label(ts: int, span: str) -> str:
    return _utc(ts, "%H:%M" if span in ("1h", "1d") else "%m-%d")


@page("explorer/charts/charts.html")
def charts_page(request):
    span = data.parse_span(request.GET.get("span"))
    return {"span": span, "body": chart_cache.rendered("charts", span, lambda: body(span))}


def body(span: str) -> str:
    """The page's four charts with their tables, as HTML (cached by ``chart_cache.rendered``;
    the beat task ``explorer.tasks.refresh_charts`` renders it for the default span)."""
    return render_to_string("explorer/charts/body.html", _context(span))


def _context(span: str) -> dict:
    numbers = chart_cache.numbers(span)
    latency, pops, flows = numbers["latency"], numbers["pops"], numbers["flows"]
    unit, per = _latency_unit(latency)
    latency_series = [
        charts.Series("to first publication", "s1", [_in(p.published_after, per) for p in latency]),
        charts.Series("to superfinality", "s2", [_in(p.superfinal_after, per) for p in latency]),
    ]
    pop_series = [charts.Series("PoP outputs", "s1", [p.publications for p in pops])]
    flow_series = [
        charts.Series("Bitcoin deposits", "s1", [b.deposits for b in flows]),
        charts.Series("hemiBTC mints", "s2", [b.mints for b in flows]),
        charts.Series("withdrawals", "s3", [b.withdrawals for b in flows]),
    ]
    return {
        "span": span,
        "spans": list(data.SPANS),
        "latency": latency,
        "latency_unit": unit,
        "latency_svg": charts.line_chart(
            "latency", "Anchoring latency per keystone",
            f"{unit.capitalize()} from each Hemi keystone block to the first Bitcoin publication anchoring it, and "
            "to the Bitcoin block that made it superfinal.",
            [str(p.keystone) for p in latency], latency_series, y_unit=unit, x_title="keystone",
            tips=[f"keystone {p.keystone} ({_utc(p.keystone_time)} UTC)" for p in latency],
        ) if latency else None,
        "latency_legend": charts.legend(latency_series),
        "pops": pops,
        "pops_svg": charts.bar_chart(
            "pops", "PoP publications per Bitcoin block",
            "How many PoP outputs (keystone publications) each of the newest Bitcoin blocks holds.",
            [str(p.height) for p in pops], pop_series, y_unit="outputs", x_title="Bitcoin height",
            tips=[f"block {p.height}" for p in pops],
        ) if pops else None,
        "flows": flows,
        "flows_any": any(b.deposits or b.mints or b.withdrawals for b in flows),
        "flows_svg": charts.bar_chart(
            "flows", "Tunnel deposits, mints and withdrawals",
            f"Count per time bucket over the last {span}, ending at the newest indexed block.",
            [_bucket_label(b.start, span) for b in flows], flow_series, y_unit="count", x_title="UTC",
            tips=[f"from {_utc(b.start)} UTC" for b in flows],
        ) if flows else None,
        "flows_legend": charts.legend(flow_series),
        **_reserves_context(span, numbers["reserves"]),
    }  # fmt: skip


def _reserves_context(span: str, points) -> dict:
    """Reserves vs supply, drawn by the reserves page's own helper (explorer/views/reserves.py)."""
    from explorer.views.reserves import history_chart

    points, svg, legend = history_chart(span, points)
    return {"points": points, "history_svg": svg, "history_legend": legend}


def _csv(name: str, header: list[str], rows) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="hemiscope-{name}.csv"'
    return response


def _blank(value) -> str:
    return "" if value is None else str(value)


@require_GET
def chart_csv(request, name: str):
    """The numbers behind one chart; empty cells where a value does not exist yet."""
    try:
        if name == "anchoring-latency":
            return _csv(name, ["keystone", "keystone_time_utc", "anchoring_keystone", "publication_height",
                               "seconds_to_publication", "seconds_to_superfinal"],
                        ([p.keystone, _utc(p.keystone_time, "%Y-%m-%dT%H:%M:%SZ"), _blank(p.anchoring_keystone),
                          _blank(p.publication_height), _blank(p.published_after), _blank(p.superfinal_after)]
                         for p in data.anchoring_latency()))  # fmt: skip
        if name == "pop-per-block":
            return _csv(name, ["height", "hash_display_order", "time_utc", "pop_outputs"],
                        ([p.height, p.hash_display, _utc(p.time, "%Y-%m-%dT%H:%M:%SZ"), p.publications]
                         for p in data.pop_per_block()))  # fmt: skip
        if name == "tunnel-flows":
            span = data.parse_span(request.GET.get("span"))
            return _csv(name, ["bucket_start_utc", "deposits", "deposit_sats", "mints", "minted_sats", "withdrawals",
                               "withdrawal_sats"],
                        ([_utc(b.start, "%Y-%m-%dT%H:%M:%SZ"), b.deposits, b.deposit_sats, b.mints, b.minted_sats,
                          b.withdrawals, b.withdrawn_sats] for b in data.tunnel_flows(span)))  # fmt: skip
        if name == "reserves-vs-supply":
            from explorer.queries.reserve_history import history

            span = data.parse_span(request.GET.get("span"))
            return _csv(name, ["bucket_start_utc", "bucket_end_utc", "held_sats", "supply_sats"],
                        ([_utc(p.start, "%Y-%m-%dT%H:%M:%SZ"), _utc(p.end, "%Y-%m-%dT%H:%M:%SZ"), p.held_sats,
                          p.supply_sats] for p in history(span)))  # fmt: skip
    except BadParameter as exc:
        return bad_request(request, exc)
    raise Http404(f"no chart named {name[:80]}: anchoring-latency, pop-per-block, tunnel-flows or reserves-vs-supply")
