"""Merkle trees over txids and the BIP141 witness commitment (pure, no Django).

All hashes are in internal order (raw dsha256 digests), like the txids they are built from.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Sequence
from typing import Any, Protocol

from indexer.hashing import dsha256


class _Block(Protocol):
    """What ``witness_commitment_ok`` reads of a ``decode.Block`` (named structurally, because
    ``decode`` imports this module for the merkle root and must not be imported back)."""

    @property
    def txs(self) -> Sequence[Any]: ...

_sha256 = hashlib.sha256


def merkle_root_with_mutation(txids_internal: Sequence[bytes]) -> tuple[bytes, bool]:
    """Bitcoin's merkle root (odd levels duplicate their last hash) plus Core's mutation flag:
    two equal siblings anywhere mean another tx list hashes to the same root (CVE-2012-2459)."""
    if not txids_internal:
        raise ValueError("merkle root of an empty list is undefined")
    level = list(txids_internal)
    mutated = False
    sha = _sha256
    while len(level) > 1:
        if not mutated and any(map(operator.eq, level[0::2], level[1::2])):
            mutated = True
        if len(level) & 1:
            level.append(level[-1])
        joined = b"".join(level)
        level = [sha(sha(joined[i : i + 64]).digest()).digest() for i in range(0, len(joined), 64)]
    return level[0], mutated


def merkle_root(txids_internal: Sequence[bytes]) -> bytes:
    """Merkle root (internal order) of internal-order txids."""
    return merkle_root_with_mutation(txids_internal)[0]


def merkle_branch(txids_internal: Sequence[bytes], index: int) -> list[bytes]:
    """Sibling hashes from leaf ``index`` up to (excluding) the root, internal order."""
    if not 0 <= index < len(txids_internal):
        raise IndexError(f"tx index {index} out of range for {len(txids_internal)} txids")
    level = list(txids_internal)
    branch: list[bytes] = []
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        branch.append(level[index ^ 1])
        level = [dsha256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        index >>= 1
    return branch


def verify_merkle_branch(leaf: bytes, branch: Sequence[bytes], index: int, root: bytes) -> bool:
    """Fold ``branch`` into ``leaf``; bit k of ``index`` says whether level k's node is a right
    child (sibling on the left). An index with bits beyond the branch length is rejected."""
    if index < 0 or index >> len(branch):
        return False
    node = leaf
    for sibling in branch:
        node = dsha256(sibling + node) if index & 1 else dsha256(node + sibling)
        index >>= 1
    return node == root


_WITNESS_COMMITMENT_PREFIX = bytes.fromhex("6a24aa21a9ed")


def witness_commitment_ok(block: _Block) -> bool | None:
    """BIP141 check of the coinbase's witness commitment.

    Returns None when the block carries no witness data and no commitment (nothing to check),
    True when the commitment matches, False otherwise. Not part of ``decode_block`` because it
    costs a second merkle tree and indexers rarely need it.

    1. The commitment is the *last* coinbase output whose script starts with 6a24aa21a9ed.
    2. The coinbase's witness must be a single 32-byte item (the "witness reserved value").
    3. Witness root = merkle root of wtxids with the coinbase's replaced by 32 zero bytes.
    4. Commitment = dsha256(witness root || reserved value).
    """
    txs = block.txs
    coinbase = txs[0]
    commitment = None
    for out in coinbase.outputs:
        if len(out.script_pubkey) >= 38 and out.script_pubkey[:6] == _WITNESS_COMMITMENT_PREFIX:
            commitment = out.script_pubkey[6:38]
    if commitment is None:
        return None if not any(tx.has_witness for tx in txs) else False
    reserved = coinbase.inputs[0].witness
    if len(reserved) != 1 or len(reserved[0]) != 32:
        return False
    wtxids = [b"\x00" * 32] + [tx.wtxid_internal for tx in txs[1:]]
    return dsha256(merkle_root(wtxids) + reserved[0]) == commitment
