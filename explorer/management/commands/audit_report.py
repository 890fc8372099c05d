from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from explorer.reports.build import write_report
from explorer.reports.request import FORMATS, SCOPES, ReportRequestError, make_request


class Command(BaseCommand):
    help = (
        "Write an audit report of every mint, deposit and withdrawal in a scope, as JSON (a manifest "
        "and evidence bundles, verified by verify_evidence), CSV or PDF."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scope", required=True, choices=SCOPES)
        parser.add_argument("--id", help="mint: Hemi tx hash; token: token address; address: an address (0x…)")
        parser.add_argument("--from", dest="from_block", help="blocks: first Hemi block")
        parser.add_argument("--to", dest="to_block", help="blocks: last Hemi block")
        parser.add_argument("--since", help="time: ISO-8601 start (UTC unless it says otherwise)")
        parser.add_argument("--until", help="time: ISO-8601 end")
        parser.add_argument("--at-btc-height", help="judge at this Bitcoin height (default: the indexed tip)")
        parser.add_argument("--at-hemi-block", help="judge at this Hemi block (default: the indexed tip)")
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument("-o", "--output", required=True, help="output file, or - for stdout")

    def handle(self, *args, scope, format, output, **options):
        try:
            req = make_request(
                scope,
                **{k: options[k] for k in ("id", "from_block", "to_block", "since", "until")},
                at_btc_height=options["at_btc_height"],
                at_hemi_block=options["at_hemi_block"],
            )
        except ReportRequestError as exc:
            raise CommandError(str(exc)) from exc
        if output == "-":
            summary = self._write(req, format, sys.stdout.buffer, None)
        else:
            target = Path(output)
            # Written beside the target and renamed: a failed run never leaves half a report.
            fd, part = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    summary = self._write(req, format, out, str(target.parent))
                os.replace(part, target)
            except BaseException:
                Path(part).unlink(missing_ok=True)
                raise
        counts = ", ".join(f"{n} {v}" for v, n in summary.verdict_counts().items()) or "no items"
        p = summary.positions
        self.stderr.write(
            f"{summary.total} items ({counts}) judged at Bitcoin height {p.btc_height} and Hemi block "
            f"{p.hemi_block}; wrote {output}"
        )

    def _write(self, req, fmt, out, tmpdir):
        try:
            return write_report(req, fmt, out, tmpdir=tmpdir)
        except ReportRequestError as exc:
            raise CommandError(str(exc)) from exc
