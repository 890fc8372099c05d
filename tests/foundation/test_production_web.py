"""The web process started the Procfile way with production settings (DEBUG off): it collects
its static files itself and serves them, and idle or slow clients cannot stall it."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.webserver import stop_group, wait_until_serving

REPO = Path(__file__).resolve().parents[2]
# The server reads the test database (its schema only): the mark makes pytest-django create it.
pytestmark = pytest.mark.django_db
# gunicorn's worker timeout: a blocked sync worker is killed (and the request answered) only then.
WORKER_TIMEOUT_S = 30


def procfile_command(name: str) -> str:
    for line in (REPO / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} process in the Procfile")


@pytest.fixture(scope="module")
def production_web(django_db_setup, django_db_blocker, tmp_path_factory):
    from hemiscope.services import free_port
    from tests.conftest import _test_database_url

    with django_db_blocker.unblock():
        database_url = _test_database_url()
    port = free_port()
    static_root = tmp_path_factory.mktemp("staticfiles")
    env = dict(
        os.environ,
        PY=sys.executable,
        WEB_PORT=str(port),
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY="test-only-" + "s" * 40,
        ALLOWED_HOSTS="127.0.0.1",
        HEMI_NETWORK="testnet",
        SECURE_SSL_REDIRECT="false",
        STATIC_ROOT=str(static_root),
    )
    log_path = REPO / "var" / "test-production-web.log"
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["sh", "-c", procfile_command("web")], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # The Procfile path runs collectstatic first: ~20 s on a quiet machine, over 2 min on a
        # loaded 2-core one. The bound only catches a web that never comes up.
        wait_until_serving(proc, base, log_path, timeout=300)
        yield base, static_root
    finally:
        stop_group(proc)


def test_with_debug_off_the_procfile_web_collects_and_serves_static_files(production_web):
    base, static_root = production_web
    assert (static_root / "staticfiles.json").exists()  # the manifest collectstatic wrote
    page = requests.get(f"{base}/", timeout=30)
    assert page.status_code == 200, page.text[:500]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    css = [link for link in links if re.search(r"/static/css/hemiscope\.[0-9a-f]{12}\.css$", link)]
    js = [link for link in links if re.search(r"/static/django_htmx/htmx-2\.min\.[0-9a-f]{12}\.js$", link)]
    assert css and js, links  # hashed (manifest) names: the production storage is in use
    for link in css + js:
        response = requests.get(base + link, timeout=30)
        assert response.status_code == 200, link
        assert "immutable" in response.headers.get("Cache-Control", "")
    assert b"--hemi" in requests.get(base + css[0], timeout=30).content


def _slow_drip(sock: socket.socket, stop: threading.Event) -> None:
    with contextlib.suppress(OSError):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        while not stop.wait(0.5):
            sock.sendall(b"a")


def test_idle_and_slow_clients_cannot_stall_healthz(production_web):
    """Idle sockets (browsers open spare ones) and slow-drip clients, more of each than the
    demo used to have workers; /healthz must still answer before a worker timeout could fire."""
    base, _ = production_web
    port = int(base.rsplit(":", 1)[1])
    stop = threading.Event()
    sockets, drippers = [], []
    try:
        for i in range(12):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sockets.append(sock)
            if i % 2:
                thread = threading.Thread(target=_slow_drip, args=(sock, stop), daemon=True)
                thread.start()
                drippers.append(thread)
        time.sleep(1)  # let the server accept them all
        started = time.monotonic()
        response = requests.get(f"{base}/healthz", timeout=WORKER_TIMEOUT_S + 15)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        for sock in sockets:
            sock.close()
    assert response.status_code in (200, 503)
    assert elapsed < WORKER_TIMEOUT_S - 5, f"/healthz took {elapsed:.1f} s behind idle/slow clients"
