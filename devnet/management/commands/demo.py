"""``manage.py demo``: the whole Hemiscope story on one machine (``make demo`` runs it inside
``hemiscope.services``, which provides PostgreSQL and Redis).

1. ``migrate``;
2. ``devnet up`` (in-process); a freshly started devnet is a new chain, so the database is
   flushed unless ``--keep-data`` (rows of the previous devnet would look like a deep reorg
   down to a genesis that no longer exists);
3. web, worker and beat from the Procfile under honcho (``PY`` = this interpreter,
   ``WEB_PORT`` = 8000 if free, else any free port), logs in ``var/demo.log``;
4. print the explorer URL as soon as ``/healthz`` answers 200;
5. run ``treasury-lock`` against the running network and print its summary and the mint's
   provenance URL;
6. keep running until Ctrl-C (or SIGTERM), then stop honcho and ``devnet down``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from devnet.btc import read_log_tail
from devnet.config import devnet_paths
from devnet.control import DevnetControlError, down, dumps, up
from devnet.handle import Network, NoNetworkError, ScenarioError, ScenarioTimeout
from devnet.scenarios import treasury_lock

HEALTHZ_TIMEOUT = 120.0
HONCHO_STOP_TIMEOUT = 20.0


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Command(BaseCommand):
    help = "Run the demo: devnet, indexers, workers and the web app; prints the explorer URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=None, help="web port (default 8000, or a free one)")
        parser.add_argument("--no-scenario", action="store_true", help="skip the treasury-lock story")
        parser.add_argument("--keep-data", action="store_true", help="never flush the database")
        parser.add_argument("--exit-after-scenario", action="store_true", help="stop after step 5 (for timing)")

    def say(self, text: str) -> None:
        self.stdout.write(f"[demo] {text}")
        self.stdout.flush()

    def handle(self, *args: Any, **options: Any) -> None:
        self._stopping = False
        # First Ctrl-C/SIGTERM interrupts whatever runs (a scenario wait, the health poll);
        # repeats - the terminal and hemiscope.services both deliver one - are ignored.
        signal.signal(signal.SIGINT, self._interrupt)
        signal.signal(signal.SIGTERM, self._interrupt)
        paths = devnet_paths()
        honcho: subprocess.Popen[bytes] | None = None
        started = time.monotonic()
        try:
            self.say("1/5 migrating the database")
            call_command("migrate", interactive=False, verbosity=0)
            self.say("2/5 starting the devnet (bcoin + anvil, contracts, actors)")
            info = up(paths)
            self.say(f"    devnet ready: hemi {info['hemi_rpc_url']}  (log {paths.log_file})")
            if not info["already_running"] and not options["keep_data"] and settings.HEMI_NETWORK == "devnet":
                call_command("flush", interactive=False, verbosity=0)
                self.say("    fresh devnet: database flushed")
            port = options["port"] or (8000 if _port_free(8000) else _free_port())
            self.say("3/5 starting web, worker and beat (honcho; logs in var/demo.log)")
            honcho = self._start_honcho(port, paths.child_env())
            url = f"http://127.0.0.1:{port}/"
            self._wait_healthy(url + "healthz", honcho)
            self.say(f"4/5 Hemiscope explorer: {url}   (ready {time.monotonic() - started:.0f} s after start)")
            if not options["no_scenario"]:
                self._story(paths, url)
            if options["exit_after_scenario"]:
                return
            self.say("running - press Ctrl-C to stop everything")
            while honcho.poll() is None:
                time.sleep(0.5)
            raise CommandError(f"honcho exited with code {honcho.returncode}; see var/demo.log")
        except KeyboardInterrupt:
            self.say("stopping")
        except DevnetControlError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            self._stopping = True
            self._stop_honcho(honcho)
            result = down(paths)
            self.say(f"devnet down (clean: {result.get('clean_shutdown', True)})")

    def _interrupt(self, signum: int, _frame: Any) -> None:
        if not self._stopping:
            self._stopping = True
            raise KeyboardInterrupt

    def _start_honcho(self, port: int, devnet_env: dict[str, str]) -> subprocess.Popen[bytes]:
        base = Path(settings.BASE_DIR)
        log_path = base / "var" / "demo.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **devnet_env, "PY": sys.executable, "WEB_PORT": str(port), "PYTHONUNBUFFERED": "1"}
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "honcho", "-f", str(base / "Procfile"), "start"],
                cwd=base,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # we stop it ourselves, after Ctrl-C reached only us
            )

    def _wait_healthy(self, healthz: str, honcho: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + HEALTHZ_TIMEOUT
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(healthz, timeout=2).status_code == 200:
                    return
            if honcho.poll() is not None:
                log_path = Path(settings.BASE_DIR) / "var" / "demo.log"
                raise CommandError(f"honcho exited during start-up:\n{read_log_tail(log_path, 30)}")
            if time.monotonic() > deadline:
                raise CommandError(f"{healthz} did not answer 200 within {HEALTHZ_TIMEOUT:.0f} s; see var/demo.log")
            time.sleep(0.3)

    def _story(self, paths: Any, url: str) -> None:
        self.say("5/5 treasury-lock: 100 BTC into the vault, mint on Hemi, keystone anchored on Bitcoin ...")
        t0 = time.monotonic()
        try:
            summary = treasury_lock.run(Network.connect(paths))
        except (ScenarioError, ScenarioTimeout, NoNetworkError) as exc:
            self.stderr.write(f"[demo] treasury-lock failed: {exc} (the explorer keeps running)")
            return
        self.stdout.write(dumps(summary))
        self.say(f"    done in {time.monotonic() - t0:.0f} s")
        self.say(f"    mint provenance: {url}provenance/mint/{summary['mint_tx_hash']}")

    def _stop_honcho(self, honcho: subprocess.Popen[bytes] | None) -> None:
        if honcho is None or honcho.poll() is not None:
            return
        honcho.send_signal(signal.SIGTERM)  # honcho stops web/worker/beat and waits for them
        try:
            honcho.wait(HONCHO_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait()
