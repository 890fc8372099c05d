"""Durable follow-up work: recorded with the rows that create it, claimed by compare-and-set.

Why a table and not only Celery messages: a message lost to a broker restart, a flushed Redis,
or simply no worker running, used to mean work never done - a vault's Bitcoin rescan that never
ran turned a backed mint into "unbacked". Now:

1. The writer that creates work (a new vault, a new token, a registration needing a rescan)
   calls :func:`add` inside its own transaction: the work exists exactly when its cause does.
   ``(kind, key)`` is unique, so recording it again is a no-op (``rearm=True`` makes a
   finished item pending again - for work that must be redone when its inputs change).
2. After commit the writer may :func:`nudge` Celery; the message carries nothing and may be
   lost. Draining - the beat-driven follow loop, ``manage.py sync``, or the nudged task - runs
   :func:`drain` with the handlers for each kind (``indexer.crosschain.handlers``).
3. :func:`claim` takes one due item with ``FOR UPDATE SKIP LOCKED`` and marks it running with a
   fresh claim token and a lease; an item whose lease ran out (its worker was killed) is due
   again. Every later write (:func:`save_progress`, :func:`complete`, :func:`release`) is a
   compare-and-set on that token, so a worker that lost its lease can no longer write.
4. Failures: a transient error puts the item back with ``attempts`` counted, ``last_error``
   and a backed-off ``next_attempt_at``; a permanent one marks it failed for an operator
   (verdicts that depend on it stay "pending" and name it). Once the cause is fixed (a
   node's credentials, a URL), :func:`retry_failed` - ``manage.py sync --retry-failed`` -
   makes failed items pending again.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from indexer.core.dbconn import connection_loss_is_transient
from indexer.core.errors import PermanentError, TransientError
from indexer.core.retry import WORK_RETRY
from indexer.models import WorkItem

log = logging.getLogger(__name__)

# How long a claim is good for. A handler that runs longer saves progress, which renews it.
LEASE_SECONDS = 300
# The Celery task every nudge sends (by name: the core does not import the handlers' package).
DRAIN_TASK = "indexer.crosschain.tasks.drain_work"
OPEN_STATES = (WorkItem.PENDING, WorkItem.RUNNING)
UNFINISHED_STATES = (WorkItem.PENDING, WorkItem.RUNNING, WorkItem.FAILED)

_T = WorkItem._meta.db_table


@dataclass(frozen=True)
class Work:
    """Work to record: what to do (``kind``), to what (``key``), with what (``payload``)."""

    kind: str
    key: str
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Claimed:
    """An item this worker holds until its lease ends; ``token`` proves the claim."""

    id: int
    kind: str
    key: str
    payload: dict
    attempts: int  # including this one
    token: str


@dataclass(frozen=True)
class Continue:
    """A handler's answer "done for now, more to do": save ``payload`` and run again soon."""

    payload: dict


Handler = Callable[[Claimed], "Continue | None"]


_ADD_SQL = (
    f"INSERT INTO {_T} (kind, key, payload, state, attempts, last_error, next_attempt_at, claim_token,"  # noqa: S608
    " created_at, updated_at)"
    " SELECT k, key, p::jsonb, 'pending', 0, '', now(), '', now(), now()"
    " FROM unnest(%s::text[], %s::text[], %s::text[]) AS t(k, key, p)"
    " ON CONFLICT (kind, key) DO "
)
_REARM = (
    f"UPDATE SET state = 'pending', payload = EXCLUDED.payload, attempts = 0, last_error = '',"
    f" next_attempt_at = now(), updated_at = now() WHERE {_T}.state IN ('done', 'failed')"
)


def add(items: Iterable[Work], *, rearm: bool = False) -> None:
    """Record work in the caller's transaction. Existing ``(kind, key)`` rows stay as they are,
    unless ``rearm``: then a done or failed one becomes pending again with the new payload."""
    unique: dict[tuple[str, str], Work] = {}
    for w in items:  # ON CONFLICT may not hit a row twice; the first record wins, as in the table
        unique.setdefault((w.kind, w.key), w)
    items = list(unique.values())
    if not items:
        return
    sql = _ADD_SQL + (_REARM if rearm else "NOTHING")
    with connection.cursor() as cur:
        cur.execute(
            sql,
            [[w.kind for w in items], [w.key for w in items], [json.dumps(w.payload, sort_keys=True) for w in items]],
        )


_CLAIM_SQL = (
    f"UPDATE {_T} SET state = 'running', attempts = attempts + 1, claim_token = %s,"  # noqa: S608
    " lease_until = now() + make_interval(secs => %s), updated_at = now()"
    f" WHERE id = (SELECT id FROM {_T}"
    "   WHERE kind = ANY(%s) AND next_attempt_at <= now()"
    "     AND (state = 'pending' OR (state = 'running' AND lease_until < now()))"
    "   ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " AND (state = 'pending' OR (state = 'running' AND lease_until < now()))"
    " RETURNING id, kind, key, payload, attempts"
)


def claim(kinds: Sequence[str], *, lease_s: float = LEASE_SECONDS) -> Claimed | None:
    """Take the most overdue item of ``kinds`` (pending, or running with an expired lease), or
    None. Its own short transaction: the row lock lasts only while it is marked running."""
    token = uuid.uuid4().hex
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_CLAIM_SQL, [token, float(lease_s), list(kinds)])
        row = cur.fetchone()
    if row is None:
        return None
    payload = row[3] if isinstance(row[3], dict) else json.loads(row[3])
    return Claimed(id=row[0], kind=row[1], key=row[2], payload=payload, attempts=row[4], token=token)


