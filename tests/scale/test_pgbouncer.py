"""PgBouncer in transaction mode in front of the web app, the indexer writers direct (README:
Scaling past one machine, step 4), on real services.

A synthetic chain is written into a database of its own by the real write path over a direct
connection (bulk COPY, prepared statements, writer locks). Debian's PgBouncer 1.18 then pools
it in transaction mode with two server connections, and gunicorn (production settings, 2 workers
x 4 threads, ``DATABASE_TRANSACTION_POOLING=true``) reads it only through PgBouncer: every page and
API endpoint of the bench mix, deep keyset cursors included, must answer what the same request
answers on a direct connection, while PgBouncer's own counters show the clients outnumbering and
sharing its server connections. A writer's advisory locks keep working on a direct connection
meanwhile, and a writer pointed at PgBouncer is refused - with the two failures that refusal
prevents shown on PgBouncer itself: a session lock "held" by two clients at once, and colliding
prepared statements.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests

from tests.webserver import stop_group, wait_until_serving

REPO = Path(__file__).resolve().parents[2]
SECRET_KEY = "pgbouncer-test-not-a-secret"  # loopback test only; signs the mix's cursors
WEB_WORKERS, WEB_THREADS, POOL_SIZE = 2, 4, 2

# The request mix (its deep cursors signed with SECRET_KEY) and each answer read on the
# connection DATABASE_URL names, in a process of its own (settings are read at start-up).
REFERENCE = """
import json, os, re
import django
django.setup()
from django.test import Client
from devnet import synthetic
for name, value in synthetic.explorer_settings().items():
    os.environ[name] = value
client = Client(HTTP_HOST="127.0.0.1")
mix = synthetic.request_mix()
answers = {}
for name, path in mix:
    r = client.get(path)
    answers[name] = [r.status_code, r.content.decode("utf-8", "replace")]
print(json.dumps({"mix": mix, "answers": answers}))
"""

# A writer's two locks and prepared statements on the connection DATABASE_URL names; prints what
# happened (or the refusal).
WRITER = """
import json
import django
django.setup()
from django.db import connection, transaction
from indexer.core import locks
from indexer.hemi import bulk
out = {}
try:
    with locks.session_lock("pgbouncer-test") as held:
        out["session_lock"] = held
        with transaction.atomic():
            locks.WriterLock("pgbouncer-test-writer").acquire()
            cur = bulk.cursor()
            for _ in range(3):  # prepared from the first run on (_PreparingCursor)
                cur.execute("SELECT count(*) FROM hemi_block WHERE number >= %s", [0])
            out["blocks"] = cur.fetchone()[0]
        import sys
        print(json.dumps({"holding": True}), flush=True)
        sys.stdin.readline()  # hold the session lock until told to go on
except locks.PooledConnection as exc:
    out["refused"] = str(exc)
