"""``manage.py reserves``: print the reserve equation at a position; the exit code is the verdict.

exit 0: balanced; 1: a shortfall or an unexplained surplus; 2: an error, a position not yet
indexed, or rows still incomplete (unfinished vault work: a wait, not a verdict).
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from explorer import reserves


class Command(BaseCommand):
    help = "Reconcile BTC held by the tunnel vaults with hemiBTC total supply (exit 0 balanced, 1 not, 2 error)."

    def add_arguments(self, parser):
        parser.add_argument("--at-btc-height", type=int, default=None, help="Bitcoin height (default: the index tip)")
        parser.add_argument("--at-hemi-block", type=int, default=None, help="Hemi block (default: the index tip)")
        parser.add_argument(
            "--min-confirmations",
            type=int,
            default=reserves.DEFAULT_MIN_CONFIRMATIONS,
            help="count only Bitcoin blocks with at least this many confirmations at the Bitcoin height",
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the reconciliation as JSON")

    def handle(self, *args, at_btc_height, at_hemi_block, min_confirmations, as_json: bool = False, **options):
        try:
            result = reserves.reconcile(at_btc_height, at_hemi_block, min_confirmations)
        except reserves.ReconcileError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(_json_dump(result.to_dict()) if as_json else result.equation())
        if not result.complete:
            raise CommandError("the reconciliation is incomplete: " + "; ".join(result.waiting_for), returncode=2)
        if result.status != reserves.BALANCED:
            self.stdout.flush()
            sys.exit(1)


def _json_dump(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
