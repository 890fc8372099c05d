"""PoP publications on bcoin: the alt-keystone scenario and the miners' duplicate/delay plans."""

from __future__ import annotations

import pytest

from devnet.actors.popminer import PublicationPlan
from devnet.config import POP_MINER_KEYS
from devnet.scenarios import alt_keystone
from tests.devnet_scenarios.chain import Stepped, block_txids, raw_tx, rebuild_abrev, scripts

pytestmark = pytest.mark.integration


def test_alt_keystone_publishes_the_canonical_number_with_a_wrong_state_root(stepped: Stepped) -> None:
    summary = alt_keystone.run(stepped.net)
    number = summary["keystone_number"]
    canonical = rebuild_abrev(stepped, number)

    assert summary["pop_txid"] in block_txids(stepped.btc, summary["pop_block_hash"])
    [script] = [s for s in scripts(raw_tx(stepped.btc, summary["pop_txid"])) if s[:1] == b"\x6a"]
    assert script.hex() == summary["pop_script"] and len(script) == 83
    alt = script[7:]
    # same version, L1 origin, number, parent and previous-keystone prefixes and hash prefix...
    assert alt[:32] == canonical[:32] and alt[64:] == canonical[64:]
    # ...but not the state root of the canonical block
    assert alt[32:64] != canonical[32:64] == bytes.fromhex(stepped.block(number, False)["stateRoot"][2:])
    assert alt[32:64].hex() == summary["alt_state_root"]


def test_two_miners_publish_the_same_keystone_one_of_them_late(stepped: Stepped) -> None:
    miner = stepped.actors.pop_miner
    original = miner.planner
    miner.planner = lambda number: PublicationPlan(((0, 0), (1, 2)))
    try:
        tip = int(stepped.call("eth_blockNumber"), 16)
        number = tip + 25 - tip % 25
        ours = lambda: [p for p in miner.publications if p.number == number and p.txid_display]  # noqa: E731
        published = stepped.net.wait_for(
            lambda: len(ours()) == 2 and ours(), what="two publications", hemi_blocks=30, btc_blocks=6
        )
    finally:
        miner.planner = original

    first, late = sorted(published, key=lambda p: p.miner_index)
    assert first.keystone_id_display == late.keystone_id_display
    assert late.broadcast_height is not None and first.broadcast_height is not None
    assert late.broadcast_height >= first.broadcast_height + 2  # held back two Bitcoin blocks
    expected = rebuild_abrev(stepped, number)
    for pub, key in ((first, POP_MINER_KEYS[0]), (late, POP_MINER_KEYS[1])):
        tx = raw_tx(stepped.btc, pub.txid_display)
        assert bytes(tx.vin[0].scriptSig)[-33:] == key.pubkey  # two different miner identities
        assert scripts(tx)[1][7:] == expected
