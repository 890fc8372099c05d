"""``manage.py btc_check``: prove the Bitcoin tables hold no gap, duplicate or dangling row.

The checks are in ``indexer/bitcoin/integrity.py``. Prints one line per finding on stderr and
exits non-zero when anything is found; prints one ``ok`` line otherwise.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from indexer.bitcoin import integrity


class Command(BaseCommand):
    help = "Audit the Bitcoin tables: active chain gap-free and linked up to the cursor, derived rows consistent."

    def handle(self, *args: Any, **options: Any) -> None:
        findings = integrity.check_chain()
        if findings:
            for finding in findings:
                self.stderr.write(f"bitcoin: {finding}")
            raise CommandError(f"bitcoin: {len(findings)} check(s) failed")
        self.stdout.write(f"bitcoin: ok ({integrity.check_count()} checks)")
