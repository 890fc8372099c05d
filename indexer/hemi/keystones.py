"""Rebuild the full L2Keystone of a Hemi keystone block from chain data (pure).

A keystone (spec §2.2) needs, for keystone block ``k``:

* ``l2_block_number`` = k, ``ep_hash`` = k's hash, ``state_root`` = k's state root;
* ``parent_ep_hash`` = k's parentHash (no extra fetch: it is in k's header);
* ``l1_block_number`` = k's L1 origin, read from k's first transaction (the L1-info deposit);
* ``prev_ep_keystone_hash`` = hash of block k-25, or 32 zero bytes when there is none.

The k = 25 edge (previous keystone number would be 0, the genesis block): op-node's keystone
notifier - the code path that produced every keystone PoP miners actually published - only
fetches a previous keystone when ``k - 25 > 0`` and otherwise sends 32 zero bytes
(``engine_controller.go`` ``InsertUnsafePayload``: ``if prevKeystoneHeight > 0``). We follow
that: :func:`prev_keystone_number` returns None for k = 25 and the caller passes zero bytes.
Caveat recorded as an open point: op-node's finality helper (``bvm_api_helper.go``) uses
``>= 0`` and would put the *genesis* hash there, so its keystone 25 differs from the
published one; only keystone 25 of each chain is affected.
"""

from __future__ import annotations

from indexer.hemi.l1info import L1_BLOCK_PREDEPLOY, L1_INFO_DEPOSITOR, L1InfoDecodeError, decode_l1_info
from indexer.hemi.records import DEPOSIT_TX, HemiBlock
from indexer.keystone import KEYSTONE_PERIOD, ZERO_HASH, L2Keystone, is_keystone_number


class KeystoneBuildError(ValueError):
    """The block data cannot yield a keystone (not a keystone number, missing L1-info tx, …)."""


def prev_keystone_number(keystone_number: int) -> int | None:
    """Number of the previous keystone block, or None when the keystone has none (k = 25)."""
    if not is_keystone_number(keystone_number):
        raise KeystoneBuildError(f"{keystone_number} is not a keystone number")
    prev = keystone_number - KEYSTONE_PERIOD
    return prev if is_keystone_number(prev) else None


def l1_origin_of(block: HemiBlock) -> int:
    """The L1 origin block number of ``block``, decoded from its L1-info deposit (tx 0).

    Checks that tx 0 really is the L1-attributes deposit (type 0x7E, from the L1-info
    depositor, to the L1Block predeploy) before trusting its calldata.
    """
    if not block.transactions:
        raise KeystoneBuildError(
            f"block {block.number}: needs full transactions with the L1-info deposit first"
        )
    tx = block.transactions[0]
    if (
        tx.tx_type != DEPOSIT_TX
        or tx.from_address != L1_INFO_DEPOSITOR
        or tx.to_address != L1_BLOCK_PREDEPLOY
    ):
        raise KeystoneBuildError(f"block {block.number}: first transaction is not the L1-info deposit")
    try:
        return decode_l1_info(tx.input).number
    except L1InfoDecodeError as exc:
        raise KeystoneBuildError(f"block {block.number}: {exc}") from exc


def build_keystone(block: HemiBlock, prev_keystone_hash: bytes, l1_origin_number: int) -> L2Keystone:
    """The L2Keystone op-node would send for keystone ``block``.

    ``prev_keystone_hash`` is the hash of block ``number - 25`` (32 zero bytes when
    :func:`prev_keystone_number` is None). The caller is responsible for it being the
    *canonical* block at that height - this function cannot see other blocks.
    """
    if not is_keystone_number(block.number):
        raise KeystoneBuildError(f"block {block.number} is not a keystone (multiple of {KEYSTONE_PERIOD})")
    if len(prev_keystone_hash) != 32:
        raise KeystoneBuildError("prev_keystone_hash must be 32 bytes")
    if prev_keystone_number(block.number) is None and prev_keystone_hash != ZERO_HASH:
        raise KeystoneBuildError(f"keystone {block.number} has no previous keystone; expected zero hash")
    if not 0 <= l1_origin_number < 2**32:
        # The keystone stores uint32; op-node truncates silently, we refuse.
        raise KeystoneBuildError(f"L1 origin {l1_origin_number} does not fit in uint32")
    return L2Keystone(
        l1_block_number=l1_origin_number,
        l2_block_number=block.number,
        parent_ep_hash=block.parent_hash,
        prev_ep_keystone_hash=prev_keystone_hash,
        state_root=block.state_root,
        ep_hash=block.hash,
    )


def build_keystone_from_blocks(block: HemiBlock, prev_keystone_block: HemiBlock | None) -> L2Keystone:
    """Convenience: keystone from block k and block k-25 (None for k = 25)."""
    expected_prev = prev_keystone_number(block.number)
    if expected_prev is None:
        if prev_keystone_block is not None:
            raise KeystoneBuildError(f"keystone {block.number} has no previous keystone block")
        prev_hash = ZERO_HASH
    else:
        if prev_keystone_block is None or prev_keystone_block.number != expected_prev:
            raise KeystoneBuildError(f"keystone {block.number} needs block {expected_prev}")
        prev_hash = prev_keystone_block.hash
    return build_keystone(block, prev_hash, l1_origin_of(block))
