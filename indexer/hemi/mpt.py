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

from indexer.hashing import keccak256
from indexer.hemi.rlpfast import EMPTY_STRING, encode_int, encode_string, wrap_list

EMPTY_TRIE_ROOT = keccak256(EMPTY_STRING)  # 0x56e81f17…b421


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
#
# Nodes are built bottom-up straight into their RLP bytes: a key is its hex string (one
# character per nibble, and hex digits sort like nibbles), a child is referenced by its own
# encoding when that is shorter than 32 bytes (an RLP list, so it embeds as an item as is) and
# by ``0xa0 || keccak256`` otherwise. No node objects: the roots of every block's
# transactions and receipts tries are computed on the ingest path.

_HASH_REF = b"\xa0"  # RLP prefix of a 32-byte string


def _ref(encoded: bytes) -> bytes:
    return encoded if len(encoded) < 32 else _HASH_REF + keccak256(encoded)


def _hex_prefix(path: str, is_leaf: bool) -> bytes:
    """``hex_prefix_encode`` of a hex-string path, already RLP-encoded as a string item."""
    if len(path) % 2:
        return encode_string(bytes.fromhex(("3" if is_leaf else "1") + path))
    return encode_string(bytes.fromhex(("20" if is_leaf else "00") + path))


def _encode_node(items: Sequence[tuple[str, bytes]], depth: int, target: str | None, proof: list[bytes]) -> bytes:
    """RLP of the sub-trie of ``items`` (sorted, unique, all sharing ``key[:depth]``).

    ``target`` is the key being proven when that key lies in this sub-trie: every node on its
    path that its parent references by hash is appended to ``proof`` (deepest first).
    """
    if len(items) == 1:
        key, value = items[0]
        encoded = wrap_list(_hex_prefix(key[depth:], True) + encode_string(value))
    else:
        first, last = items[0][0], items[-1][0]  # sorted: the shared prefix of all is theirs
        shared, limit = 0, min(len(first), len(last)) - depth
        while shared < limit and first[depth + shared] == last[depth + shared]:
            shared += 1
        if shared:
            child = _encode_node(items, depth + shared, target, proof)
            encoded = wrap_list(_hex_prefix(first[depth : depth + shared], False) + _ref(child))
        else:
            encoded = _encode_branch(items, depth, target, proof)
    if target is not None and len(encoded) >= 32:
        proof.append(encoded)
    return encoded


def _encode_branch(items: Sequence[tuple[str, bytes]], depth: int, target: str | None, proof: list[bytes]) -> bytes:
    slots = [EMPTY_STRING] * 16
    value = EMPTY_STRING
    i, n = 0, len(items)
    if len(items[0][0]) == depth:  # a key ending here stores its value in the branch
        value = encode_string(items[0][1])
        i = 1
    while i < n:
        nibble = items[i][0][depth]
        j = i + 1
        while j < n and items[j][0][depth] == nibble:
            j += 1
        on_path = target is not None and len(target) > depth and target[depth] == nibble
        slots[int(nibble, 16)] = _ref(_encode_node(items[i:j], depth + 1, target if on_path else None, proof))
        i = j
    return wrap_list(b"".join(slots) + value)


def _prepare(items: Mapping[bytes, bytes]) -> list[tuple[str, bytes]]:
    for key, value in items.items():
        if not value:
            # go-ethereum treats an empty value as deletion; a trie cannot hold one.
            raise ValueError(f"empty value for key 0x{key.hex()} cannot be stored in a trie")
    return sorted((k.hex(), v) for k, v in items.items())


def trie_root(items: Mapping[bytes, bytes]) -> bytes:
    prepared = _prepare(items)
    if not prepared:
        return EMPTY_TRIE_ROOT
    return keccak256(_encode_node(prepared, 0, None, []))


def trie_proof(items: Mapping[bytes, bytes], key: bytes) -> list[bytes]:
    """Inclusion proof for ``key``: hashed nodes from the root down, root first.

    1. Build the whole trie, telling the builder which key is proven.
    2. Every node on the key's path that its parent references by hash is collected as it is
       built (deepest first); inline nodes travel inside their parent's encoding.
    3. The root always belongs to the proof, even when shorter than 32 bytes; reverse.
    """
    if key not in items:
        raise KeyError(f"key 0x{key.hex()} is not in the trie")
    proof: list[bytes] = []
    root = _encode_node(_prepare(items), 0, key.hex(), proof)
    if len(root) < 32:
        proof.append(root)
    return proof[::-1]


