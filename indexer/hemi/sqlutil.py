"""Small helpers for the Hemi writers' raw SQL (multi-row upserts the ORM cannot express).

The writer lock lives in ``chain.WRITER`` (``indexer.core.locks``).

Table names come from model ``_meta`` (constants, never user input), values always travel as
query parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def chunked(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
