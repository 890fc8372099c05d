"""Steps several scenarios share: a tunnel deposit, waiting for its mint, waiting for a
keystone publication that anchors a Hemi block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devnet.btckeys import DevKey
from devnet.btctx import TxOutput, deposit_recipient_script_ascii, deposit_recipient_script_binary
from devnet.constants import MIN_BITCOIN_CONFIRMATIONS
from devnet.handle import Network
from devnet.keystones import FoundPublication, PopWatcher, build_keystone_at
from indexer.keystone import KEYSTONE_PERIOD, KeystoneAbrev, keystone_number_for


@dataclass(frozen=True)
class Deposit:
    txid: str
    vout: int
    amount_sats: int
    recipient: str
    recipient_script: bytes
    vault_script: bytes
    hemi_block_at_send: int  # its mint can only be in a later block


def vault_script(net: Network) -> bytes:
    return bytes(net.contract("SimpleBitcoinVault").functions.custodyScript().call())


def deposit(net: Network, payer: DevKey, recipient: str, amount_sats: int, *, ascii_form: bool = True) -> Deposit:
    """Pay the vault with a recipient OP_RETURN (portal layout: vault output first)."""
    script = vault_script(net)
    recipient_script = (deposit_recipient_script_ascii if ascii_form else deposit_recipient_script_binary)(recipient)
    hemi_block = int(net.w3.eth.block_number)
    txid = net.pay(payer, [TxOutput(script, amount_sats), TxOutput(recipient_script, 0)])
    return Deposit(txid, 0, amount_sats, recipient, recipient_script, script, hemi_block)


def wait_mint(net: Network, lock: Deposit) -> dict[str, Any]:
    """The DepositConfirmed log once the operator has credited the deposit."""
    return net.wait_for(
        lambda: net.deposit_mint_log(lock.txid, from_block=lock.hemi_block_at_send),
        what=f"the tunnel operator to credit deposit {lock.txid}",
        hemi_blocks=10,
        btc_blocks=MIN_BITCOIN_CONFIRMATIONS + 3,
    )


class CanonicalKeystones:
    """Keystone ids of the current Hemi chain, rebuilt when a keystone block's hash changes."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self._cache: dict[int, tuple[str, str]] = {}  # number -> (block hash, keystone id)

    def id_at(self, number: int) -> str | None:
        block_hash = self.net.hemi_block_hash(number)
        if block_hash is None:
            return None
        cached = self._cache.get(number)
        if cached is None or cached[0] != block_hash:
            keystone = build_keystone_at(self.net.w3, number)
            cached = ("0x" + keystone.ep_hash.hex(), keystone.abbreviate().id_display)
            self._cache[number] = cached
        return cached[1] if cached[0] == block_hash else None


def wait_anchor(
    net: Network, hemi_block: int, *, confirmations: int, from_height: int, what: str
) -> tuple[FoundPublication, int]:
    """Wait until a canonical keystone >= keystone_number_for(hemi_block) is published on
    bcoin's active chain with ``confirmations``; returns (publication, confirmations).

    Confirmations are Hemi's *effective* confirmations, ``tip - publication height`` (the
    publication block itself counts 0), so ``confirmations=10`` means superfinal (spec 4.1).
    """
    first = keystone_number_for(hemi_block)
    watcher = PopWatcher(net.btc, from_height)
    canonical = CanonicalKeystones(net)

    def check() -> tuple[FoundPublication, int] | None:
        tip = net.btc.getblockcount()
        for pub in watcher.publications():
            keystone = pub.pop.keystone
            if not isinstance(keystone, KeystoneAbrev) or keystone.l2_block_number < first:
                continue
            depth = tip - pub.height
            if depth >= confirmations and canonical.id_at(keystone.l2_block_number) == pub.pop.keystone_id_display:
                return pub, depth
        return None

    hemi_tip = int(net.w3.eth.block_number)
    return net.wait_for(
        check, what=what, hemi_blocks=max(0, first - hemi_tip) + KEYSTONE_PERIOD, btc_blocks=confirmations + 7
    )
