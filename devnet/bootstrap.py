"""Bring fresh nodes to the devnet's starting state and build its actors.

Used by the supervisor (``devnet.network``) and by the stepped scenario tests, so both run
exactly the same network.
"""

from __future__ import annotations

from dataclasses import dataclass

from hexbytes import HexBytes
from web3 import Web3

from devnet.actors import Actors, BitcoinMiner, PopMiner, Sequencer, TunnelOperator
from devnet.actors.popminer import Planner
from devnet.btc import BitcoinRpc, mine
from devnet.config import FAUCET_KEY, POP_MINER_KEYS, PopPolicy
from devnet.constants import COINBASE_MATURITY, L1_BLOCK_PREDEPLOY
from devnet.evm import DEFAULT_CUSTODY_KEY, contract_at, deploy_all, load_artifact, rpc
from indexer.hashing import internal_to_display

# Coinbases per key before maturity mining: 3 x 50 BTC per PoP miner (one coin per
# publication in flight), 6 x 50 BTC for the faucet (then every later block pays it too).
FUNDING_BLOCKS = ((POP_MINER_KEYS[0], 3), (POP_MINER_KEYS[1], 3), (FAUCET_KEY, 6))
MAX_RELAY_BLOCKS = 50


class BootstrapError(RuntimeError):
    """The fresh nodes could not be brought to the starting state."""


@dataclass(frozen=True)
class Deployment:
    contracts: dict[str, str]
    hemi_genesis_hash: str
    bitcoin_genesis_hash: str
    vault_script: bytes
    vault_address: str  # the custody address, bcoin regtest encoding


def fund_bitcoin_keys(btc: BitcoinRpc) -> int:
    """1. mine a few coinbases to each PoP miner key and the faucet; 2. mine COINBASE_MATURITY
    more to the faucet so all of them are spendable. Returns the best height."""
    if btc.getblockcount() != 0:
        raise BootstrapError(f"bcoin is at height {btc.getblockcount()}, expected a fresh chain")
    for key, blocks in FUNDING_BLOCKS:
        mine(btc, blocks, key.p2pkh_address)
    mine(btc, COINBASE_MATURITY, FAUCET_KEY.p2pkh_address)
    return btc.getblockcount()


def bootstrap(w3: Web3, btc: BitcoinRpc, sequencer: Sequencer) -> Deployment:
    """1. fund the Bitcoin keys; 2. put L1Block's code at its predeploy before block 1, so the
    very first L1-info call runs it; 3. deploy every contract through the sequencer (each
    deployment block opens with the L1-info call too); 4. relay every Bitcoin header."""
    if int(w3.eth.block_number) != 0:
        raise BootstrapError(f"anvil is at block {w3.eth.block_number}, expected a fresh chain")
    fund_bitcoin_keys(btc)
    rpc(w3, "anvil_setCode", [L1_BLOCK_PREDEPLOY, load_artifact("L1Block")["deployedBytecode"]])
    contracts = deploy_all(w3, bitcoin_rpc=btc, mine=sequencer.mine)
    sequencer.attach_hvm_state(contracts["HvmState"])
    hvm = contract_at(w3, "HvmState", contracts["HvmState"])
    for _ in range(MAX_RELAY_BLOCKS):
        if internal_to_display(bytes(hvm.functions.tip().call()[0])) == btc.getbestblockhash():
            break
        sequencer.step()
    else:
        raise BootstrapError(f"HvmState did not reach bcoin's tip within {MAX_RELAY_BLOCKS} blocks")
    vault = contract_at(w3, "SimpleBitcoinVault", contracts["SimpleBitcoinVault"])
    return Deployment(
        contracts=contracts,
        hemi_genesis_hash=HexBytes(w3.eth.get_block(0)["hash"]).to_0x_hex(),
        bitcoin_genesis_hash=btc.getblockhash(0),
        vault_script=bytes(vault.functions.custodyScript().call()),
        vault_address=str(vault.functions.bitcoinCustodyAddress().call()),
    )


def make_actors(
    w3: Web3,
    btc: BitcoinRpc,
    sequencer: Sequencer,
    deployment: Deployment,
    *,
    pop_policy: PopPolicy | None = None,
    planner: Planner | None = None,
) -> Actors:
    return Actors(
        btc_miner=BitcoinMiner(btc, FAUCET_KEY.p2pkh_address),
        sequencer=sequencer,
        operator=TunnelOperator(w3, btc, deployment.contracts, custody_key=DEFAULT_CUSTODY_KEY),
        pop_miner=PopMiner(w3, btc, POP_MINER_KEYS, policy=pop_policy, planner=planner),
    )
