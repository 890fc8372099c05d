#!/usr/bin/env python
"""Django's command-line utility for Hemiscope."""

from __future__ import annotations

import os
import sys

# Subcommands that need no Django, run before settings are loaded. The offline evidence
# verifier is for auditors' machines, where nothing is configured: loading settings would
# demand SECRET_KEY, DATABASE_URL and REDIS_URL that it never uses, and settings.py is right
# to demand them of everything else, so this one command skips settings rather than weaken them.
OFFLINE_COMMANDS = ("verify_evidence",)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in OFFLINE_COMMANDS:
        from explorer.verify import main as verify_main

        sys.exit(verify_main(sys.argv[2:], prog=f"{os.path.basename(sys.argv[0])} verify_evidence"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hemiscope.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
