"""One error vocabulary for both chains: retry the transient, stop on the permanent.

Every failure an indexer meets is one of two kinds, and callers decide on the kind alone:

* :class:`TransientError` - the same request may succeed later (timeout, refused connection,
  HTTP 5xx/429, a rate limit, a node still warming up, a busy writer lock). Retried with
  backoff (``retry.py``), then by the Celery task or the work item, later.
* :class:`PermanentError` - retrying cannot help (bad credentials, a malformed or oversized
  reply, an unknown block, a contract that says something else than we indexed). Never
  retried in a loop; it reaches the log, the task result or the work item's ``last_error``.

Chain packages subclass these for named cases (``BlockNotFound``, ``CallReverted``...).
"""

from __future__ import annotations


class IndexerError(Exception):
    """Anything an indexer reports about a source, a reply or a write it could not finish.

    ``retry_after`` (seconds) is set when the server said how long to wait (HTTP Retry-After).
    """

    retry_after: float | None = None


class TransientError(IndexerError):
    """Worth trying again later: the server or the database may answer next time."""


class PermanentError(IndexerError):
    """Retrying cannot help: the request or the reply is wrong, not the moment."""


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientError)
