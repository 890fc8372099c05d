"""``manage.py devnet up / status / scenario / down`` as real subprocesses, with a live
supervisor on short cadences and its own var dir (so a running demo is never touched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3

from devnet.config import pid_alive

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def devnet_env(tmp_path: Path) -> dict[str, str]:
    var_dir = tmp_path / "devnet"
    return {
        **os.environ,
        "DEVNET_VAR_DIR": str(var_dir),
        "DEVNET_STATE_FILE": str(var_dir / "network.json"),
        "DEVNET_BLOCK_SECONDS": "0.3",
        "DEVNET_BTC_BLOCK_SECONDS": "0.5",
    }


def manage(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "devnet", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return dict(json.loads(result.stdout))


def test_up_status_scenario_down_as_subprocesses(devnet_env: dict[str, str]) -> None:
    var_dir = Path(devnet_env["DEVNET_VAR_DIR"])
    try:
        up = ok_json(manage(devnet_env, "up"))
        assert up["already_running"] is False
        assert {"BitcoinTunnelManager", "BTCToken", "HvmState", "SimpleBitcoinVault"} <= set(up["contracts"])
        state = json.loads((var_dir / "network.json").read_text())
        assert state["pid"] == up["pid"] and state["status"] == "ready" and state["started_at"]
        assert (state["chain_id"], state["hemi_rpc_url"], state["bitcoin_rpc_url"]) == (
            743112,
            up["hemi_rpc_url"],
            up["bitcoin_rpc_url"],
        )
        assert "secret" not in json.dumps(state["keys"]) and "wif" not in json.dumps(state["keys"])

        status = ok_json(manage(devnet_env, "status"))
        assert status["running"] is True and status["hemi_block"] >= 1 and status["bitcoin_height"] >= 112
        again = ok_json(manage(devnet_env, "up"))
        assert again["already_running"] is True and again["pid"] == up["pid"]
        second = subprocess.run(
            [sys.executable, "-m", "devnet.network"],
            cwd=REPO,
            env=devnet_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2 and "already running" in second.stderr

        summary = ok_json(manage(devnet_env, "scenario", "treasury-lock"))
        assert summary["pop_confirmations"] >= 10
        w3 = Web3(Web3.HTTPProvider(up["hemi_rpc_url"]))
        assert w3.eth.get_transaction_receipt(summary["mint_tx_hash"])["status"] == 1

        down = ok_json(manage(devnet_env, "down"))
        assert down["stopped"] is True and down["clean_shutdown"] is True
        assert not pid_alive(up["pid"])
        assert not any(pid_alive(node["pid"]) for node in state["nodes"].values())
        assert not (var_dir / "network.json").exists()
        assert json.loads((var_dir / "network.last.json").read_text())["status"] == "stopped"
        assert ok_json(manage(devnet_env, "status"))["running"] is False

        refused = manage(devnet_env, "scenario", "treasury-lock")
        assert refused.returncode != 0 and "no devnet is running" in refused.stderr
    finally:
        manage(devnet_env, "down")