print(json.dumps(out), flush=True)
"""


def _env(database_url: str, **extra: str) -> dict[str, str]:
    from devnet import synthetic

    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY=SECRET_KEY, THROTTLE_ANON_RATE="100000000/min",
               **synthetic.explorer_settings())  # fmt: skip
    env.pop("DATABASE_REPLICA_URL", None)
    env.update(extra)
    return env


def _run(script: str, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pooled(django_db_setup, django_db_blocker):
    """(direct URL, pooled URL, URL of a one-connection pool, admin console URL, web base URL)."""
    from hemiscope.services import embedded_pgbouncer, free_port
    from tests.conftest import _test_database_url

    with django_db_blocker.unblock():
        url = _test_database_url()
    head, name = url.rsplit("/", 1)
    scratch = f"{name}_pgbouncer"
    direct = f"{head}/{scratch}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    env = _env(direct)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    subprocess.run(
        [sys.executable, "manage.py", "make_synthetic", "--hemi-blocks", "400", "--txs-per-block", "4"],
        cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    single = f"{scratch}_single"
    with contextlib.ExitStack() as stack:
        pooled_url = stack.enter_context(
            embedded_pgbouncer(
                direct, REPO / "var" / "test-pgbouncer", pool_size=POOL_SIZE,
                extra_databases={single: f"dbname={scratch} pool_size=1"},
            )
        )  # fmt: skip
        pooled_head = pooled_url.rsplit("/", 1)[0]
        port = free_port()
        web_env = _env(
            pooled_url, DATABASE_TRANSACTION_POOLING="true", DEBUG="false", ALLOWED_HOSTS="127.0.0.1",
            HEMI_NETWORK="devnet", SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0",
            THROTTLE_ANON_RATE="100000000/min", WEB_WORKERS=str(WEB_WORKERS), WEB_THREADS=str(WEB_THREADS),
            STATIC_ROOT=str(REPO / "var" / "test-pgbouncer" / "static"),
        )  # fmt: skip
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=REPO, env=web_env,
                       check=True)  # fmt: skip
        log_path = REPO / "var" / "test-pgbouncer-web.log"
        with open(log_path, "wb") as log:
            web = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "hemiscope.wsgi", "--config", "python:hemiscope.gunicorn_conf",
                 "--bind", f"127.0.0.1:{port}"],
                cwd=REPO, env=web_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

        stack.callback(stop_group, web)
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(web, base, log_path, timeout=90)
        yield {
            "direct": direct, "pooled": pooled_url, "single": f"{pooled_head}/{single}",
            "admin": f"{pooled_head}/pgbouncer", "web": base,
        }  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def _pgbouncer_stats(admin_url: str, database: str) -> dict:
    """PgBouncer's counters for ``database`` and how many server connections it has open. The
    admin console speaks the simple query protocol only, hence libpq's plain exec."""

    def show(conn, what: str) -> list[dict]:
        res = conn.pgconn.exec_(f"SHOW {what}".encode())
        names = [res.fname(i).decode() for i in range(res.nfields)]
        return [
            {names[i]: (res.get_value(r, i) or b"").decode() for i in range(res.nfields)} for r in range(res.ntuples)
        ]

    with psycopg.connect(admin_url, autocommit=True) as conn:
        stats = next(row for row in show(conn, "STATS") if row["database"] == database)
        servers = [row for row in show(conn, "SERVERS") if row["database"] == database]
    return {"total_xact_count": int(stats["total_xact_count"]), "servers": len(servers)}


def _comparable(status: int, body: str, path: str) -> object:
    """What must be equal on both connections: an API's JSON (absolute next-page URLs reduced to
    their path), a page's links (its text also holds times relative to now)."""
    if path.startswith("/api/") or path.startswith("/esplora/") or body[:1] in "[{":
        with contextlib.suppress(ValueError):
            return status, json.loads(re.sub(r"https?://[^/\"]+", "", body))
        return status, body
    # Static files are hashed names under production settings only.
    return status, sorted(link for link in re.findall(r'href="([^"]+)"', body) if not link.startswith("/static/"))


@pytest.mark.django_db
def test_pages_and_api_answer_through_pgbouncer_as_they_do_direct(pooled):
    reference = _run(REFERENCE, _env(pooled["direct"]))
    mix = [tuple(item) for item in reference["mix"]]
    assert len(mix) > 60 and any("deep" in name for name, _ in mix)
    before = _pgbouncer_stats(pooled["admin"], pooled["direct"].rsplit("/", 1)[1])

    def fetch(item):
        name, path = item
        r = requests.get(pooled["web"] + path, timeout=60, allow_redirects=False)
        return name, path, r.status_code, r.text

    # Twice over and 8 at a time: more clients than PgBouncer has server connections.
    with ThreadPoolExecutor(WEB_WORKERS * WEB_THREADS) as pool:
        answers = list(pool.map(fetch, mix * 2))
    after = _pgbouncer_stats(pooled["admin"], pooled["direct"].rsplit("/", 1)[1])

    differ = {}
    for name, path, status, body in answers:
        want_status, want_body = reference["answers"][name]
        if "status" in name:  # also shows worker readings from Redis, with their age: the status alone
            body = want_body = ""
        if _comparable(status, body, path) != _comparable(want_status, want_body, path):
            differ[name] = (status, want_status, body[:300])
    assert not differ
    assert {status for _, _, status, _ in answers} <= {200, 302}
    # The reads went through PgBouncer, on at most POOL_SIZE server connections.
    assert after["total_xact_count"] - before["total_xact_count"] >= len(answers)
    assert 0 < after["servers"] <= POOL_SIZE


