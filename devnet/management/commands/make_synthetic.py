"""``manage.py make_synthetic --hemi-blocks N --txs-per-block K``: a synthetic chain of any size.

Fills an EMPTY database (after ``migrate``) with N Hemi blocks of K transactions and the Bitcoin
chain beside them, through the indexers' own write paths (see ``devnet/synthetic.py`` for what is
real and what is not). Prints progress, then the settings the explorer needs to read it (the
synthetic tunnel manager and hemiBTC addresses).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devnet import synthetic


class Command(BaseCommand):
    help = "Fill an empty database with a synthetic, internally consistent Hemi + Bitcoin chain."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hemi-blocks", type=int, required=True, help="Hemi blocks to build (from block 0)")
        parser.add_argument("--txs-per-block", type=int, default=10, help="transactions per Hemi block (default 10)")
        parser.add_argument(
            "--deposits-per-btc-block", type=int, default=2, help="tunnel deposits (and mints) per Bitcoin block"
        )
        parser.add_argument(
            "--withdrawals-per-btc-block", type=int, default=1, help="hemiBTC withdrawals per Bitcoin block"
        )
        parser.add_argument("--btc-start-height", type=int, default=synthetic.MAINNET_BTC_START,
                            help="height of the first Bitcoin block (default: mainnet's 859303)")
        parser.add_argument("--users", type=int, default=None, help="size of the address pool (default scales)")
        parser.add_argument("--seed", type=int, default=21)

    def handle(self, *args: Any, **options: Any) -> None:
        opts = synthetic.Options(
            hemi_blocks=options["hemi_blocks"],
            txs_per_block=max(2, options["txs_per_block"]),
            deposits_per_btc_block=options["deposits_per_btc_block"],
            withdrawals_per_btc_block=options["withdrawals_per_btc_block"],
            btc_start=options["btc_start_height"],
            seed=options["seed"],
            users=options["users"],
        )
        try:
            summary = synthetic.generate(opts, progress=lambda line: self.stdout.write(line))
        except synthetic.DatabaseNotEmpty as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({**summary, "settings": synthetic.explorer_settings()}))
