"""``verify_evidence`` inside Django (``call_command``, ``manage.py help``).

``python manage.py verify_evidence FILE`` never gets here: manage.py runs ``explorer.verify``
before Django is set up, so the verifier works with nothing configured. This class keeps the
command listed and callable from code, with the same checks and exit codes.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from explorer.verify import EXIT_VERIFIED, main


class Command(BaseCommand):
    help = (
        "Verify an evidence bundle or a JSON audit report offline (no database, no network, no configuration). "
        "Exit 0 verified, 1 at the first failed link, 2 for an unreadable file or a usage error."
    )
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument(
            "file", help="evidence bundle (provenance_export) or JSON audit report (audit_report), or - for stdin"
        )

    def handle(self, *args, file: str, **options):
        code = main([file], prog="verify_evidence", out=self.stdout, err=self.stderr)
        if code != EXIT_VERIFIED:
            raise CommandError(f"{file} is not verified (exit {code})", returncode=code)
