"""The ingest's garbage-collector thresholds are applied while ingesting and restored after."""

from __future__ import annotations

import gc

import pytest

from indexer import gctuning


def test_thresholds_apply_inside_and_are_restored_even_on_error() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with gctuning.ingest_thresholds():
            assert gc.get_threshold() == gctuning.INGEST_GC_THRESHOLDS
        assert gc.get_threshold() == (700, 10, 10)
        with pytest.raises(RuntimeError), gctuning.ingest_thresholds():
            raise RuntimeError("writer failed")
        assert gc.get_threshold() == (700, 10, 10)
        assert gc.isenabled()  # fewer passes, never none: cycles are still collected
    finally:
        gc.set_threshold(*saved)
