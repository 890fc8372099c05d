"""Property tests for the bottom-up trie builder against py-trie's incremental ``HexaryTrie``.

test_mpt.py covers vectors and seeded tries; here hypothesis picks the shapes: ordered lists of
any length (keys rlp(0..n-1), as in transactionsRoot/receiptsRoot) with short (inline) and long
(hashed) values, and arbitrary key sets where keys are prefixes of each other (values in branch
nodes, extension nodes). Every proof the builder emits must verify and match py-trie's root.
"""

from __future__ import annotations

import rlp
from hypothesis import HealthCheck, given, settings
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
from tests.hemi.test_mpt import reference_root

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

values = st.binary(min_size=1, max_size=40) | st.binary(min_size=30, max_size=200)


@FAST
@given(st.lists(values, max_size=300))
def test_ordered_root_matches_py_trie(vals):
    expected = reference_root({rlp.encode(i): v for i, v in enumerate(vals)}) if vals else EMPTY_TRIE_ROOT
    assert ordered_trie_root(vals) == expected
    assert trie_root(ordered_items(vals)) == expected


@FAST
@given(st.lists(values, min_size=1, max_size=200), st.data())
def test_ordered_proof_verifies(vals, data):
    index = data.draw(st.integers(0, len(vals) - 1))
    root = ordered_trie_root(vals)
    assert verify_ordered_proof(root, index, ordered_trie_proof(vals, index)) == vals[index]


@FAST
@given(st.dictionaries(st.binary(max_size=4), values, min_size=1, max_size=40), st.data())
def test_arbitrary_keys_match_py_trie_and_prove(items, data):
    root = trie_root(items)
    assert root == reference_root(items)
    key = data.draw(st.sampled_from(sorted(items)))
    assert verify_proof(root, key, trie_proof(items, key)) == items[key]
