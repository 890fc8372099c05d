"""Settings fail loudly at start-up, naming the variable; production settings pass --deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env_overrides: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for key, value in env_overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", None, "DATABASE_URL is not set"),
        ("DATABASE_URL", "mysql://x@localhost/db", "DATABASE_URL must be a URL with scheme"),
        ("REDIS_URL", None, "REDIS_URL is not set"),
        ("REDIS_URL", "http://localhost:6379", "REDIS_URL must be a URL with scheme"),
        ("DEBUG", "maybe", "DEBUG must be a boolean"),
        ("HEMI_NETWORK", "regtest", "HEMI_NETWORK must be one of devnet, testnet, mainnet"),
        ("HEMI_RPC_URL", "not a url", "HEMI_RPC_URL must be a URL"),
        ("BITCOIN_START_HEIGHT", "12x", "BITCOIN_START_HEIGHT must be an integer"),
        ("BITCOIN_START_HEIGHT", "-1", "BITCOIN_START_HEIGHT must be >= 0"),
        ("TUNNEL_MANAGER_ADDRESS", "0x1234", "TUNNEL_MANAGER_ADDRESS must be a 0x-prefixed 20-byte hex address"),
        ("BITCOIN_NETWORK", "signet", "BITCOIN_NETWORK must be one of"),
        ("THROTTLE_ANON_RATE", "lots", "THROTTLE_ANON_RATE must be a rate like 120/min"),
        ("THROTTLE_ANON_RATE", "0/min", "THROTTLE_ANON_RATE must be a rate like 120/min"),
        ("THROTTLE_ANON_RATE", "10/fortnight", "THROTTLE_ANON_RATE must be a rate like 120/min"),
        ("NUM_PROXIES", "-1", "NUM_PROXIES must be >= 0"),
        ("NUM_PROXIES", "one", "NUM_PROXIES must be an integer"),
        ("METRICS_ALLOWED_IPS", "10.0.0.1,prometheus", "METRICS_ALLOWED_IPS must list IP addresses or networks"),
        ("DATABASE_CONNECT_TIMEOUT", "0", "DATABASE_CONNECT_TIMEOUT must be >= 1"),
        ("HEALTH_WORKER_STALE_SECONDS", "soon", "HEALTH_WORKER_STALE_SECONDS must be an integer"),
    ],
)
def test_a_missing_or_malformed_variable_stops_start_up_with_its_name(variable, value, message):
    result = run_manage("check", **{variable: value})
    assert result.returncode != 0
    assert message in result.stderr


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 20 + "Kq3!vLz9@pT7#mW2$rN8^bY5&hJ4*dF6",
    "ALLOWED_HOSTS": "hemiscope.example",
    "HEMI_NETWORK": "mainnet",
}


def test_production_requires_hemi_network_and_names_it():
    result = run_manage("check", **{**PRODUCTION, "HEMI_NETWORK": None})
    assert result.returncode != 0
    assert "HEMI_NETWORK is not set (it is required when DEBUG is off" in result.stderr
    # Development keeps its default (the devnet).
    assert run_manage("check", DEBUG="true", HEMI_NETWORK=None).returncode == 0


@pytest.mark.parametrize(("network", "installed"), [("devnet", True), ("testnet", False), ("mainnet", False)])
def test_the_devnet_app_is_installed_only_on_the_devnet(network, installed):
    result = run_manage(
        "shell", "--no-imports", "-c",
        "from django.apps import apps; print(apps.is_installed('devnet'))",
        HEMI_NETWORK=network,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(installed)]
    commands = run_manage("help", "--commands", HEMI_NETWORK=network).stdout.split()
    assert ("devnet" in commands) is installed
    assert ("demo" in commands) is installed


def test_metrics_are_closed_by_default_in_production():
    result = run_manage(
        "shell", "--no-imports", "-c",
        "from django.conf import settings; print(settings.METRICS_ALLOWED_IPS, settings.METRICS_BEARER_TOKEN)",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "None"]


def test_production_requires_a_secret_key():
    result = run_manage("check", DEBUG="false", SECRET_KEY=None, ALLOWED_HOSTS="hemiscope.example")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_production_settings_pass_the_deploy_check_with_no_warnings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_network_presets_can_be_overridden_one_value_at_a_time():
    result = run_manage(
        "shell", "--no-imports", "-c",
        "from hemiscope import networks; n = networks.current(); "
        "print(n.name, n.chain_id, n.hemi_rpc_url, n.bitcoin_network, n.tunnel_manager_address)",
        HEMI_NETWORK="testnet", HEMI_RPC_URL="http://127.0.0.1:9545",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "testnet", "743111", "http://127.0.0.1:9545", "testnet3", "0x8221cfd3eca3c5f9fa27b2ae774151642f1c449e",
    ]


@pytest.mark.parametrize("pooling", ["true", None])
def test_transaction_pooling_turns_off_server_side_cursors_and_prepared_statements(pooling):
    result = run_manage(
        "shell", "--no-imports", "-c",
        "from django.conf import settings; "
        "print([(a, d.get('DISABLE_SERVER_SIDE_CURSORS', False), d['OPTIONS'].get('prepare_threshold', 'unset'))"
        " for a, d in sorted(settings.DATABASES.items())])",
        DATABASE_TRANSACTION_POOLING=pooling, DATABASE_REPLICA_URL="postgresql://reader@replica.invalid/hemiscope",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    if pooling:
        assert result.stdout.strip() == "[('default', True, None), ('replica', True, None)]"
    else:
        assert result.stdout.strip() == "[('default', False, 'unset'), ('replica', False, 'unset')]"
