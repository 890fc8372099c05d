"""The PDF audit report (WeasyPrint): what a person reads, summarising the JSON and CSV.

A table of 100 000 rows is neither readable nor cheap (5 000 rows already cost 27 s and 470 MB),
so the PDF shows the summary, the reserves section when present, every failed or pending item
in full with its links and checks, the first ``PDF_VERIFIED_ITEMS`` verified items, and the
SHA-256 of the JSON and CSV reports (same request, same positions) that hold everything else.
"""

from __future__ import annotations

from pathlib import Path

from django.template.loader import render_to_string

from explorer.reports.build import PDF_VERIFIED_ITEMS, Summary

STYLESHEET = Path(__file__).with_name("report.css")


def context(summary: Summary) -> dict:
    kinds = sorted({kind for kind, _ in summary.counts})
    verdicts = ("verified", "pending", "failed")
    rows = [(kind, [summary.counts.get((kind, v), 0) for v in verdicts]) for kind in kinds]
    req = summary.request
    pins = f"--at-btc-height {summary.positions.btc_height} --at-hemi-block {summary.positions.hemi_block}"
    selectors = " ".join(
        f"--{k.replace('_block', '').replace('_', '-')} {v}"
        for k, v in req.as_dict().items()
        if k not in ("scope", "at_btc_height", "at_hemi_block")
    )
    return {
        "s": summary,
        "verdicts": verdicts,
        "count_rows": rows,
        "totals": [summary.verdict_counts().get(v, 0) for v in verdicts],
        # The reconciliation's own text when present (issue 20), else its plain keys.
        "reserves_equation": (summary.reserves or {}).get("equation"),
        "reserves": sorted((k, v) for k, v in (summary.reserves or {}).items() if not isinstance(v, (dict, list))),
        "has_reserves": summary.reserves is not None,
        "limit": PDF_VERIFIED_ITEMS,
        "command": f"python manage.py audit_report --scope {req.scope} {selectors} {pins}".replace("  ", " "),
    }


def render(summary: Summary) -> bytes:
    from weasyprint import CSS, HTML  # imported here: its system libraries load on first use

    html = render_to_string("explorer/reports/pdf.html", context(summary))
    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])
