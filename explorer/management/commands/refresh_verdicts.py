"""``manage.py refresh_verdicts``: bring stored verdicts up to date here and now, no worker needed.

Drains every due ``chain.changed`` item (what the Celery drain does); ``--backfill`` first
records a sweep over every row that has no verdict yet (what the migration records on an
existing database), run in batches of short transactions."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Refresh stored verdicts from pending chain changes (--backfill: also judge rows without one)."

    def add_arguments(self, parser):
        parser.add_argument("--backfill", action="store_true", help="judge every row that has no stored verdict")

    def handle(self, *args, backfill: bool = False, **options):
        from explorer import verdict_store

        if backfill:
            verdict_store.record_sweep(backfill=True)
        result = verdict_store.refresh_all()
        self.stdout.write(
            f"verdict work: done {result.done}, continued {result.continued}, retrying {result.retrying}, "
            f"failed {result.failed}"
        )
        if result.failed or result.retrying:
            raise SystemExit(1)
