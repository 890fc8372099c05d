"""``manage.py hemi_check``: prove no Hemi row points at a missing (or the wrong) parent, and the
canonical chain has no gap, broken link or stray canonical flag up to the cursor.

The high-volume ingest tables have no database FK constraints (see ``indexer/hemi/integrity.py``
for why); this runs the set-based audit that replaces them. Exits non-zero when anything is found.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from indexer.hemi import integrity


class Command(BaseCommand):
    help = "Audit the Hemi tables: dangling or inconsistent references, gaps and broken links in the canonical chain."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = integrity.check_references()
        findings = integrity.check_chain()
        for problem in problems:
            self.stderr.write(f"hemi references: {problem}")
        for finding in findings:
            self.stderr.write(f"hemi chain: {finding}")
        if problems or findings:
            raise CommandError(
                f"hemi references: {len(problems)} check(s) failed; hemi chain: {len(findings)} check(s) failed"
            )
        self.stdout.write(f"hemi references: ok ({integrity.check_count()} relations checked)")
        self.stdout.write(f"hemi chain: ok ({len(integrity.chain_checks())} checks)")
