"""The durable work table under a dropped database connection: a handler whose connection is
terminated mid-write is a transient failure (retried), never a "handler crashed" permanent
one that would wait for an operator and leave its mints reading pending (failed ...)."""

from __future__ import annotations

import pytest
from django.db import transaction

from indexer.core import work
from indexer.models import WorkItem

from .checks import own_backend_pid, terminate_backend

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_a_connection_dropped_inside_a_handler_is_retried_not_failed() -> None:
    work.add([work.Work("t.faults", "a")])
    runs = []

    def handler(item):
        runs.append(item.id)
        if len(runs) == 1:
            with transaction.atomic():  # the handler's own short write transaction
                WorkItem.objects.filter(pk=item.id).update(payload={"half": "written"})
                terminate_backend(own_backend_pid())
                WorkItem.objects.filter(pk=item.id).update(payload={"never": "committed"})

    result = work.drain({"t.faults": handler})
    assert (result.retrying, result.failed) == (1, 0), vars(result)
    item = WorkItem.objects.get()
    assert item.state == WorkItem.PENDING and item.attempts == 1
    assert "database connection was lost" in item.last_error
    assert item.payload == {}  # the handler's transaction went whole or not at all

    WorkItem.objects.filter(pk=item.id).update(next_attempt_at=item.created_at)  # due now
    assert work.drain({"t.faults": handler}).done == 1
    assert WorkItem.objects.get().state == WorkItem.DONE