def _walk(base: str, path: str, pages: int) -> list[dict]:
    out, url = [], base + path
    for _ in range(pages):
        body = requests.get(url, timeout=60).json()
        out.append({"items": body["items"], "next_page_params": body["next_page_params"]})
        if not body["next"]:
            break
        url = base + re.sub(r"https?://[^/]+", "", body["next"])
    return out


@pytest.mark.django_db
def test_keyset_lists_walk_through_pgbouncer(pooled):
    """Eight pages of blocks and of the busiest address's transactions, walked by their cursors
    through the pool while other clients read: each page continues exactly where the last ended."""
    with psycopg.connect(pooled["direct"]) as conn:
        top = conn.execute("SELECT max(number) FROM hemi_block WHERE canonical").fetchone()[0]
        (sender,) = conn.execute(
            "SELECT sender FROM hemi_transaction GROUP BY sender ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
        hashes = [
            "0x" + bytes(h).hex()
            for (h,) in conn.execute(
                'SELECT hash FROM hemi_transaction WHERE sender = %s OR "to" = %s ORDER BY id DESC', [sender, sender]
            )
        ]
    with ThreadPoolExecutor(4) as pool:
        noise = [pool.submit(requests.get, pooled["web"] + "/api/v1/tokens", timeout=60) for _ in range(16)]
        blocks = _walk(pooled["web"], "/api/v1/blocks", 8)
        txs = _walk(pooled["web"], f"/api/v1/addresses/0x{bytes(sender).hex()}/transactions", 8)
        assert all(f.result().status_code == 200 for f in noise)
    numbers = [b["height"] for page in blocks for b in page["items"]]
    assert len(blocks) == 8 and len(blocks[0]["items"]) > 1
    assert numbers == list(range(top, top - len(numbers), -1))  # newest first, none skipped or repeated
    walked = [t["hash"] for page in txs for t in page["items"]]
    assert len(txs) == 8 and len(walked) > 8
    assert walked == hashes[: len(walked)]


@pytest.mark.django_db
def test_a_writer_is_direct_its_locks_work_and_pgbouncer_refused(pooled):
    # Direct: the session lock is held (another direct process is turned away), the writer lock
    # and the prepared statements work.
    holder = subprocess.Popen(
        [sys.executable, "-c", WRITER], cwd=REPO, env=_env(pooled["direct"]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert json.loads(holder.stdout.readline()) == {"holding": True}
        contender = _run(WRITER.replace("sys.stdin.readline()", "pass"), _env(pooled["direct"]))
        assert contender["session_lock"] is False
        assert contender["blocks"] > 0
        holder.stdin.write("\n")
        holder.stdin.flush()
        held = json.loads(holder.stdout.readline())
    finally:
        holder.wait(timeout=60)
    assert held["session_lock"] is True and held["blocks"] == contender["blocks"]

    # Through PgBouncer: refused before anything is taken, so no lock is left on a pooled server
    # connection for other clients to inherit.
    refused = _run(WRITER, _env(pooled["pooled"]))
    assert "needs a direct connection" in refused["refused"]
    with psycopg.connect(pooled["direct"]) as conn:
        leaked = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()[0]
    assert leaked == 0


@pytest.mark.django_db
def test_what_the_refusal_prevents(pooled):
    """On one pooled server connection two clients both get the same session lock, and the
    second client's first prepared statement collides with the first client's."""
    one = pooled["single"]
    with psycopg.connect(one, autocommit=True) as a, psycopg.connect(one, autocommit=True) as b:
        assert a.info.backend_pid != a.execute("SELECT pg_backend_pid()").fetchone()[0]  # what the guard reads
        assert a.execute("SELECT pg_try_advisory_lock(7)").fetchone()[0] is True
        assert b.execute("SELECT pg_try_advisory_lock(7)").fetchone()[0] is True  # mutual exclusion gone
        assert a.execute("SELECT pg_advisory_unlock(7), pg_advisory_unlock(7)").fetchone() == (True, True)
        a.execute("SELECT 1 + %s", [1], prepare=True)
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            b.execute("SELECT 2 + %s", [1], prepare=True)
    with psycopg.connect(pooled["direct"], autocommit=True) as conn:
        assert conn.info.backend_pid == conn.execute("SELECT pg_backend_pid()").fetchone()[0]
