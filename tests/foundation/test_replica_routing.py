"""``DATABASE_REPLICA_URL``: page and API reads go to the replica, everything else to the primary.

A real second PostgreSQL database plays the replica, holding one block the primary does not
have, so where a read went shows in its answer: a page and an API call served with the replica
configured find the block; code outside a request (what the indexers and workers run) does not;
without the setting the same request does not find it either. The app runs in a subprocess,
because the setting is read once at start-up like every other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
ONLY_ON_REPLICA = 987_654_321  # a Hemi block number nothing else stores

PROBE = f"""
import json
import django
django.setup()
from django.test import Client
from indexer.hemi.models import Block
client = Client(HTTP_HOST="localhost")
print(json.dumps({{
    "api": client.get("/api/v1/blocks/{ONLY_ON_REPLICA}").status_code,
    "page": client.get("/block/{ONLY_ON_REPLICA}").status_code,
    "outside_a_request": Block.objects.filter(number={ONLY_ON_REPLICA}).exists(),
}}))
"""


@pytest.fixture
def databases(django_db_setup, django_db_blocker):
    """(primary URL, replica URL): the test database and a migrated sibling with one extra block."""
    from tests.conftest import _test_database_url

    with django_db_blocker.unblock():
        primary = _test_database_url()
    head, name = primary.rsplit("/", 1)
    replica_name = f"{name}_replica"
    replica = f"{head}/{replica_name}"
    with psycopg.connect(primary, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{replica_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{replica_name}"')
    env = dict(os.environ, DATABASE_URL=replica)
    env.pop("DATABASE_REPLICA_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    with psycopg.connect(replica, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO hemi_block (number, hash, parent_hash, timestamp, miner, state_root, transactions_root,"
            " receipts_root, gas_used, gas_limit, header_rlp, tx_count, canonical, created_at)"
            " VALUES (%s, %s, %s, 1, %s, %s, %s, %s, 0, 30000000, %s, 0, true, %s)",
            [ONLY_ON_REPLICA, b"\x07" * 32, b"\x06" * 32, bytes(20), bytes(32), bytes(32), bytes(32), b"\xc0",
             datetime.now(UTC)],
        )  # fmt: skip
    yield primary, replica
    with psycopg.connect(primary, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{replica_name}" WITH (FORCE)')


def probe(primary: str, replica: str | None) -> dict:
    env = dict(os.environ, DATABASE_URL=primary)
    env.pop("DATABASE_REPLICA_URL", None)
    if replica:
        env["DATABASE_REPLICA_URL"] = replica
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_page_and_api_reads_go_to_the_replica(databases):
    primary, replica = databases
    assert probe(primary, replica) == {"api": 200, "page": 200, "outside_a_request": False}


def test_without_a_replica_everything_reads_the_primary(databases):
    primary, _ = databases
    assert probe(primary, None) == {"api": 404, "page": 404, "outside_a_request": False}
