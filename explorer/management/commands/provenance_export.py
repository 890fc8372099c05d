from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from explorer import evidence, provenance
from explorer.params import BadParameter, parse_evm_hash


class Command(BaseCommand):
    help = "Write the offline-verifiable evidence bundle of a hemiBTC mint (JSON)."

    def add_arguments(self, parser):
        parser.add_argument("--mint", required=True, help="Hemi transaction hash of the mint (0x…)")
        parser.add_argument("-o", "--output", required=True, help="output file, or - for stdout")

    def handle(self, *args, mint: str, output: str, **options):
        try:
            tx_hash = parse_evm_hash(mint)
        except BadParameter as exc:
            raise CommandError(str(exc)) from exc
        row = provenance.mints_in_transaction(tx_hash).first()
        if row is None:
            raise CommandError(f"no indexed hemiBTC mint (DepositConfirmed) in transaction {mint}")
        try:
            data = evidence.export_bytes(row)
        except evidence.EvidenceUnavailable as exc:
            raise CommandError(f"evidence not available yet: {exc}") from exc
        if output == "-":
            sys.stdout.buffer.write(data)
        else:
            Path(output).write_bytes(data)
            self.stderr.write(f"wrote {len(data)} bytes to {output}")
