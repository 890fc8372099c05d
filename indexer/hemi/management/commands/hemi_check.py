"""``manage.py hemi_check``: prove no Hemi row points at a missing (or the wrong) parent.

The high-volume ingest tables have no database FK constraints (see ``indexer/hemi/integrity.py``
for why); this runs the set-based audit that replaces them. Exits non-zero when anything is found.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from indexer.hemi import integrity


class Command(BaseCommand):
    help = "Audit the Hemi relations that have no database FK constraint (dangling or inconsistent references)."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = integrity.check_references()
        if problems:
            for problem in problems:
                self.stderr.write(f"hemi references: {problem}")
            raise CommandError(f"hemi references: {len(problems)} check(s) failed")
        self.stdout.write(f"hemi references: ok ({integrity.check_count()} relations checked)")
