"""``devnet up / down / status``: manage the supervisor process from another process.

Shared by the ``devnet`` and ``demo`` management commands (the demo calls them in-process).
"Running" means: a supervisor holds the var dir's lock AND network.json says ready with that
supervisor's pid. A network.json whose supervisor died (SIGKILL, OOM) is stale: ``up`` and
``down`` clear it and kill the nodes it lists, which would otherwise outlive it (they run in
their own sessions).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from devnet.btc import read_log_tail
from devnet.config import REPO_ROOT, DevnetPaths, pid_alive
from devnet.handle import read_state
from devnet.network import lock_held, write_json_atomic
from devnet.nodes import rpc_probe
from indexer.core.jsonrpc import BadReply, quantity

UP_TIMEOUT = 180.0
DOWN_TIMEOUT = 60.0


class DevnetControlError(RuntimeError):
    """up/down could not do what was asked; the message says why (with the log tail)."""


def summary(state: dict[str, Any], paths: DevnetPaths) -> dict[str, Any]:
    """What a caller of ``up``/``status`` needs to talk to the network."""
    return {
        "hemi_rpc_url": state.get("hemi_rpc_url"),
        "bitcoin_rpc_url": state.get("bitcoin_rpc_url"),
        "chain_id": state.get("chain_id"),
        "contracts": state.get("contracts", {}),
        "pid": state.get("pid"),
        "started_at": state.get("started_at"),
        "state_file": str(paths.state_file),
        "log_file": str(paths.log_file),
    }


def _exited(pid: int) -> bool:
    """True once ``pid`` is gone; reaps it if it is our child (a zombie still answers kill 0)."""
    try:
        reaped, _status = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return True
    except ChildProcessError:
        pass
    return not pid_alive(pid)


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _exited(pid):
            return True
        time.sleep(0.1)
    return _exited(pid)


def _kill_nodes(state: dict[str, Any]) -> list[int]:
    """SIGKILL the process groups of nodes a dead supervisor left behind; returns their pids."""
    killed = []
    for node in state.get("nodes", {}).values():
        pid = node.get("pid")
        if pid and pid_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)  # nodes lead their own process group
            except ProcessLookupError:
                continue
            _wait_exit(pid, 5.0)
            killed.append(pid)
    return killed


def _clear_stale(paths: DevnetPaths, state: dict[str, Any]) -> None:
    _kill_nodes(state)
    state.update(status="stale", stale_detected_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    write_json_atomic(paths.last_state_file, state)
    paths.state_file.unlink(missing_ok=True)


def _chain_heights(state: dict[str, Any]) -> dict[str, Any]:
    """The nodes' tips for ``devnet status``; None for a node that does not answer."""
    hemi = rpc_probe(state.get("hemi_rpc_url") or "", "eth_blockNumber", timeout=2.0)
    bitcoin = rpc_probe(state.get("bitcoin_rpc_url") or "", "getblockcount", version="1.0", timeout=2.0)
    try:
        hemi_block: int | None = quantity(hemi, "eth_blockNumber")
    except BadReply:  # no answer (None) or not a quantity
        hemi_block = None
    return {"hemi_block": hemi_block, "bitcoin_height": bitcoin if isinstance(bitcoin, int) else None}


def status(paths: DevnetPaths) -> dict[str, Any]:
    state = read_state(paths)
    locked = lock_held(paths)
    running = bool(locked and state and state.get("status") == "ready" and pid_alive(state.get("pid")))
    result: dict[str, Any] = {"running": running, "state_file": str(paths.state_file)}
    if state is not None:
        result.update(summary(state, paths))
        if running:
            result.update(_chain_heights(state))
        elif not locked:
            result["stale"] = True  # network.json of a supervisor that is gone
    elif locked:
        result["starting"] = True
    return result


def up(paths: DevnetPaths, *, timeout: float = UP_TIMEOUT) -> dict[str, Any]:
    """Start the supervisor detached (own session, log in network.log) unless a network is
    already running; wait until its network.json is ready. Idempotent."""
    state = read_state(paths)
    if state is not None and not lock_held(paths):
        _clear_stale(paths, state)
        state = None
    if state is not None and state.get("status") == "ready" and pid_alive(state.get("pid")):
        return {**summary(state, paths), "already_running": True}
    process: subprocess.Popen[bytes] | None = None
    if not lock_held(paths):
        paths.var_dir.mkdir(parents=True, exist_ok=True)
        with open(paths.log_file, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} devnet up\n".encode())
            log.flush()
            process = subprocess.Popen(
                [sys.executable, "-m", "devnet.network"],
                cwd=REPO_ROOT,
                env={**os.environ, **paths.child_env()},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the terminal and the caller's Ctrl-C
            )
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(paths)
        if state is not None and state.get("status") == "ready" and pid_alive(state.get("pid")):
            if process is None or state.get("pid") == process.pid:
                return {**summary(state, paths), "already_running": process is None}
        if process is not None and process.poll() is not None:
            raise DevnetControlError(
                f"the devnet supervisor exited with code {process.returncode} during start-up; "
                f"log tail ({paths.log_file}):\n{read_log_tail(paths.log_file, 30)}"
            )
        if process is None and not lock_held(paths):
            raise DevnetControlError("another devnet supervisor was starting but exited; see " + str(paths.log_file))
        if time.monotonic() > deadline:
            raise DevnetControlError(
                f"the devnet was not ready within {timeout:.0f} s; log tail ({paths.log_file}):\n"
                f"{read_log_tail(paths.log_file, 30)}"
            )
        time.sleep(0.2)


def down(paths: DevnetPaths, *, timeout: float = DOWN_TIMEOUT) -> dict[str, Any]:
    """SIGTERM the supervisor, wait for it, then make sure its nodes are gone too."""
    state = read_state(paths)
    pid: int | None = int(state["pid"]) if state and state.get("pid") else None
    if pid is None and lock_held(paths):
        text = paths.lock_file.read_text().strip()
        pid = int(text) if text.isdigit() else None
    if pid is None or not pid_alive(pid):
        if state is not None:
            _clear_stale(paths, state)
        return {"stopped": False, "was_running": False, "state_file": str(paths.state_file)}
    os.kill(pid, signal.SIGTERM)
    clean = _wait_exit(pid, timeout)
    if not clean:
        os.kill(pid, signal.SIGKILL)
        _wait_exit(pid, 5.0)
    leftover = _kill_nodes(state or {})
    if state is not None and paths.state_file.exists():
        _clear_stale(paths, state)  # only if the supervisor could not clean up itself
    return {
        "stopped": True,
        "was_running": True,
        "pid": pid,
        "clean_shutdown": clean and not leftover,
        "killed_leftover_nodes": leftover,
        "last_state_file": str(paths.last_state_file),
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
