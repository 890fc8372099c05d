"""What every fault test asserts afterwards: both audits find nothing, run as an operator
would run them (``manage.py btc_check`` / ``hemi_check``, exit status included)."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command


def assert_bitcoin_whole() -> None:
    out, err = StringIO(), StringIO()
    call_command("btc_check", stdout=out, stderr=err)  # raises CommandError on a finding
    assert out.getvalue().startswith("bitcoin: ok") and err.getvalue() == "", err.getvalue()


def assert_hemi_whole() -> None:
    out, err = StringIO(), StringIO()
    call_command("hemi_check", stdout=out, stderr=err)
    assert "hemi chain: ok" in out.getvalue() and err.getvalue() == "", err.getvalue()


def terminate_backend(pid: int) -> None:
    """``pg_terminate_backend`` from another session: the server drops that connection at once,
    whatever it is doing (an operator's kill, a failover, an idle-session reaper)."""
    from django.db import connection

    other = connection.copy()
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cur.fetchone()[0], f"backend {pid} was not terminated"
    finally:
        other.close()


def own_backend_pid() -> int:
    from django.db import connection

    connection.ensure_connection()
    return connection.connection.info.backend_pid


def lose_redis() -> None:
    """Redis as a restart without persistence leaves it: every key gone and every client's
    connection cut (the embedded server itself keeps running). The test process's own pooled
    broker connections are cut too; they are closed here so the tests after this one start on
    fresh ones, as a restarted process would (a pooled connection killed under it fails its
    next control broadcast: the two-worker test's ping did). Celery does the same after a fork:
    kombu's pools are emptied and the app forgets its pool and producer pool."""
    import redis
    from django.conf import settings
    from kombu import pools

    from hemiscope.celery import app

    broker = redis.Redis.from_url(settings.REDIS_URL)
    try:
        broker.flushall()
        broker.client_kill_filter(_type="normal", skipme=True)  # every other client loses its connection
    finally:
        broker.close()
    pools.reset()  # closes every pooled connection and empties the pool groups
    app._after_fork()  # the app's cached pool and producer pool go; the next use makes new ones
