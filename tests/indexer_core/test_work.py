"""The durable work table: idempotent records, compare-and-set claims, leases, retries."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from indexer.core import work
from indexer.core.errors import PermanentError, TransientError
from indexer.models import WorkItem

pytestmark = pytest.mark.django_db(transaction=True)


def test_recording_the_same_work_twice_is_a_no_op_and_rearm_only_revives_finished_items() -> None:
    with transaction.atomic():
        work.add([work.Work("t.kind", "a", {"n": 1}), work.Work("t.kind", "a", {"n": 2})])
    work.add([work.Work("t.kind", "a", {"n": 3})])
    item = WorkItem.objects.get()
    assert (item.state, item.payload) == (WorkItem.PENDING, {"n": 1})
    work.add([work.Work("t.kind", "a", {"n": 4})], rearm=True)  # still pending: untouched
    assert WorkItem.objects.get().payload == {"n": 1}
    claimed = work.claim(["t.kind"])
    assert work.complete(claimed)
    work.add([work.Work("t.kind", "a", {"n": 5})], rearm=True)
    item = WorkItem.objects.get()
    assert (item.state, item.payload, item.attempts) == (WorkItem.PENDING, {"n": 5}, 0)


def test_work_recorded_in_a_rolled_back_transaction_does_not_exist() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        work.add([work.Work("t.kind", "a")])
        raise RuntimeError("the rows that made the work were not written")
    assert not WorkItem.objects.exists()


def test_two_workers_claiming_at_once_get_each_item_once() -> None:
    work.add([work.Work("t.kind", str(n)) for n in range(20)])
    claimed: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def worker(slot: int) -> None:
        try:
            start.wait()
            while (item := work.claim(["t.kind"])) is not None:
                claimed[slot].append(item.id)
                assert work.complete(item)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    every = claimed[0] + claimed[1]
    assert sorted(every) == sorted(set(every)) and len(every) == 20
    assert WorkItem.objects.filter(state=WorkItem.DONE).count() == 20


def test_a_killed_workers_claim_runs_out_and_only_the_new_owner_may_finish() -> None:
    work.add([work.Work("t.kind", "a")])
    dead = work.claim(["t.kind"], lease_s=0.3)  # this worker "dies": never completes
    assert dead is not None and work.claim(["t.kind"]) is None  # leased: nobody else takes it
    time.sleep(0.5)
    taker = work.claim(["t.kind"])
    assert taker is not None and taker.id == dead.id and taker.attempts == 2
    assert not work.complete(dead)  # the old claim's token no longer matches
    assert not work.save_progress(dead, {"x": 1})
    assert work.complete(taker)
    assert WorkItem.objects.get().state == WorkItem.DONE


def test_a_transient_failure_backs_off_and_a_permanent_one_waits_for_an_operator() -> None:
    work.add([work.Work("t.kind", "a"), work.Work("t.kind", "b")])
    first = work.claim(["t.kind"])
    assert work.release(first, TransientError("node timed out"))
    item = WorkItem.objects.get(id=first.id)
    assert item.state == WorkItem.PENDING and "node timed out" in item.last_error and item.attempts == 1
    assert item.next_attempt_at > item.updated_at  # not due again at once
    second = work.claim(["t.kind"])
    assert second.id != first.id  # the backing-off item is not due
    assert work.release(second, PermanentError("custody address does not parse"))
    assert WorkItem.objects.get(id=second.id).state == WorkItem.FAILED
    assert work.claim(["t.kind"]) is None


def test_drain_runs_handlers_continues_chunked_work_and_survives_a_crashing_one() -> None:
    work.add([work.Work("t.chunks", "c", {"left": 3}), work.Work("t.crash", "x"), work.Work("t.ok", "y")])
    seen = []

    def chunks(item: work.Claimed) -> work.Continue | None:
        seen.append(item.payload["left"])
        left = item.payload["left"] - 1
        return work.Continue({"left": left}) if left else None

    def crash(item: work.Claimed) -> None:
        raise KeyError("a bug")

    result = work.drain({"t.chunks": chunks, "t.crash": crash, "t.ok": lambda item: None})
    assert seen == [3, 2, 1]
    assert (result.done, result.continued, result.failed) == (2, 2, 1)
    states = dict(WorkItem.objects.values_list("kind", "state"))
    assert states == {"t.chunks": "done", "t.crash": "failed", "t.ok": "done"}
    assert "handler crashed: KeyError" in WorkItem.objects.get(kind="t.crash").last_error


def test_retry_failed_rearms_only_failed_items_keeping_their_progress() -> None:
    """Issue 12 leftover: a permanently failed item had no way back but SQL by hand."""
    work.add([work.Work("k", "failed", {"from_height": 40}), work.Work("k", "pending"), work.Work("other", "failed")])
    calls: list[str] = []

    def refuse(item: work.Claimed) -> None:
        calls.append(item.key)
        if item.key == "failed":
            raise PermanentError("bad credentials")

    work.drain({"k": refuse}, kinds=["k"])
    work.drain({"other": lambda item: (_ for _ in ()).throw(PermanentError("nope"))}, kinds=["other"])
    assert set(work.failed_items().values_list("kind", "key")) == {("k", "failed"), ("other", "failed")}
    assert work.drain({"k": refuse}, kinds=["k"]).handled == 0  # failed items wait for an operator

    assert work.retry_failed(["k"]) == 1
    item = WorkItem.objects.get(kind="k", key="failed")
    assert (item.state, item.attempts, item.payload) == (WorkItem.PENDING, 0, {"from_height": 40})
    assert WorkItem.objects.get(kind="other").state == WorkItem.FAILED  # other kinds untouched
    assert work.drain({"k": lambda item: None}, kinds=["k"]).done == 1
    assert WorkItem.objects.get(kind="k", key="failed").state == WorkItem.DONE
    assert work.retry_failed() == 1 and work.retry_failed() == 0
