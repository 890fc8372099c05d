"""keccak256 through pycryptodome's C core (indexer.hashing) agrees with eth_hash everywhere.

The fast path keeps one C state per thread; these tests hash random inputs of every length
around the 136-byte rate from several threads at once, and check the types eth_hash accepts or
refuses are treated the same.
"""

from __future__ import annotations

import os
import threading

import pytest
from eth_hash.auto import keccak as eth_hash_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.hashing import keccak256


def test_the_fast_path_is_in_use():
    # Falling back silently would only cost speed; the benchmark depends on it, so say so.
    assert keccak256 is not eth_hash_keccak


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_matches_eth_hash(data):
    assert keccak256(data) == eth_hash_keccak(data)


def test_known_vectors():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


def test_threads_do_not_share_state():
    errors: list[bytes] = []

    def work(seed: int) -> None:
        for n in range(300):
            data = os.urandom((seed * 37 + n) % 700)
            if keccak256(data) != eth_hash_keccak(data):
                errors.append(data)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_other_types_behave_like_eth_hash():
    assert keccak256(bytearray(b"abc")) == eth_hash_keccak(b"abc")
    with pytest.raises(TypeError):
        keccak256("abc")  # type: ignore[arg-type]
