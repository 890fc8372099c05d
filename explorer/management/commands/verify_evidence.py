from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand

from explorer.verify import verify_bytes


class Command(BaseCommand):
    help = "Verify an evidence bundle offline (no database, no network). Exit 1 on the first failed link."
    # Nothing here may touch the database: it must run with DATABASE_URL pointing nowhere.
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("file", help="evidence bundle (JSON) written by provenance_export")

    def handle(self, *args, file: str, **options):
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            self.stderr.write(f"cannot read {file}: {exc}")
            sys.exit(1)
        results = verify_bytes(data)
        for r in results:
            mark = "ok  " if r.ok else "FAIL"
            self.stdout.write(f"{mark} {r.link}: {r.detail}")
        if not results[-1].ok or len(results) < 9:
            failed = results[-1]
            self.stderr.write(f"verification failed at link '{failed.link}': {failed.detail}")
            sys.exit(1)
        self.stdout.write("all links verified")
