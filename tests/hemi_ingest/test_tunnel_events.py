"""Bitcoin-tunnel events from the devnet's BitcoinTunnelManager become exact rows.

Deployed from the devnet's own contracts (devnet/contracts, compiled by devnet.build): a
deposit mint (``operatorMintUnchecked`` - the devnet's stand-in for a Bitcoin-proven
``confirmDeposit``, same event), a withdrawal and its challenge after the grace period.
"""

from __future__ import annotations

import pytest

from devnet.btckeys import DevKey
from indexer.core import work
from indexer.crosschain import handlers
from indexer.crosschain.vaults import read_and_register
from indexer.hashing import keccak256
from indexer.hemi import ingest, sync
from indexer.hemi.chain import VAULT_CUSTODY
from indexer.hemi.models import (
    DepositConfirmation,
    Log,
    TokenBalance,
    Vault,
    WithdrawalChallenge,
    WithdrawalInitiation,
)

from .conftest import DevChain
from .test_hvm import REGTEST_GENESIS

pytestmark = pytest.mark.django_db
GRACE_SECONDS = 5
DEPOSIT_TXID_DISPLAY = "3b86ff14a739baf19a8cfa96c3e360757c9556564693794beaaa87bff88fe328"
CUSTODY = DevKey.from_label("tunnel-test-custody")
WITHDRAW_TO = DevKey.from_label("tunnel-test-withdrawer")


@pytest.fixture(scope="module")
def tunnel(chain: DevChain) -> dict:
    a = chain.accounts
    owner, operator, user = a[0], a[1], a[6]
    hvm_state = chain.deploy("HvmState", REGTEST_GENESIS, 0)
    manager_address = chain.deploy("BitcoinTunnelManager", hvm_state, GRACE_SECONDS, sender=owner)
    manager = chain.contract("BitcoinTunnelManager", manager_address)
    hemibtc = manager.functions.btcTokenContract().call()
    chain.mine([chain.call_tx(manager, "createVault", operator, CUSTODY.p2pkh_script, CUSTODY.p2pkh_address, 10, 20,
                              sender=owner, gas=12_000_000)])  # fmt: skip
    vault = manager.functions.vaults(0).call()
    chain.mine([chain.call_tx(manager, "operatorMintUnchecked", 0, bytes.fromhex(DEPOSIT_TXID_DISPLAY), user, 5_000_000,
                              sender=owner)])  # fmt: skip
    chain.mine([chain.call_tx(manager, "initiateWithdrawal", 0, WITHDRAW_TO.p2pkh_address, 2_000_000, sender=user)])
    withdraw_tx = chain.last_hashes[0]
    stamp = int(chain.rpc.block_by_number(chain.tip(), full_tx=False)["timestamp"], 16)
    uuid = 0 << 32 | 0
    challenge = chain.call_tx(manager, "challengeWithdrawal", uuid, b"", sender=a[9])
    chain.mine([challenge], timestamp=stamp + GRACE_SECONDS + 1)
    # The same event signature from some other contract must not be taken for the manager's.
    impostor = chain.deploy("BitcoinTunnelManager", hvm_state, GRACE_SECONDS, sender=a[8])
    impostor_manager = chain.contract("BitcoinTunnelManager", impostor)
    chain.mine([chain.call_tx(impostor_manager, "createVault", operator, CUSTODY.p2pkh_script, CUSTODY.p2pkh_address,
                              10, 20, sender=a[8], gas=12_000_000)])  # fmt: skip
    return {"manager": manager_address, "vault": vault, "user": user, "hemibtc": hemibtc, "withdraw_tx": withdraw_tx,
            "uuid": uuid}  # fmt: skip


def addr(text: str) -> bytes:
    return bytes.fromhex(text[2:].lower())


def index(chain: DevChain, tunnel: dict, rpc, followups: str = "none") -> None:
    network = chain.network(tunnel_manager_address=tunnel["manager"].lower())
    after_commit = handlers.after_commit_for(followups, network)
    sync.follow_tip(rpc, network=network, after_commit=after_commit, config=ingest.IngestConfig.from_network(network))


def test_deposit_confirmation_row_with_the_txid_in_internal_order(chain: DevChain, tunnel: dict, rpc) -> None:
    index(chain, tunnel, rpc)
    dep = DepositConfirmation.objects.get()
    assert bytes(dep.vault) == addr(tunnel["vault"]) and bytes(dep.recipient) == addr(tunnel["user"])
    assert bytes(dep.deposit_txid_internal) == bytes.fromhex(DEPOSIT_TXID_DISPLAY)[::-1]
    assert dep.deposit_txid_display == DEPOSIT_TXID_DISPLAY
    assert bytes(dep.log.topic3) == bytes.fromhex(DEPOSIT_TXID_DISPLAY)  # the event carries display order
    assert (dep.deposit_sats, dep.net_sats) == (5_000_000, 5_000_000 - 5_000)  # 10 bps fee
    assert bytes(dep.log.address) == addr(tunnel["manager"]) and dep.canonical


def test_withdrawal_initiation_has_the_readable_bitcoin_address_from_the_input(chain, tunnel, rpc) -> None:
    index(chain, tunnel, rpc)
    w = WithdrawalInitiation.objects.get()
    assert w.btc_address == WITHDRAW_TO.p2pkh_address
    assert bytes(w.btc_address_hash) == keccak256(WITHDRAW_TO.p2pkh_address.encode())
    assert (w.withdrawal_sats, w.net_sats, w.uuid) == (2_000_000, 2_000_000 - 4_000, tunnel["uuid"])
    assert bytes(w.withdrawer) == addr(tunnel["user"]) and bytes(w.vault) == addr(tunnel["vault"])
    assert bytes(w.transaction.hash) == addr(tunnel["withdraw_tx"])
    c = WithdrawalChallenge.objects.get()
    assert (bytes(c.vault), bytes(c.withdrawer)) == (addr(tunnel["vault"]), addr(tunnel["user"]))
    assert c.uuid == tunnel["uuid"]
    # hemiBTC: minted 4 995 000, burnt 2 000 000, re-minted 2 000 000 by the challenge.
    balance = TokenBalance.objects.get(token__address=addr(tunnel["hemibtc"]), holder=addr(tunnel["user"]))
    assert balance.balance == 4_995_000


def test_only_the_configured_manager_creates_vaults_and_custody_is_read_after_commit(chain, tunnel, rpc) -> None:
    index(chain, tunnel, rpc)
    vault = Vault.objects.get()
    assert (vault.index, bytes(vault.address)) == (0, addr(tunnel["vault"]))
    assert vault.custody_script is None  # the block write does no I/O
    assert Log.objects.filter(topic0=keccak256(b"VaultCreated(address,address,address)")).count() == 2
    network = chain.network(tunnel_manager_address=tunnel["manager"].lower())
    # The custody read is a durable work item recorded by the block's transaction.
    assert work.unfinished(VAULT_CUSTODY, tunnel["vault"].lower()) is not None
    assert read_and_register(addr(tunnel["vault"]), rpc, network)
    read = Vault.objects.get()
    assert bytes(read.custody_script) == CUSTODY.p2pkh_script
    assert read.custody_address == CUSTODY.p2pkh_address
    from indexer.bitcoin.models import VaultScript

    registered = VaultScript.objects.get(vault_address=addr(tunnel["vault"]))
    assert (registered.vault_index, bytes(registered.custody_script)) == (0, CUSTODY.p2pkh_script)
    read_and_register(addr(tunnel["vault"]), rpc, network)  # again: harmless
    assert VaultScript.objects.count() == 1
