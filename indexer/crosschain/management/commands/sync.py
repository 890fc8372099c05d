"""``manage.py sync``: bring Bitcoin, then Hemi, up to date and drain every pending work item.

Needs no Celery worker and no broker: the follow-up work (token metadata, vault custody
reads, vault registrations, Bitcoin rescans) is read from the durable work table. Exit code 0
when both chains are at their nodes' tips and no work is left; 1 with the items named when
work failed permanently or is still waiting (``--wait`` seconds for items backing off).
``--retry-failed`` first makes permanently failed items pending again (after the operator
fixed what made them fail: credentials, a URL, a node).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexer.core import work
from indexer.core.errors import IndexerError
from indexer.crosschain.sync import SyncBusy, sync_all


class Command(BaseCommand):
    help = "Index both chains to their tips in order (Bitcoin, then Hemi) and drain pending follow-up work."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--wait",
            type=float,
            default=120.0,
            help="seconds to wait for a busy chain lock or for work items backing off (default 120)",
        )
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="make work items that failed permanently pending again before syncing",
        )

    def handle(self, *args: Any, wait: float, retry_failed: bool, **options: Any) -> None:
        if retry_failed:
            self.stdout.write(f"re-armed {work.retry_failed()} failed work items")
        try:
            report = sync_all(wait_s=wait, say=lambda line: self.stdout.write(line))
        except SyncBusy as exc:
            raise CommandError(str(exc)) from exc
        except IndexerError as exc:
            raise CommandError(f"sync stopped: {type(exc).__name__}: {exc}") from exc
        self.stdout.write(
            f"sync: bitcoin at {report.bitcoin_height} (+{report.bitcoin_blocks}), hemi at {report.hemi_height} "
            f"(+{report.hemi_blocks}), {report.work_done} work items done in {report.rounds} rounds"
        )
        if report.failed_items or report.open_items:
            lines = [f"  failed: {i}" for i in report.failed_items] + [f"  waiting: {i}" for i in report.open_items]
            raise CommandError("work left after sync:\n" + "\n".join(lines))
