"""Property tests for the bottom-up trie builder against py-trie's incremental ``HexaryTrie``.

test_mpt.py covers vectors and seeded tries; here hypothesis picks the shapes: ordered lists of
any length (keys rlp(0..n-1), as in transactionsRoot/receiptsRoot) with short (inline) and long
(hashed) values, and arbitrary key sets where keys are prefixes of each other (values in branch
nodes, extension nodes). Every proof the builder emits must verify and match py-trie's root.
"""

from __future__ import annotations

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from indexer.hemi.mpt import (
    EMPTY_TRIE_ROOT,
    ordered_items,
    ordered_trie_proof,
    ordered_trie_root,
    trie_proof,
    trie_root,
    verify_ordered_proof,
    verify_proof,
)
from tests.fuzzing import FUZZ, ByteSource
from tests.hemi.test_mpt import reference_root

FUZZ_BYTES = st.binary(min_size=64, max_size=4096)


def value_list(data: bytes, min_size: int) -> list[bytes]:
    """Short (inline) and long (hashed) values; one list in 32 is long (past the 0x80 and
    0x100 key-length boundaries of rlp(i)), the rest stay short so a fuzz run reaches its case
    count in bounded time. Read from fuzzed bytes: far cheaper to generate than nested draws."""
    src = ByteSource(data)
    n = 120 + src.below(181) if src.below(32) == 0 else min_size + src.below(33 - min_size)
    return [src.blob(40, 1) if src.flag() else src.blob(200, 30) for _ in range(n)]


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_ordered_root_matches_py_trie(data):
    vals = value_list(data, 0)
    expected = reference_root({rlp.encode(i): v for i, v in enumerate(vals)}) if vals else EMPTY_TRIE_ROOT
    assert ordered_trie_root(vals) == expected
    assert trie_root(ordered_items(vals)) == expected


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_ordered_proof_verifies(data):
    vals = value_list(data, 1)
    index = ByteSource(data[::-1]).below(len(vals))
    root = ordered_trie_root(vals)
    assert verify_ordered_proof(root, index, ordered_trie_proof(vals, index)) == vals[index]


@pytest.mark.fuzz
@FUZZ
@given(FUZZ_BYTES)
def test_arbitrary_keys_match_py_trie_and_prove(data):
    # Keys of 0..4 bytes: many are prefixes of others (values in branch nodes, extensions).
    src = ByteSource(data)
    items = {src.blob(4): src.blob(40, 1) if src.flag() else src.blob(200, 30) for _ in range(1 + src.below(40))}
    root = trie_root(items)
    assert root == reference_root(items)
    key = sorted(items)[src.below(len(items))]
    assert verify_proof(root, key, trie_proof(items, key)) == items[key]
