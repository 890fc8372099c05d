"""The partitioned layout (``indexer/hemi/partitioning.py``) at small size, in a database of its own.

An empty, migrated database is converted, then filled by ``make_synthetic`` through the real
write path (binary COPY into the partitioned parents), and must pass what the unpartitioned
chain passes: rows spread over several partitions, the reference audit clean, every page and
API endpoint of the bench mix answering. Run in a subprocess on its own database, so the
session's test database keeps the ordinary layout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from django.test import Client
from devnet import synthetic
from indexer.hemi import integrity, partitioning

partitions = partitioning.convert_empty(block_ids_per_partition=200, partitions=2)
call_command("make_synthetic", "--hemi-blocks", "600", "--txs-per-block", "4", stdout=open("/dev/null", "w"))
try:
    partitioning.convert_empty(200, 2)
    refused = False
except partitioning.NotEmpty:
    refused = True
with connection.cursor() as cur:
    cur.execute(
        "SELECT c.relname, count(*) FROM hemi_transaction t JOIN pg_class c ON c.oid = t.tableoid GROUP BY 1"
    )
    spread = dict(cur.fetchall())
    cur.execute("SELECT relkind FROM pg_class WHERE relname = 'hemi_transaction'")
    kind = cur.fetchone()[0]
import os
for name, value in synthetic.explorer_settings().items():
    os.environ[name] = value
client = Client(HTTP_HOST="localhost")
statuses = {name: client.get(path).status_code for name, path in synthetic.request_mix()}
problems = [str(p) for p in integrity.check_references()]
print(json.dumps({"refused": refused, "kind": kind, "spread": spread, "problems": problems, "statuses": statuses,
                  "partitions": partitions}))
"""


@pytest.fixture
def scratch_database(django_db_setup, django_db_blocker):
    from tests.conftest import _test_database_url

    with django_db_blocker.unblock():
        url = _test_database_url()
    head, name = url.rsplit("/", 1)
    scratch = f"{name}_partitioned"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    yield f"{head}/{scratch}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def test_partitioned_tables_take_the_write_path_and_serve_every_endpoint(scratch_database):
    env = dict(os.environ, DATABASE_URL=scratch_database)
    env.pop("DATABASE_REPLICA_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, check=True, capture_output=True, text=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["kind"] == "p"  # a partitioned table
    assert result["refused"]  # a table with rows is never converted in place
    # 600 blocks, ids from 1: partitions [0, 200), [200, 400) and the default hold rows.
    assert result["spread"] == {
        "hemi_transaction_p0": 199 * 4, "hemi_transaction_p1": 200 * 4, "hemi_transaction_default": 201 * 4
    }  # fmt: skip
    assert result["problems"] == []
    bad = {name: s for name, s in result["statuses"].items() if s not in (200, 302)}
    assert not bad