# rlp(i) as a hex key for i = 0, 1, 2, ... (grown on demand, shared by every block).
_INDEX_KEYS: list[str] = []


def _index_keys(n: int) -> list[str]:
    if len(_INDEX_KEYS) < n:
        _INDEX_KEYS.extend(encode_int(i).hex() for i in range(len(_INDEX_KEYS), n))
    return _INDEX_KEYS


def ordered_items(values: Sequence[bytes]) -> dict[bytes, bytes]:
    """Key = rlp(index), the layout of transactionsRoot / receiptsRoot / withdrawalsRoot."""
    return {encode_int(i): v for i, v in enumerate(values)}


def ordered_trie_root(values: Sequence[bytes]) -> bytes:
    """``trie_root(ordered_items(values))`` without the mapping (one root per block and trie)."""
    if not values:
        return EMPTY_TRIE_ROOT
    keys = _index_keys(len(values))
    for i, value in enumerate(values):
        if not value:
            raise ValueError(f"empty value for key 0x{keys[i]} cannot be stored in a trie")
    if 2 <= len(values) <= _SMALL_ORDERED_MAX:
        return _small_ordered_root(values)
    prepared = sorted(zip(keys[: len(values)], values, strict=True))
    return keccak256(_encode_node(prepared, 0, None, []))


# Up to 128 items every key rlp(i) is one byte: 0x80 for item 0, the byte i itself for 1..127.
_SMALL_ORDERED_MAX = 128
_EMPTY_LEAF_PATH = b"\x20"  # hex-prefix of an empty leaf path (an even, zero-length path)
_ONE_NIBBLE_LEAF_PATH = tuple(bytes((0x30 | nibble,)) for nibble in range(16))  # odd leaf paths


def _small_ordered_root(values: Sequence[bytes]) -> bytes:
    """The root of an ordered trie of 2..128 items, built by its fixed shape (the ingest's case).

    With one-byte keys the shape is known: the root is a branch on the key's high nibble.
    Item 0 (key 0x80) sits alone under nibble 8 as a leaf with path "0". Under nibble h, items
    16h..16h+15 (item 0 excluded) form a leaf with the low nibble as its path when only one is
    present, and a branch on the low nibble over empty-path leaves otherwise. Same bytes as
    ``_encode_node`` (tests compare the two for every size), without sorting, slicing and
    recursing per item. Hex-prefix bytes are below 0x80, so each is its own RLP encoding.
    """
    n = len(values)
    slots = [EMPTY_STRING] * 16
    slots[8] = _ref(wrap_list(_ONE_NIBBLE_LEAF_PATH[0] + encode_string(values[0])))
    for high in range(((n - 1) >> 4) + 1):
        first = high << 4 or 1
        last = min(n - 1, high << 4 | 15)
        if first == last:
            slots[high] = _ref(wrap_list(_ONE_NIBBLE_LEAF_PATH[first & 15] + encode_string(values[first])))
            continue
        children = [EMPTY_STRING] * 16
        for i in range(first, last + 1):
            children[i & 15] = _ref(wrap_list(_EMPTY_LEAF_PATH + encode_string(values[i])))
        slots[high] = _ref(wrap_list(b"".join(children) + EMPTY_STRING))
    return keccak256(wrap_list(b"".join(slots) + EMPTY_STRING))


def ordered_trie_proof(values: Sequence[bytes], index: int) -> list[bytes]:
    if not 0 <= index < len(values):
        raise IndexError(f"index {index} outside 0..{len(values) - 1}")
    return trie_proof(ordered_items(values), encode_int(index))


# --------------------------------------------------------------------------- verification


def _decode_node(encoded: bytes) -> list:
    # pyrlp (with eth_utils behind it) is imported here, not at module level: fetch worker
    # processes build tries but never decode proofs, and the import costs ~0.2 s per worker.
    import rlp
    from rlp.exceptions import DecodingError

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
    return verify_proof(root, encode_int(index), proof)
