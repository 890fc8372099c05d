"""``CELERY_QUEUES_PER_CHAIN``: each chain's tasks and the work drain on queues of their own.

Read at start-up, so checked in a fresh process: with the setting on, a task lands on the queue
a per-queue worker (README: "Scaling past one machine") consumes; off, everything stays on the
default queue the Procfile's single worker consumes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TASKS = [
    "indexer.bitcoin.tasks.follow_tip",
    "indexer.bitcoin.tasks.backfill_range",
    "indexer.hemi.tasks.follow_tip",
    "indexer.hemi.tasks.backfill_range",
    "indexer.crosschain.tasks.drain_work",
    "hemiscope.heartbeat",
]
PROBE = f"""
import json, django
django.setup()
from hemiscope.celery import app
print(json.dumps({{t: app.amqp.router.route({{}}, t)["queue"].name for t in {TASKS!r}}}))
"""


def queues(setting: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CELERY_QUEUES_PER_CHAIN", None)
    if setting is not None:
        env["CELERY_QUEUES_PER_CHAIN"] = setting
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("setting", [None, "false"])
def test_one_default_queue_unless_asked(setting):
    assert set(queues(setting).values()) == {"celery"}


def test_a_queue_per_chain_and_one_for_the_work_drain():
    assert queues("true") == {
        "indexer.bitcoin.tasks.follow_tip": "bitcoin",
        "indexer.bitcoin.tasks.backfill_range": "bitcoin",
        "indexer.hemi.tasks.follow_tip": "hemi",
        "indexer.hemi.tasks.backfill_range": "hemi",
        "indexer.crosschain.tasks.drain_work": "work",
        "hemiscope.heartbeat": "celery",
    }
