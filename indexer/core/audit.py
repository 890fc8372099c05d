"""Set-based integrity checks: one SQL statement per check, each answering ``(count, sample)``.

Shared by ``manage.py hemi_check`` and ``manage.py btc_check``. A check is a single statement so
it reads one snapshot: rows a writer commits meanwhile are seen with their parents or not at
all. Every statement returns exactly one row - how many rows are wrong and the first few of
them (ids or heights) - so an empty result list means the check found nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from django.db import connection

SAMPLE_SIZE = 5


@dataclasses.dataclass(frozen=True)
class Check:
    name: str  # stable: "bitcoin-gap", "hemi-linkage", ...
    sql: str  # SELECT count, array of sample values (already cut to SAMPLE_SIZE)
    problem: str  # what each counted row is: "height(s) below the cursor with no active block"
    params: Sequence[object] = ()


@dataclasses.dataclass(frozen=True)
class Finding:
    check: str
    count: int
    sample: tuple
    problem: str

    def __str__(self) -> str:
        return f"{self.check}: {self.count} {self.problem} (e.g. {', '.join(str(s) for s in self.sample)})"


def sample_of(expression: str) -> str:
    """``count(*), first SAMPLE_SIZE values of expression`` - the two columns every check returns."""
    return f"count(*), (array_agg({expression} ORDER BY {expression}))[1:{SAMPLE_SIZE}]"


def q(name: str) -> str:
    return connection.ops.quote_name(name)


def run(checks: Iterable[Check]) -> list[Finding]:
    found = []
    with connection.cursor() as cur:
        for check in checks:
            cur.execute(check.sql, list(check.params))
            count, sample = cur.fetchone()
            if count:
                found.append(Finding(check.name, count, tuple(sample or ()), check.problem))
    return found
