"""Read replica routing: pages and API reads go to ``DATABASE_REPLICA_URL`` when it is set.

Only reads made while serving a GET or HEAD request are routed, and only when the request went
through :class:`ReplicaReadsMiddleware` (the web process). Everything else reads the primary:
the indexers and Celery workers must read what they have just written (cursor compare-and-set,
the writer lock, the rows of the transaction in progress), and a replica lags by a little. A
page may therefore be a moment behind the indexer - exactly as it would be had it been served
a moment earlier; the live-update stamp catches up at the next poll.

Writes always go to the primary; migrations run on the primary only (a streaming replica is a
byte copy of it and cannot be migrated). Inside ``transaction.atomic()`` on the primary (none
of the read views open one) Django keeps reads on the primary of the transaction anyway.
"""

from __future__ import annotations

import contextvars

REPLICA = "replica"
_serving_read = contextvars.ContextVar("hemiscope_serving_read", default=False)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        return REPLICA if _serving_read.get() else None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same rows on both: a replica is a copy of the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


class ReplicaReadsMiddleware:
    """Marks a GET/HEAD request's reads for the replica (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        token = _serving_read.set(True)
        try:
            return self.get_response(request)
        finally:
            _serving_read.reset(token)
