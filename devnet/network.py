"""The devnet supervisor: nodes, bootstrap, actors on cadences, clean shutdown.

Run it in the foreground with ``python -m devnet.network`` or ``python manage.py devnet run``;
``manage.py devnet up`` starts the same thing detached. Steps:

1. take ``<var dir>/network.pid`` with an exclusive flock (a second supervisor fails at once
   with a clear message; the kernel drops the lock if this process dies);
2. start bcoin (regtest, in memory) and anvil (``--order fees``, see the sequencer) with
   fresh data under the var dir;
3. bootstrap: fund keys (112 Bitcoin blocks), deploy the contracts, relay every header;
4. write network.json atomically (tmp file + rename) - indexers read it at any moment;
5. step the actors on their cadences in one thread (one Hemi block every
   ``DEVNET_BLOCK_SECONDS``, one Bitcoin block every ``DEVNET_BTC_BLOCK_SECONDS``, the
   operator and the PoP miners polling in between), honouring pause requests from scenario
   processes between two steps;
6. on SIGTERM/SIGINT: finish the current step, stop anvil and bcoin, move network.json to
   network.last.json (status "stopped"), release the lock.

One thread on purpose: steps are short, and a single thread makes every step see the chains
its predecessor left, exactly as in the stepped tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from web3 import Web3

from devnet.actors import Actor, Actors
from devnet.actors.sequencer import Sequencer
from devnet.bootstrap import Deployment, bootstrap, make_actors
from devnet.btckeys import DevKey
from devnet.config import (
    FAUCET_KEY,
    POP_MINER_KEYS,
    TREASURY_KEY,
    Cadence,
    DevnetPaths,
    PopPolicy,
    devnet_paths,
    pid_alive,
)
from devnet.constants import DEVNET_CHAIN_ID
from devnet.evm import DEFAULT_CUSTODY_KEY
from devnet.nodes import AnvilNode, BcoinNode, ManagedNode, start_anvil, start_bcoin

logger = logging.getLogger("devnet.network")


class AlreadyRunning(RuntimeError):
    """Another supervisor holds this var dir's lock."""


