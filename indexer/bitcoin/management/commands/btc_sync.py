"""``manage.py btc_sync [--from H] [--to H]``: backfill Bitcoin blocks in the foreground.

Without arguments it continues from the cursor (or the network's start height) to the tip,
with a progress bar, and exits. It takes the same lock as the ``follow_tip`` task, so the two
never write at once. Vault rescans it makes necessary are left as durable work items for
``manage.py sync`` or a worker.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from hemiscope import networks
from indexer.bitcoin import ingest, sync
from indexer.bitcoin.connect import source_for
from indexer.bitcoin.source import SourceNotConfigured
from indexer.core.errors import IndexerError


class Command(BaseCommand):
    help = "Index Bitcoin blocks from the cursor (or --from) to the tip (or --to), then exit."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=int, help="first height (only for an empty index)")
        parser.add_argument("--to", dest="end", type=int, help="last height (default: the node's tip)")

    def handle(self, *args, start: int | None, end: int | None, **options):
        network = networks.current()
        try:
            source = source_for(network)
        except SourceNotConfigured as exc:
            raise CommandError(str(exc)) from exc
        try:
            tip = source.tip_height()
        except IndexerError as exc:
            raise CommandError(f"Bitcoin source {source.name} is unreachable: {exc}") from exc
        cursor = ingest.get_cursor()
        if start is None:
            start = cursor.height + 1 if cursor is not None else network.bitcoin_start_height
        last = tip if end is None else min(end, tip)
        first = start if cursor is None else max(start, cursor.height + 1)
        with sync.sync_lock() as acquired:
            if not acquired:
                raise CommandError("another Bitcoin sync (follow_tip task or btc_sync) is running")
            with tqdm(total=max(0, last - first + 1), unit="block", disable=None) as bar:

                def progress(height: int, done: int, total: int) -> None:
                    bar.set_postfix_str(f"height {height}", refresh=False)
                    bar.update(1)

                try:
                    result = sync.backfill(source, start, end, progress=progress)
                except sync.SyncError as exc:
                    raise CommandError(str(exc)) from exc
                except IndexerError as exc:
                    raise CommandError(f"Bitcoin source failed: {exc}") from exc
                finally:
                    source.close()
        self.stdout.write(
            f"bitcoin: cursor at {result.cursor_height} (source tip {result.tip_height}); "
            f"{result.ingested} blocks ingested, {result.unchanged} already stored, {result.rewinds} reorgs undone"
        )
