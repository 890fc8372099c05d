"""keccak256 (indexer.hashing, safe-pysha3's C type) agrees with eth_hash everywhere.

Random inputs of every length around the 136-byte rate, hashed from several threads at once,
and the types eth_hash accepts or refuses treated the same.
"""

from __future__ import annotations

import os
import threading

import pytest
from eth_hash.auto import keccak as eth_hash_keccak
from hypothesis import given
from hypothesis import strategies as st

from indexer.hashing import keccak256
from tests.fuzzing import FUZZ


def test_is_keccak_not_sha3():
    # hashlib.sha3_256 pads with 0x06; Ethereum's Keccak-256 with 0x01. Same length, other bytes.
    import hashlib

    assert keccak256(b"") != hashlib.sha3_256(b"").digest()


@pytest.mark.fuzz
@FUZZ
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
    assert keccak256(memoryview(b"abc")) == eth_hash_keccak(b"abc")
    with pytest.raises(TypeError):
        keccak256("abc")  # type: ignore[arg-type]
