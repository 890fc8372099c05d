"""``manage.py devnet up|down|status|run|scenario NAME``: the local Hemi + Bitcoin network.

* ``up`` starts the supervisor detached (log: ``<var dir>/network.log``), waits until it is
  ready and prints its URLs and contract addresses as JSON; if one is running it prints the
  same JSON for that one.
* ``down`` stops it (SIGTERM, wait, then checks anvil and bcoin are gone).
* ``status`` prints JSON with ``"running": true|false`` (exit code 0 either way).
* ``run`` is the supervisor in the foreground (for process managers; Ctrl-C stops it).
* ``scenario NAME [--arg key=value ...]`` runs a scenario against the running network and
  prints its JSON summary.

The var dir is ``DEVNET_VAR_DIR`` (default ``var/devnet``), network.json ``DEVNET_STATE_FILE``.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devnet.config import devnet_paths
from devnet.control import DOWN_TIMEOUT, UP_TIMEOUT, DevnetControlError, down, dumps, status, up
from devnet.handle import Network, NoNetworkError, ScenarioError, ScenarioTimeout
from devnet.network import main as run_supervisor
from devnet.scenarios import SCENARIOS


def _parse_arg(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise CommandError(f"--arg takes key=value, got {text!r}")
    try:
        return key.replace("-", "_"), json.loads(value)  # numbers, true/false, "strings"
    except ValueError:
        return key.replace("-", "_"), value


class Command(BaseCommand):
    help = "Manage the local devnet (anvil as Hemi + bcoin regtest) and run its scenarios."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        up_parser = actions.add_parser("up", help="start the network in the background (idempotent)")
        up_parser.add_argument("--timeout", type=float, default=UP_TIMEOUT)
        down_parser = actions.add_parser("down", help="stop the network")
        down_parser.add_argument("--timeout", type=float, default=DOWN_TIMEOUT)
        actions.add_parser("status", help="is a network running? (JSON)")
        actions.add_parser("run", help="run the supervisor in the foreground")
        scenario = actions.add_parser("scenario", help="run a scenario against the running network")
        scenario.add_argument("name", choices=sorted(SCENARIOS))
        scenario.add_argument("--arg", action="append", default=[], help="scenario option key=value")

    def handle(self, *args: Any, **options: Any) -> None:
        paths = devnet_paths()
        action = options["action"]
        try:
            if action == "up":
                self.stdout.write(dumps(up(paths, timeout=options["timeout"])))
            elif action == "down":
                self.stdout.write(dumps(down(paths, timeout=options["timeout"])))
            elif action == "status":
                self.stdout.write(dumps(status(paths)))
            elif action == "run":
                code = run_supervisor()
                if code:
                    sys.exit(code)
            elif action == "scenario":
                self._scenario(options["name"], dict(_parse_arg(a) for a in options["arg"]))
        except (DevnetControlError, NoNetworkError, ScenarioError, ScenarioTimeout) as exc:
            raise CommandError(str(exc)) from exc

    def _scenario(self, name: str, kwargs: dict[str, Any]) -> None:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        net = Network.connect(devnet_paths())
        try:
            result = SCENARIOS[name](net, **kwargs)
        except TypeError as exc:
            if "unexpected keyword" in str(exc):
                raise CommandError(f"scenario {name}: {exc}") from exc
            raise
        self.stdout.write(dumps(result))
