"""``manage.py btc_decode_block FILE``: print a block's PoP publications and tunnel deposits.

Needs no database: everything comes from the file. FILE holds the block as hex text
(whitespace allowed) or raw bytes; ``-`` reads standard input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from indexer.bitcoin.decode import BitcoinDecodeError
from indexer.bitcoin.report import BlockInputError, block_report, read_block_bytes


def _parse_vault(spec: str) -> tuple[bytes, str]:
    script_hex, sep, name = spec.partition("=")
    try:
        script = bytes.fromhex(script_hex)
    except ValueError:
        script = b""
    if not sep or not name or not script:
        raise CommandError(f"--vault expects SCRIPT_HEX=NAME, got {spec!r}")
    return script, name


class Command(BaseCommand):
    help = "Decode a raw Bitcoin block and print its PoP outputs and tunnel deposits as JSON."
    requires_system_checks = ()  # pure decoding: no database, no app checks needed
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="block as hex text or raw bytes; '-' for stdin")
        parser.add_argument(
            "--vault",
            action="append",
            default=[],
            metavar="SCRIPT_HEX=NAME",
            help="a vault custody scriptPubKey (hex) and the name to report deposits under; repeatable",
        )
        parser.add_argument("--indent", type=int, default=2, help="JSON indentation (default 2)")

    def handle(self, *args: object, **options: object) -> None:
        path = str(options["file"])
        try:
            data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from exc
        vaults = dict(_parse_vault(str(spec)) for spec in options["vault"])  # type: ignore[union-attr]
        try:
            report = block_report(read_block_bytes(data), vaults or None)
        except (BlockInputError, BitcoinDecodeError) as exc:
            raise CommandError(f"{path}: not a valid Bitcoin block: {exc.__class__.__name__}: {exc}") from exc
        indent = options["indent"]
        self.stdout.write(
            json.dumps(report, indent=indent if isinstance(indent, int) and indent > 0 else None)
        )
