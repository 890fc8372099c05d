"""Merkle-Patricia trie roots and proofs.

Independent references: the empty-trie root and the classic "doe/dog/dogglesworth" root
(Ethereum wiki / ethereum/tests), and py-trie's ``HexaryTrie`` (a separate, incremental
implementation) for seeded random tries, including inline (< 32 byte) nodes, extension nodes
and values stored in branch nodes. Real-chain roots are covered in test_header_hash.py.
"""

from __future__ import annotations

import random

import pytest
import rlp
from trie import HexaryTrie

from indexer.hashing import keccak256
from indexer.hemi.mpt import (
    EMPTY_TRIE_ROOT,
    ProofError,
    hex_prefix_decode,
    hex_prefix_encode,
    ordered_trie_proof,
    ordered_trie_root,
    trie_proof,
    trie_root,
    verify_ordered_proof,
    verify_proof,
)


def reference_root(items: dict[bytes, bytes]) -> bytes:
    t = HexaryTrie({})
    for k, v in items.items():
        t[k] = v
    return t.root_hash


def random_value(rng: random.Random) -> bytes:
    # Mix tiny values (inline leaves) with long ones (hashed leaves).
    return rng.randbytes(rng.choice([1, 2, 5, 20, 31, 32, 33, 100]))


def test_empty_trie_root_is_the_well_known_constant():
    assert EMPTY_TRIE_ROOT.hex() == "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
    assert trie_root({}) == EMPTY_TRIE_ROOT
    assert ordered_trie_root([]) == EMPTY_TRIE_ROOT


@pytest.mark.parametrize(
    ("nibbles", "is_leaf", "encoded"),
    [
        ([1, 2, 3, 4, 5], False, "112345"),
        ([0, 1, 2, 3, 4, 5], False, "00012345"),
        ([0, 15, 1, 12, 11, 8], True, "200f1cb8"),
        ([15, 1, 12, 11, 8], True, "3f1cb8"),
        ([], True, "20"),
    ],
)
def test_hex_prefix_vectors(nibbles, is_leaf, encoded):
    assert hex_prefix_encode(nibbles, is_leaf).hex() == encoded
    assert hex_prefix_decode(bytes.fromhex(encoded)) == (tuple(nibbles), is_leaf)


@pytest.mark.parametrize("bad", ["", "4f", "0112"])
def test_hex_prefix_decode_rejects_bad_flags_and_padding(bad):
    with pytest.raises(ProofError):
        hex_prefix_decode(bytes.fromhex(bad))


def test_classic_dog_trie_root():
    items = {b"doe": b"reindeer", b"dog": b"puppy", b"dogglesworth": b"cat"}
    assert trie_root(items).hex() == "8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3"


def test_single_short_item_root_is_still_hashed():
    # The lone leaf encodes to < 32 bytes; the root is keccak of it anyway.
    items = {rlp.encode(0): b"\x01"}
    root_node = rlp.encode([hex_prefix_encode((8, 0), True), b"\x01"])
    assert len(root_node) < 32
    assert trie_root(items) == keccak256(root_node) == reference_root(items)


@pytest.mark.parametrize("size", [1, 2, 3, 15, 16, 17, 127, 128, 129, 300])
def test_ordered_roots_match_py_trie(size):
    rng = random.Random(size)
    values = [random_value(rng) for _ in range(size)]
    items = {rlp.encode(i): v for i, v in enumerate(values)}
    assert ordered_trie_root(values) == reference_root(items)


def test_fixed_shape_ordered_root_equals_the_general_builder_at_every_size():
    # ordered_trie_root builds tries of 2..128 items by their known shape; trie_root takes the
    # general path (sort, shared prefixes, recursion). Every size up to and past the switch,
    # with values short enough to be inlined and long enough to be hashed.
    from indexer.hemi.mpt import ordered_items

    rng = random.Random(2718)
    for size in range(1, 140):
        for _ in range(2):
            values = [random_value(rng) for _ in range(size)]
            assert ordered_trie_root(values) == trie_root(ordered_items(values)), size


