"""alt-keystone: a PoP publication of a keystone that is not the canonical one.

It names a real keystone number with the canonical L1 origin, parent, previous keystone and
block hash prefixes, but a wrong state root - what a lying or buggy PoP miner would publish.
It goes out from a rogue miner key in the exact popmd shape, so only the contents differ.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from devnet.btctx import DUST_SATS
from devnet.config import ROGUE_POP_KEY
from devnet.handle import Network
from devnet.keystones import build_keystone_at, build_pop_tx, pop_script
from indexer.hashing import keccak256
from indexer.keystone import KEYSTONE_PERIOD

ROGUE_FUNDING_SATS = 2_000_000


def run(net: Network) -> dict[str, Any]:
    net.wait_for(
        lambda: int(net.w3.eth.block_number) >= KEYSTONE_PERIOD, what="a first keystone", hemi_blocks=KEYSTONE_PERIOD
    )
    tip = int(net.w3.eth.block_number)
    number = tip - tip % KEYSTONE_PERIOD
    canonical = build_keystone_at(net.w3, number)
    alt = dataclasses.replace(canonical, state_root=keccak256(b"hemiscope-devnet-alt-keystone" + canonical.state_root))
    wallet = net.wallet(ROGUE_POP_KEY)
    if not any(u.value_sats > 10 * DUST_SATS for u in wallet.spendable()):
        net.fund(ROGUE_POP_KEY, ROGUE_FUNDING_SATS)
    tx = build_pop_tx(wallet, alt, net.btc.getblockcount())
    txid = wallet.broadcast(tx)
    height, block_hash, _ = net.wait_btc_confirmations(txid, 1, "the alternative keystone publication")
    return {
        "scenario": "alt-keystone",
        "keystone_number": number,
        "canonical_keystone_id": canonical.abbreviate().id_display,
        "alt_keystone_id": alt.abbreviate().id_display,
        "canonical_state_root": canonical.state_root.hex(),
        "alt_state_root": alt.state_root.hex(),
        "pop_txid": txid,
        "pop_script": pop_script(alt).hex(),
        "pop_height": height,
        "pop_block_hash": block_hash,
        "miner_btc_address": ROGUE_POP_KEY.p2pkh_address,
        "miner_hemi_address": ROGUE_POP_KEY.evm_address,
    }