def _cas(item: Claimed, assignments: str, params: list[Any]) -> bool:
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {_T} SET {assignments}, updated_at = now()"  # noqa: S608 - constant SQL pieces
            " WHERE id = %s AND state = 'running' AND claim_token = %s",
            [*params, item.id, item.token],
        )
        return cur.rowcount == 1


def save_progress(item: Claimed, payload: dict, *, lease_s: float = LEASE_SECONDS) -> bool:
    """Store a long handler's progress and renew its lease; False if the claim was lost (the
    handler must then stop: another worker owns the item)."""
    return _cas(
        item, "payload = %s::jsonb, lease_until = now() + make_interval(secs => %s)", [json.dumps(payload), lease_s]
    )


def complete(item: Claimed) -> bool:
    return _cas(item, "state = 'done', done_at = now(), lease_until = NULL, last_error = ''", [])


def reschedule(item: Claimed, payload: dict) -> bool:
    """Back to pending, due now, with ``payload`` (a chunked handler's next step)."""
    return _cas(
        item,
        "state = 'pending', payload = %s::jsonb, next_attempt_at = now(), lease_until = NULL",
        [json.dumps(payload)],
    )


def release(item: Claimed, error: BaseException) -> bool:
    """Give the item back after ``error``: due again after a backoff if transient, else failed."""
    text = f"{type(error).__name__}: {error}"[:2000]
    if isinstance(error, TransientError):
        delay = WORK_RETRY.delay(item.attempts - 1, error.retry_after)
        return _cas(
            item,
            "state = 'pending', last_error = %s, lease_until = NULL,"
            " next_attempt_at = now() + make_interval(secs => %s)",
            [text, delay],
        )
    return _cas(item, "state = 'failed', last_error = %s, lease_until = NULL", [text])


@dataclass
class DrainResult:
    done: int = 0
    continued: int = 0
    retrying: int = 0
    failed: int = 0
    lost: int = 0  # claims another worker took over (lease ran out while we worked)

    @property
    def handled(self) -> int:
        return self.done + self.continued + self.retrying + self.failed + self.lost


def drain(
    handlers: Mapping[str, Handler],
    *,
    kinds: Sequence[str] | None = None,
    deadline: float | None = None,
    max_items: int | None = None,
) -> DrainResult:
    """Run due items of ``kinds`` (default: every kind with a handler) until none is due, the
    ``deadline`` (a ``time.monotonic()`` value) passes, or ``max_items`` were handled.

    Each item runs outside any transaction (handlers do RPC, then write in their own short
    transactions). An unexpected exception is a bug: it is logged with its traceback and the
    item marked failed, so one bad item cannot stop the others or loop forever.
    """
    wanted = list(kinds) if kinds is not None else list(handlers)
    result = DrainResult()
    while (max_items is None or result.handled < max_items) and (deadline is None or time.monotonic() < deadline):
        item = claim(wanted)
        if item is None:
            break
        try:
            # A lost database connection is transient like a node timeout: retried, never the
            # "handler crashed" permanent failure that waits for an operator.
            with connection_loss_is_transient():
                outcome = handlers[item.kind](item)
        except (TransientError, PermanentError) as exc:
            ok = release(item, exc)
            kind = "retrying" if isinstance(exc, TransientError) else "failed"
            log.warning(
                "work item not done",
                extra={
                    "kind": item.kind,
                    "key": item.key,
                    "attempts": item.attempts,
                    "outcome": kind,
                    "error": str(exc),
                },
            )
            if ok:
                setattr(result, kind, getattr(result, kind) + 1)
            else:
                result.lost += 1
            continue
        except Exception as exc:
            log.exception("work item handler crashed", extra={"kind": item.kind, "key": item.key})
            result.failed += release(item, PermanentError(f"handler crashed: {type(exc).__name__}: {exc}"))
            continue
        if isinstance(outcome, Continue):
            ok = reschedule(item, outcome.payload)
            result.continued += ok
        else:
            ok = complete(item)
            result.done += ok
        result.lost += not ok
    return result


# ----------------------------------------------------------------------------- reading


def unfinished(kind: str, key: str) -> WorkItem | None:
    """The item ``(kind, key)`` if it exists and is not done (pending, running or failed)."""
    return WorkItem.objects.filter(kind=kind, key=key, state__in=UNFINISHED_STATES).first()


def open_items(kinds: Sequence[str] | None = None):
    """Pending or running items (failed ones excluded: no drain will take them)."""
    qs = WorkItem.objects.filter(state__in=OPEN_STATES)
    return qs if kinds is None else qs.filter(kind__in=list(kinds))


def failed_items(kinds: Sequence[str] | None = None):
    qs = WorkItem.objects.filter(state=WorkItem.FAILED)
    return qs if kinds is None else qs.filter(kind__in=list(kinds))


def retry_failed(kinds: Sequence[str] | None = None) -> int:
    """Make failed items of ``kinds`` (default: all) pending again, due now, with a fresh
    attempt count; their payload (a rescan's progress) is kept, and their last error until
    the next attempt replaces it. Returns how many were re-armed."""
    from django.utils import timezone

    count = failed_items(kinds).update(
        state=WorkItem.PENDING, attempts=0, next_attempt_at=timezone.now(), updated_at=timezone.now()
    )
    if count:
        log.info("failed work items re-armed", extra={"items": count, "kinds": list(kinds) if kinds else "all"})
    return count


def nudge() -> None:
    """Ask a Celery worker to drain soon. Best effort by design: the work is in the table, and
    the beat-driven drain finds it anyway if this message is lost or the broker is down."""
    try:
        from celery import current_app

        current_app.send_task(DRAIN_TASK)
    except Exception as exc:
        log.warning("could not nudge the work drain (it runs on the beat anyway)", extra={"error": str(exc)})
