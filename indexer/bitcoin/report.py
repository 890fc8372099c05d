"""A JSON-ready summary of one raw Bitcoin block: PoP publications and tunnel deposits (pure).

Backs the ``btc_decode_block`` management command; kept free of Django so it is testable and
usable from scripts. Hashes and txids are display-order hex without 0x; EVM values (state
roots, hash prefixes) are in their natural order, also without 0x; the miner's Hemi address is
an EVM address and therefore carries 0x.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from indexer.bitcoin.decode import decode_block
from indexer.bitcoin.pop import PopOutput, scan_block
from indexer.bitcoin.tunnel import TunnelDeposit, find_deposit
from indexer.keystone import KeystoneAbrev

_HEX_TEXT = re.compile(rb"[0-9a-fA-F]+")
_WHITESPACE = re.compile(rb"\s+")


class BlockInputError(ValueError):
    """The input is neither raw block bytes nor hex text of them."""


def read_block_bytes(data: bytes) -> bytes:
    """Raw block bytes from a file's content: hex text (any whitespace allowed) or raw bytes.

    A serialized block always contains non-hex bytes (its 80-byte header alone almost surely
    does), so "only hex digits and whitespace" is an unambiguous test for the text form.
    """
    text = _WHITESPACE.sub(b"", data)
    if not text:
        raise BlockInputError("input is empty")
    if _HEX_TEXT.fullmatch(text):
        if len(text) % 2:
            raise BlockInputError(f"hex text has an odd number of digits ({len(text)})")
        return bytes.fromhex(text.decode("ascii"))
    return data


def _pop_entry(pop: PopOutput) -> dict[str, Any]:
    keystone = pop.keystone
    if isinstance(keystone, KeystoneAbrev):
        l1_block_number: int | None = keystone.l1_block_number
        l2_block_number = keystone.l2_block_number
    else:  # legacy 73-byte header: a single block number, which is the L2 one
        l1_block_number = None
        l2_block_number = keystone.block_number
    return {
        "txid": pop.txid_display,
        "vout": pop.vout,
        "keystone_id": pop.keystone_id_display,
        "format": pop.format,
        "l1_block_number": l1_block_number,
        "l2_block_number": l2_block_number,
        "parent_ep_hash_prefix": keystone.parent_ep_hash_prefix.hex(),
        "prev_keystone_ep_hash_prefix": keystone.prev_keystone_ep_hash_prefix.hex(),
        "state_root": keystone.state_root.hex(),
        "ep_hash_prefix": keystone.ep_hash_prefix.hex(),
        "miner_pubkey": pop.miner_pubkey.hex() if pop.miner_pubkey is not None else None,
        "miner_hemi_address": pop.miner_hemi_address,
    }


def _deposit_entry(deposit: TunnelDeposit) -> dict[str, Any]:
    return {
        "txid": deposit.txid_display,
        "vout": deposit.vout,
        "vault": deposit.vault,
        "value_sats": deposit.value_sats,
        "recipient": deposit.recipient,
        "recipient_format": deposit.recipient_format,
        "recipient_vout": deposit.recipient_vout,
    }


def block_report(raw: bytes, vault_scripts: Mapping[bytes, str] | None = None) -> dict[str, Any]:
    """Decode ``raw`` (merkle root checked) and list its PoP outputs and tunnel deposits.

    Deposits are only looked for when ``vault_scripts`` (custody scriptPubKey -> vault id) is
    given: without the vaults' scripts no output can be recognised as a deposit.
    Raises ``BitcoinDecodeError`` for malformed blocks.
    """
    block = decode_block(raw)
    pops = scan_block(block).outputs
    deposits: list[dict[str, Any]] = []
    if vault_scripts:
        for tx in block.txs:
            deposit = find_deposit(tx, vault_scripts)
            if deposit is not None:
                deposits.append(_deposit_entry(deposit))
    return {
        "hash": block.hash_display,
        "tx_count": block.tx_count,
        "pop": [_pop_entry(p) for p in pops],
        "deposits": deposits,
    }
