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


class Refusal(PermanentError):
    """The indexer stops on purpose: going on would write something wrong (follow another
    chain, undo more history than an operator allowed, store a block it cannot verify).

    Nothing was written. The sync loop records it as a visible alert (``indexer.core.alerts``,
    shown on ``/healthz`` and the home page under ``code``); every later run checks again, so
    the alert clears by itself once the node (or the operator's settings) make the run pass.
    """

    code = "refused"


class WrongChain(Refusal):
    """The node is not on the chain this database indexes: another chain id or genesis, or
    its block at the first stored height is another block (a reset devnet, a wrong URL)."""

    code = "wrong-chain"


class ReorgTooDeep(Refusal):
    """A reorg would orphan more blocks than ``BITCOIN_MAX_REORG_DEPTH`` / ``HEMI_MAX_REORG_DEPTH``."""

    code = "reorg-too-deep"
