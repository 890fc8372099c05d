"""``manage.py hemi_sync [--from N] [--to N]``: index Hemi blocks in the foreground.

Defaults: from the block after the cursor (or the network's start block) to the node's tip.
Shows a progress bar. Token metadata and vault custody are recorded as durable work items by
the ingest; ``--followups inline`` (the default) reads them after each batch (no worker
needed) and registers new vaults with the Bitcoin indexer, whose rescans stay recorded for
``manage.py sync`` or a worker. It lives here, above both chains, because a custody read ends
in a Bitcoin registration.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from hemiscope import networks
from indexer.core import work
from indexer.core.errors import IndexerError, TransientError
from indexer.crosschain import handlers
from indexer.hemi import ingest, sync
from indexer.hemi.rpc import HemiRpc


class Command(BaseCommand):
    help = "Index Hemi blocks (blocks, transactions, logs, tokens, keystones, hVM headers, tunnel events)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", type=int, default=None, help="first block (default: after cursor)")
        parser.add_argument("--to", dest="end", type=int, default=None, help="last block (default: the node's tip)")
        parser.add_argument(
            "--followups",
            choices=("inline", "celery", "none"),
            default="inline",
            help="read token metadata / vault custody inline (default), nudge a Celery worker, or leave them recorded",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (JSON log lines only)")

    def handle(self, *args: Any, **options: Any) -> None:
        network = networks.current()
        if not network.hemi_rpc_url:
            raise CommandError(f"no Hemi RPC URL for network {network.name!r}: set HEMI_RPC_URL (or run the devnet)")
        rpc = HemiRpc.from_network(network, max_retries=2, timeout=15)
        try:
            tip = rpc.block_number()
        except TransientError as exc:
            raise CommandError(f"Hemi node at {network.hemi_rpc_url} is unreachable: {exc}") from exc
        except IndexerError as exc:
            raise CommandError(f"Hemi node at {network.hemi_rpc_url} answered with an error: {exc}") from exc
        start = options["start"]
        if start is None:
            cursor = sync.cursor_position()
            start = network.tunnel_start_block if cursor is None else cursor[0] + 1
        end = tip if options["end"] is None else options["end"]
        if end > tip:
            raise CommandError(f"--to {end} is beyond the node's tip {tip}")
        if start > end:
            self.stdout.write(f"nothing to do: block {start} is past {end}")
            return
        bar = None if options["no_progress"] else tqdm(total=end - start + 1, unit="block", desc="hemi")

        def progress(state: sync.SyncProgress) -> None:
            if bar is not None:
                bar.n = state.current - start + 1
                bar.set_postfix(txs_s=f"{state.txs_per_s:.0f}", refresh=False)
                bar.refresh()

        config = ingest.IngestConfig.from_network(network)
        mode = options["followups"]
        after_commit = handlers.after_commit_for(mode, network)
        try:
            state = sync.backfill(rpc, start, end, progress, after_commit=after_commit, config=config, network=network)
            if mode == "inline":
                handlers.sweep()
                with handlers.Context(network) as ctx:
                    handlers.drain(ctx, kinds=handlers.HEMI_KINDS)
        except TransientError as exc:
            raise CommandError(f"Hemi node stopped answering: {exc}") from exc
        except (ingest.BlockRejected, IndexerError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if bar is not None:
                bar.close()
            rpc.close()
        left = work.open_items().count()
        if left:
            self.stdout.write(f"{left} follow-up work items recorded (run `manage.py sync` or a worker)")
        self.stdout.write(
            f"hemi: {state.blocks} blocks, {state.txs} transactions, {state.reorgs} reorgs "
            f"in {state.elapsed:.1f}s ({state.blocks_per_s:.1f} blocks/s, {state.txs_per_s:.0f} txs/s)"
        )
