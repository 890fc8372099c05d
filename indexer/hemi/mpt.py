"""Ethereum Merkle-Patricia trie: root, inclusion proof and proof verification (pure).

Only what an explorer needs to prove a transaction or receipt against a block header:
tries are built in one pass from a complete key/value set (no incremental updates, no
deletion), which is exactly the shape of ``transactionsRoot``/``receiptsRoot`` where the key of
item ``i`` is ``rlp(i)``.

Node shapes (Yellow Paper appendix D):

* leaf      ``[hex_prefix(path, leaf=True), value]``
* extension ``[hex_prefix(path, leaf=False), child_ref]``
* branch    ``[ref_0 … ref_15, value]``

A child reference is the child's RLP itself when that encoding is shorter than 32 bytes
("inline" node) and ``keccak256`` of it otherwise. The root is always hashed, even if short.
A proof is the list of RLP-encoded nodes referenced by hash on the way from the root to the
key, root first (the same set go-ethereum's ``trie.Prove`` emits).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import rlp
from rlp.exceptions import DecodingError

from indexer.hashing import keccak256

EMPTY_TRIE_ROOT = keccak256(rlp.encode(b""))  # 0x56e81f17…b421


class ProofError(ValueError):
    """A proof that does not connect the key to the root (or proves absence)."""


# --------------------------------------------------------------------------- hex-prefix


def bytes_to_nibbles(data: bytes) -> tuple[int, ...]:
    return tuple(n for byte in data for n in (byte >> 4, byte & 0x0F))


def hex_prefix_encode(nibbles: Sequence[int], is_leaf: bool) -> bytes:
    """Compact encoding: flag nibble (2 = leaf, +1 = odd length), padded to whole bytes."""
    flag = 2 if is_leaf else 0
    if len(nibbles) % 2:
        padded = [flag + 1, *nibbles]
    else:
        padded = [flag, 0, *nibbles]
    return bytes(padded[i] << 4 | padded[i + 1] for i in range(0, len(padded), 2))


def hex_prefix_decode(data: bytes) -> tuple[tuple[int, ...], bool]:
    if not data:
        raise ProofError("empty hex-prefix path")
    nibbles = bytes_to_nibbles(data)
    flag = nibbles[0]
    if flag > 3:
        raise ProofError(f"invalid hex-prefix flag {flag}")
    if flag % 2 == 0 and nibbles[1] != 0:
        raise ProofError("even hex-prefix path with non-zero padding nibble")
    path = nibbles[1:] if flag % 2 else nibbles[2:]
    return path, flag >= 2


# --------------------------------------------------------------------------- building


@dataclass(slots=True)
class _Node:
    """A built node: its RLP structure and, lazily, the encoding."""

    structure: list
    children: dict[int, _Node]  # nibble (0-15) for branches, 0 for an extension's child
    kind: str  # "leaf" | "ext" | "branch"
    path: tuple[int, ...] = ()
    _encoded: bytes | None = None

    @property
    def encoded(self) -> bytes:
        if self._encoded is None:
            self._encoded = rlp.encode(self.structure)
        return self._encoded

    def ref(self) -> bytes | list:
        enc = self.encoded
        return self.structure if len(enc) < 32 else keccak256(enc)


def _common_prefix_len(keys: Sequence[tuple[int, ...]], depth: int) -> int:
    first = keys[0]
    n = len(first) - depth
    for key in keys[1:]:
        n = min(n, len(key) - depth)
        i = 0
        while i < n and key[depth + i] == first[depth + i]:
            i += 1
        n = i
    return n


def _build(items: Sequence[tuple[tuple[int, ...], bytes]], depth: int) -> _Node:
    """Build the sub-trie of ``items`` (sorted, unique, all sharing ``key[:depth]``)."""
    if len(items) == 1:
        key, value = items[0]
        path = key[depth:]
        return _Node([hex_prefix_encode(path, True), value], {}, "leaf", path)
    shared = _common_prefix_len([k for k, _ in items], depth)
    if shared:
        child = _build(items, depth + shared)
        path = items[0][0][depth : depth + shared]
        return _Node([hex_prefix_encode(path, False), child.ref()], {0: child}, "ext", path)
    slots: list = [b""] * 17
    children: dict[int, _Node] = {}
    start = 0
    if len(items[0][0]) == depth:  # a key ending here stores its value in the branch
        slots[16] = items[0][1]
        start = 1
    i = start
    while i < len(items):
        nibble = items[i][0][depth]
        j = i
        while j < len(items) and items[j][0][depth] == nibble:
            j += 1
        child = _build(items[i:j], depth + 1)
        children[nibble] = child
        slots[nibble] = child.ref()
        i = j
    return _Node(slots, children, "branch")


def _prepare(items: Mapping[bytes, bytes]) -> list[tuple[tuple[int, ...], bytes]]:
    for key, value in items.items():
        if not value:
            # go-ethereum treats an empty value as deletion; a trie cannot hold one.
            raise ValueError(f"empty value for key 0x{key.hex()} cannot be stored in a trie")
    return sorted((bytes_to_nibbles(k), v) for k, v in items.items())


def _root_node(items: Mapping[bytes, bytes]) -> _Node | None:
    prepared = _prepare(items)
    return _build(prepared, 0) if prepared else None


def trie_root(items: Mapping[bytes, bytes]) -> bytes:
    root = _root_node(items)
    return EMPTY_TRIE_ROOT if root is None else keccak256(root.encoded)


def trie_proof(items: Mapping[bytes, bytes], key: bytes) -> list[bytes]:
    """Inclusion proof for ``key``: hashed nodes from the root down, root first.

    1. Build the whole trie.
    2. Walk from the root along the key's nibbles.
    3. Emit every node on the way that its parent references by hash (the root always);
       inline nodes travel inside their parent's encoding.
    """
    if key not in items:
        raise KeyError(f"key 0x{key.hex()} is not in the trie")
    node = _root_node(items)
    assert node is not None
    nibbles = bytes_to_nibbles(key)
    proof = [node.encoded]
    depth = 0
    while node.kind != "leaf":
        if node.kind == "ext":
            depth += len(node.path)
            node = node.children[0]
        elif depth == len(nibbles):  # value sits in this branch
            break
        else:
            node = node.children[nibbles[depth]]
            depth += 1
        if len(node.encoded) >= 32:
            proof.append(node.encoded)
    return proof


def ordered_items(values: Sequence[bytes]) -> dict[bytes, bytes]:
    """Key = rlp(index), the layout of transactionsRoot / receiptsRoot / withdrawalsRoot."""
    return {rlp.encode(i): v for i, v in enumerate(values)}


def ordered_trie_root(values: Sequence[bytes]) -> bytes:
    return trie_root(ordered_items(values))


def ordered_trie_proof(values: Sequence[bytes], index: int) -> list[bytes]:
    if not 0 <= index < len(values):
        raise IndexError(f"index {index} outside 0..{len(values) - 1}")
    return trie_proof(ordered_items(values), rlp.encode(index))


# --------------------------------------------------------------------------- verification


def _decode_node(encoded: bytes) -> list:
    try:
        node = rlp.decode(encoded, strict=True)
    except DecodingError as exc:
        raise ProofError(f"proof node is not valid RLP: {exc}") from exc
    if not isinstance(node, list):
        raise ProofError("proof node is not an RLP list")
    return node


def verify_proof(root: bytes, key: bytes, proof: Sequence[bytes]) -> bytes:
    """Return the value stored under ``key`` in the trie with ``root``, or raise ProofError.

    1. The first proof node must hash to ``root``.
    2. Follow the key's nibbles through branch/extension/leaf nodes; a hash reference must
       be satisfied by the *next* proof node, an inline reference is decoded in place.
    3. The walk must end at a leaf (or branch value) for exactly this key, and every proof
       node must have been used - extra nodes are rejected rather than ignored.
    """
    if len(root) != 32:
        raise ProofError("root must be 32 bytes")
    nibbles = bytes_to_nibbles(key)
    depth = 0
    used = 0
    ref: bytes | list = root
    while True:
        if isinstance(ref, list):
            node = ref
        elif len(ref) == 32:
            if used >= len(proof):
                raise ProofError(f"proof ends early: node 0x{ref.hex()} missing")
            if keccak256(proof[used]) != ref:
                raise ProofError(f"proof node {used} does not hash to 0x{ref.hex()}")
            node = _decode_node(proof[used])
            used += 1
        elif ref == b"":
            raise ProofError("key is not in the trie (empty reference)")
        else:
            raise ProofError(f"invalid child reference of {len(ref)} bytes")

        if len(node) == 17:
            if depth == len(nibbles):
                value = node[16]
                if not isinstance(value, bytes) or not value:
                    raise ProofError("key is not in the trie (empty branch value)")
                break
            ref = node[nibbles[depth]]
            depth += 1
            continue
        if len(node) != 2 or not isinstance(node[0], bytes):
            raise ProofError(f"malformed trie node with {len(node)} items")
        path, is_leaf = hex_prefix_decode(node[0])
        if tuple(nibbles[depth : depth + len(path)]) != path:
            raise ProofError("key is not in the trie (path diverges)")
        depth += len(path)
        if is_leaf:
            if depth != len(nibbles):
                raise ProofError("key is not in the trie (leaf for a longer key)")
            value = node[1]
            if not isinstance(value, bytes):
                raise ProofError("leaf value is not an RLP string")
            break
        ref = node[1]
    if used != len(proof):
        raise ProofError(f"{len(proof) - used} unused node(s) in proof")
    return value


def verify_ordered_proof(root: bytes, index: int, proof: Sequence[bytes]) -> bytes:
    return verify_proof(root, rlp.encode(index), proof)