class SupervisorError(RuntimeError):
    """A node died under the running network."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@contextmanager
def network_lock(paths: DevnetPaths) -> Iterator[None]:
    paths.var_dir.mkdir(parents=True, exist_ok=True)
    handle = open(paths.lock_file, "a+")  # held (and so locked) for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise AlreadyRunning(
                f"a devnet is already running from {paths.var_dir} (supervisor pid {holder}); "
                "use `python manage.py devnet status` or stop it with `python manage.py devnet down`"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # closing drops the flock


def lock_held(paths: DevnetPaths) -> bool:
    """True while some supervisor holds the lock (a stale pid file alone is not "running")."""
    if not paths.lock_file.exists():
        return False
    with open(paths.lock_file) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one


def _public_key(key: DevKey) -> dict[str, str]:
    return {
        "p2pkh_address": key.p2pkh_address,
        "p2pkh_script": key.p2pkh_script.hex(),
        "pubkey": key.pubkey.hex(),
        "evm_address": Web3.to_checksum_address(key.evm_address),
    }


def state_document(
    paths: DevnetPaths,
    cadence: Cadence,
    policy: PopPolicy,
    anvil: AnvilNode,
    bcoin: BcoinNode,
    deployment: Deployment,
    accounts: list[str],
    started_at: str,
) -> dict[str, Any]:
    """network.json: what indexers (``hemiscope.networks``) and scenario processes need."""
    return {
        "status": "ready",
        "chain_id": DEVNET_CHAIN_ID,
        "hemi_rpc_url": anvil.hemi_rpc_url,
        "bitcoin_rpc_url": bcoin.bitcoin_rpc_url,
        "bitcoin_network": "regtest",
        "contracts": deployment.contracts,
        "vaults": [
            {
                "index": 0,
                "address": deployment.contracts["SimpleBitcoinVault"],
                "custody_script": deployment.vault_script.hex(),
                "custody_address": deployment.vault_address,
            }
        ],
        "keys": {
            "faucet": _public_key(FAUCET_KEY),
            "pop_miners": [_public_key(k) for k in POP_MINER_KEYS],
            "vault_custody": _public_key(DEFAULT_CUSTODY_KEY),
            "treasury": _public_key(TREASURY_KEY),
        },
        "hemi_accounts": {"deployer": accounts[0], "operator": accounts[1], "treasury": accounts[2]},
        "hemi_genesis_hash": deployment.hemi_genesis_hash,
        "bitcoin_genesis_hash": deployment.bitcoin_genesis_hash,
        "hemi_start_block": 0,
        "bitcoin_start_height": 0,
        "block_seconds": cadence.block_seconds,
        "btc_block_seconds": cadence.btc_block_seconds,
        "pop_policy": dataclasses.asdict(policy),
        "pid": os.getpid(),
        "started_at": started_at,
        "ready_at": _now(),
        "var_dir": str(paths.var_dir),
        "log_file": str(paths.log_file),
        "nodes": {
            "anvil": {"pid": anvil.pid, "log": str(anvil.log_path)},
            "bcoin": {"pid": bcoin.pid, "log": str(bcoin.log_path)},
        },
    }


class Supervisor:
    def __init__(self, paths: DevnetPaths, cadence: Cadence, policy: PopPolicy) -> None:
        self.paths = paths
        self.cadence = cadence
        self.policy = policy
        self.stop_requested = False
        self.nodes: list[ManagedNode] = []
        self.actors: Actors | None = None
        self._failures: dict[str, int] = {}

    def request_stop(self, signum: int, _frame: Any) -> None:
        if not self.stop_requested:
            logger.info("received %s: stopping after the current step", signal.Signals(signum).name)
        self.stop_requested = True

    def run(self) -> int:
        with network_lock(self.paths):
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
            try:
                self._start()
                self._loop()
                return 0
            except Exception:
                logger.exception("devnet supervisor failed")
                return 1
            finally:
                self._shutdown()

    def _start(self) -> None:
        started_at = _now()
        self._reset_control_dir()
        self.paths.state_file.unlink(missing_ok=True)
        logger.info("starting bcoin and anvil under %s", self.paths.var_dir)
        bcoin = start_bcoin(
            "bitcoin",
            data_dir=self.paths.node_dir("bitcoin"),
            memory=True,
            fresh=True,
            coinbase_address=FAUCET_KEY.p2pkh_address,
        )
        self.nodes.append(bcoin)
        anvil = start_anvil("hemi", data_dir=self.paths.node_dir("hemi"), fresh=True, order="fees")
        self.nodes.append(anvil)
        w3 = Web3(Web3.HTTPProvider(anvil.hemi_rpc_url, request_kwargs={"timeout": 30}))
        btc = bcoin.rpc()
        sequencer = Sequencer(w3, btc)
        t0 = time.monotonic()
        deployment = bootstrap(w3, btc, sequencer)
        logger.info("bootstrap done in %.1f s: %s", time.monotonic() - t0, json.dumps(deployment.contracts))
        self.actors = make_actors(w3, btc, sequencer, deployment, pop_policy=self.policy)
        doc = state_document(
            self.paths, self.cadence, self.policy, anvil, bcoin, deployment, list(w3.eth.accounts), started_at
        )
        write_json_atomic(self.paths.state_file, doc)
        logger.info(
            "devnet ready: hemi %s, bitcoin %s, state %s",
            anvil.hemi_rpc_url,
            f"http://127.0.0.1:{bcoin.http_port}/",
            self.paths.state_file,
        )

    def _loop(self) -> None:
        assert self.actors is not None
        poll = self.cadence.poll_seconds
        schedule: list[tuple[Actor, float]] = [
            (self.actors.btc_miner, self.cadence.btc_block_seconds),
            (self.actors.sequencer, self.cadence.block_seconds),
            (self.actors.operator, poll),
            (self.actors.pop_miner, poll),
        ]
        now = time.monotonic()
        next_due = {actor.name: now + period for actor, period in schedule}
        while not self.stop_requested:
            self._check_nodes()
            paused = self._sync_pauses()
            for actor, period in schedule:
                if self.stop_requested:
                    break
                if actor.name in paused or time.monotonic() < next_due[actor.name]:
                    continue
                self._run_step(actor)
                # no catching up in bursts after a slow step: the next block is one period away
                next_due[actor.name] = max(next_due[actor.name] + period, time.monotonic())
            time.sleep(max(0.0, min(0.05, min(next_due.values()) - time.monotonic())))

    def _run_step(self, actor: Actor) -> None:
        try:
            actor.step()
        except Exception as exc:
            count = self._failures.get(actor.name, 0) + 1
            self._failures[actor.name] = count
            if count == 1 or count % 50 == 0:
                logger.exception("%s step failed (%d in a row)", actor.name, count)
            else:
                logger.warning("%s step failed (%d in a row): %s", actor.name, count, exc)
            return
        if self._failures.pop(actor.name, 0):
            logger.info("%s recovered", actor.name)

    def _check_nodes(self) -> None:
        for node in self.nodes:
            if not node.is_running():
                raise SupervisorError(f"{node.kind} exited under the running network:\n{node.log_tail()}")

    # pause handshake with scenario processes ----------------------------------------------
    def _reset_control_dir(self) -> None:
        control = self.paths.control_dir
        control.mkdir(parents=True, exist_ok=True)
        for leftover in control.iterdir():
            leftover.unlink(missing_ok=True)

    def _sync_pauses(self) -> set[str]:
        """Actors with a live pause request; acknowledge them (we are between two steps, so
        none of them is mid-step) and withdraw acknowledgements of released ones."""
        control = self.paths.control_dir
        paused: set[str] = set()
        for request in control.glob("pause-*"):
            name, _, token = request.name.removeprefix("pause-").partition(".")
            pid = int(token.split(".")[0]) if token.split(".")[0].isdigit() else None
            if not pid_alive(pid):
                request.unlink(missing_ok=True)  # the requesting scenario died without cleaning up
                continue
            paused.add(name)
        for name in paused:
            ack = control / f"paused-{name}"
            if not ack.exists():
                logger.info("pausing %s on request", name)
                ack.touch()
        for ack in control.glob("paused-*"):
            if ack.name.removeprefix("paused-") not in paused:
                logger.info("resuming %s", ack.name.removeprefix("paused-"))
                ack.unlink(missing_ok=True)
        return paused

    def _shutdown(self) -> None:
        for node in reversed(self.nodes):
            try:
                node.stop()
            except Exception:
                logger.exception("could not stop %s", node.kind)
        state = self.paths.state_file
        try:
            data = json.loads(state.read_text())
        except (OSError, ValueError):
            data = None
        if data is not None and data.get("pid") == os.getpid():
            data.update(status="stopped", stopped_at=_now())
            write_json_atomic(self.paths.last_state_file, data)
            state.unlink(missing_ok=True)
        self._reset_control_dir()
        logger.info("devnet stopped")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    paths = devnet_paths()
    try:
        supervisor = Supervisor(paths, Cadence.from_env(), PopPolicy.from_env())
        return supervisor.run()
    except AlreadyRunning as exc:
        logger.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