@pytest.mark.parametrize("seed", range(8))
def test_arbitrary_keys_including_prefixes_match_py_trie(seed):
    rng = random.Random(1000 + seed)
    keys = {rng.randbytes(rng.randint(1, 4)) for _ in range(40)}
    # Force keys that are prefixes of other keys: their values sit in branch nodes.
    keys |= {k[:1] for k in list(keys)[:5]}
    items = {k: random_value(rng) for k in keys}
    root = trie_root(items)
    assert root == reference_root(items)
    for key, value in items.items():
        proof = trie_proof(items, key)
        assert verify_proof(root, key, proof) == value
        # py-trie accepts our proof nodes too.
        assert HexaryTrie.get_from_proof(root, key, [rlp.decode(n) for n in proof]) == value


@pytest.mark.parametrize("index", [0, 1, 7, 127, 128, 199])
def test_ordered_proof_round_trip_and_agrees_with_py_trie(index):
    rng = random.Random(7)
    values = [random_value(rng) for _ in range(200)]
    root = ordered_trie_root(values)
    proof = ordered_trie_proof(values, index)
    assert verify_ordered_proof(root, index, proof) == values[index]
    reference = HexaryTrie({})
    for i, v in enumerate(values):
        reference[rlp.encode(i)] = v
    # py-trie also lists inline (< 32 byte) nodes; go-ethereum's proof set, like ours, only
    # carries nodes referenced by hash (plus the root).
    encoded = [rlp.encode(n) for n in reference.get_proof(rlp.encode(index))]
    assert [e for i, e in enumerate(encoded) if i == 0 or len(e) >= 32] == proof


def _proof_fixture():
    rng = random.Random(42)
    values = [random_value(rng) + b"x" * 40 for _ in range(50)]  # all leaves hashed
    return values, ordered_trie_root(values), ordered_trie_proof(values, 20)


def test_proof_with_a_flipped_byte_is_rejected():
    _, root, proof = _proof_fixture()
    bad = list(proof)
    bad[-1] = bad[-1][:-1] + bytes([bad[-1][-1] ^ 1])
    with pytest.raises(ProofError, match="does not hash"):
        verify_ordered_proof(root, 20, bad)


def test_truncated_proof_is_rejected():
    _, root, proof = _proof_fixture()
    with pytest.raises(ProofError, match="ends early"):
        verify_ordered_proof(root, 20, proof[:-1])


def test_proof_with_an_extra_node_is_rejected():
    values, root, proof = _proof_fixture()
    extra = ordered_trie_proof(values, 21)[-1]
    with pytest.raises(ProofError, match="unused"):
        verify_ordered_proof(root, 20, [*proof, extra])


def test_proof_against_the_wrong_root_is_rejected():
    _, _, proof = _proof_fixture()
    with pytest.raises(ProofError):
        verify_ordered_proof(b"\x00" * 32, 20, proof)


def test_absent_key_cannot_be_proven_with_a_neighbours_proof():
    values, root, _ = _proof_fixture()
    # rlp(48) = 0x30 and rlp(60) = 0x3c share the branch under nibble 3, whose slot c is empty.
    proof = ordered_trie_proof(values, 48)
    with pytest.raises(ProofError, match="not in the trie"):
        verify_ordered_proof(root, 60, proof)


def test_key_whose_path_leaves_the_proof_is_rejected():
    _, root, proof = _proof_fixture()
    with pytest.raises(ProofError, match="does not hash"):
        verify_ordered_proof(root, 40, proof)


def test_garbage_proof_node_is_rejected():
    node = b"\xc3\x80\x80"  # a 2-item list whose path is empty
    with pytest.raises(ProofError):
        verify_proof(keccak256(node), b"\x01", [node])
    junk = b"\x85abc"
    with pytest.raises(ProofError, match="not valid RLP"):
        verify_proof(keccak256(junk), b"\x01", [junk])


def test_empty_values_cannot_be_stored():
    with pytest.raises(ValueError, match="empty value"):
        trie_root({b"\x01": b""})
