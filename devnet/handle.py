"""``Network``: the handle scenarios use to act on a devnet and wait for its actors.

A scenario is a client: it sends Bitcoin and Hemi transactions and then waits for the actors
(sequencer, Bitcoin miner, PoP miners, tunnel operator) to carry the story forward. Who moves
the actors is the driver's business:

* :class:`LiveDriver` - a supervisor process runs them on wall-clock cadences; waiting means
  polling with a deadline derived from the block times. Pausing an actor (a reorg needs the
  miner to hold still) is a file handshake with the supervisor in ``<var dir>/control``.
* :class:`SteppedDriver` - a test owns the actors; waiting means stepping them ("ticks": one
  Hemi block each, one Bitcoin block every ``btc_every`` ticks) until the condition holds, so
  the same scenario function runs in a fraction of the wall-clock time.

Waits are expressed in blocks (``hemi_blocks``, ``btc_blocks``) and each driver turns them
into its own budget; running out raises :class:`ScenarioTimeout` naming what was awaited.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import TransactionNotFound
from web3.types import TxReceipt

from devnet.actors import Actors
from devnet.btc import BitcoinRpc, BitcoinRpcError
from devnet.btckeys import DevKey
from devnet.btctx import TxOutput
from devnet.config import FAUCET_KEY, Cadence, DevnetPaths, devnet_paths, pid_alive
from devnet.evm import contract_at, rpc
from devnet.wallets import DevWallet, faucet_lock

T = TypeVar("T")
DEPOSIT_CONFIRMED_TOPIC = "0x072ddac1530d27f4989ecfc488d7ea4cb925a388349c9a3fed5e54718b29e35d"
HEMI_TX_GAS = 1_500_000
PAUSE_ACK_TIMEOUT = 30.0


class ScenarioTimeout(TimeoutError):
    """The awaited state did not arrive within the budget."""


class ScenarioError(RuntimeError):
    """A scenario step failed (a transaction reverted, an expectation about the chains broke)."""


class NoNetworkError(RuntimeError):
    """No devnet is running where this process looks for one."""


class Driver(Protocol):
    mode: str

    def wait_for(self, check: Callable[[], T], *, what: str, hemi_blocks: int, btc_blocks: int) -> T: ...

    def paused(self, *names: str) -> Any: ...


class LiveDriver:
    mode = "live"

    def __init__(self, paths: DevnetPaths, cadence: Cadence, supervisor_pid: int, *, poll: float = 0.2) -> None:
        self.paths = paths
        self.cadence = cadence
        self.supervisor_pid = supervisor_pid
        self.poll = poll

    def budget_seconds(self, hemi_blocks: int, btc_blocks: int) -> float:
        # 1.5x the nominal time plus slack: a loaded 2-core machine lags behind the cadence
        nominal = hemi_blocks * self.cadence.block_seconds + btc_blocks * self.cadence.btc_block_seconds
        return 1.5 * nominal + 30.0

    def wait_for(self, check: Callable[[], T], *, what: str, hemi_blocks: int, btc_blocks: int) -> T:
        budget = self.budget_seconds(hemi_blocks, btc_blocks)
        deadline = time.monotonic() + budget
        while True:
            value = check()
            if value:
                return value
            if not pid_alive(self.supervisor_pid):
                raise NoNetworkError(
                    f"the devnet supervisor (pid {self.supervisor_pid}) exited while waiting for {what}"
                )
            if time.monotonic() > deadline:
                raise ScenarioTimeout(f"timed out after {budget:.0f} s waiting for {what}")
            time.sleep(self.poll)

    @contextmanager
    def paused(self, *names: str) -> Iterator[None]:
        """Ask the supervisor to stop stepping ``names`` and wait until it has (it acknowledges
        between two steps, so no step of a paused actor is half done when this yields)."""
        control = self.paths.control_dir
        control.mkdir(parents=True, exist_ok=True)
        token = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
        requests = [control / f"pause-{name}.{token}" for name in names]
        try:
            for request in requests:
                request.write_text(str(os.getpid()))
            deadline = time.monotonic() + PAUSE_ACK_TIMEOUT
            while not all((control / f"paused-{name}").exists() for name in names):
                if time.monotonic() > deadline:
                    raise ScenarioTimeout(
                        f"the supervisor did not pause {', '.join(names)} within {PAUSE_ACK_TIMEOUT:.0f} s"
                    )
                time.sleep(0.05)
            yield
        finally:
            for request in requests:
                request.unlink(missing_ok=True)


class SteppedDriver:
    mode = "stepped"

    def __init__(self, actors: Actors, *, btc_every: int = 1, slack_ticks: int = 20) -> None:
        self.actors = actors
        self.btc_every = btc_every
        self.slack_ticks = slack_ticks
        self.ticks = 0
        self._paused: set[str] = set()

    def tick(self) -> None:
        self.ticks += 1
        for actor in self.actors.in_tick_order():
            if actor.name in self._paused:
                continue
            if actor is self.actors.btc_miner and self.ticks % self.btc_every:
                continue
            actor.step()

    def wait_for(self, check: Callable[[], T], *, what: str, hemi_blocks: int, btc_blocks: int) -> T:
        budget = hemi_blocks + btc_blocks * self.btc_every + self.slack_ticks
        for _ in range(budget):
            value = check()
            if value:
                return value
            self.tick()
        value = check()
        if value:
            return value
        raise ScenarioTimeout(f"no {what} after {budget} ticks")

    @contextmanager
    def paused(self, *names: str) -> Iterator[None]:
        for name in names:
            self.actors.by_name(name)  # a typo must fail, not silently pause nothing
        added = set(names) - self._paused
        self._paused |= added
        try:
            yield
        finally:
            self._paused -= added


def read_state(paths: DevnetPaths) -> dict[str, Any] | None:
    try:
        return dict(json.loads(paths.state_file.read_text()))
    except FileNotFoundError:
        return None


class Network:
    """Clients for both chains, the deployment's addresses and the driver's waits."""

    def __init__(
        self,
        *,
        w3: Web3,
        btc: BitcoinRpc,
        contracts: dict[str, str],
        driver: Driver,
        paths: DevnetPaths,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.w3 = w3
        self.btc = btc
        self.contracts = dict(contracts)
        self.driver = driver
        self.paths = paths
        self.info = dict(info or {})
        self._wallets: dict[bytes, DevWallet] = {}

    @classmethod
    def connect(cls, paths: DevnetPaths | None = None) -> Network:
        """The network a running supervisor describes in its state file."""
        paths = paths or devnet_paths()
        state = read_state(paths)
        if state is None:
            raise NoNetworkError(
                f"no devnet is running (no state file {paths.state_file}); start one with `python manage.py devnet up`"
            )
        if state.get("status") != "ready" or not pid_alive(state.get("pid")):
            raise NoNetworkError(
                f"the devnet in {paths.state_file} is not running (status {state.get('status')!r}, "
                f"pid {state.get('pid')}); start one with `python manage.py devnet up`"
            )
        cadence = Cadence(float(state["block_seconds"]), float(state["btc_block_seconds"]))
        return cls(
            w3=Web3(Web3.HTTPProvider(state["hemi_rpc_url"], request_kwargs={"timeout": 30})),
            btc=BitcoinRpc(state["bitcoin_rpc_url"], log_path=paths.var_dir / "bitcoin" / "bcoin.log"),
            contracts=state["contracts"],
            driver=LiveDriver(paths, cadence, int(state["pid"])),
            paths=paths,
            info=state,
        )

    # contracts and accounts --------------------------------------------------------------
    def contract(self, name: str) -> Contract:
        return contract_at(self.w3, name, self.contracts[name])

    def account(self, index: int) -> str:
        return Web3.to_checksum_address(self.w3.eth.accounts[index])

    def vault_state(self) -> Contract:
        return contract_at(self.w3, "SimpleBitcoinVaultState", self.contracts["SimpleBitcoinVaultState"])

    # waiting -----------------------------------------------------------------------------
    def wait_for(self, check: Callable[[], T], *, what: str, hemi_blocks: int = 0, btc_blocks: int = 0) -> T:
        return self.driver.wait_for(check, what=what, hemi_blocks=hemi_blocks, btc_blocks=btc_blocks)

    def paused(self, *names: str) -> Any:
        return self.driver.paused(*names)

    # Hemi ------------------------------------------------------------------------------------
    def send(self, fn: ContractFunction, sender: str, *, gas: int = HEMI_TX_GAS) -> str:
        """Submit a contract call (the sequencer mines it); returns the tx hash."""
        return HexBytes(fn.transact({"from": Web3.to_checksum_address(sender), "gas": gas})).to_0x_hex()

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    def wait_receipt(self, tx_hash: str, what: str) -> TxReceipt:
        receipt = self.wait_for(lambda: self.receipt(tx_hash), what=f"{what} ({tx_hash}) to be mined", hemi_blocks=5)
        if receipt["status"] != 1:
            raise ScenarioError(f"{what} ({tx_hash}) reverted in Hemi block {receipt['blockNumber']}")
        return receipt

    def transact(self, fn: ContractFunction, sender: str, what: str, *, gas: int = HEMI_TX_GAS) -> TxReceipt:
        return self.wait_receipt(self.send(fn, sender, gas=gas), what)

    def deposit_mint_log(self, txid_display: str, *, from_block: int = 0) -> dict[str, Any] | None:
        """The DepositConfirmed log crediting ``txid_display`` on the current Hemi chain."""
        logs = rpc(
            self.w3,
            "eth_getLogs",
            [
                {
                    "fromBlock": hex(from_block),
                    "toBlock": "latest",
                    "address": self.contracts["BitcoinTunnelManager"],
                    "topics": [DEPOSIT_CONFIRMED_TOPIC, None, None, "0x" + txid_display],
                }
            ],
        )
        return logs[0] if logs else None

    def hemi_block_hash(self, number: int) -> str | None:
        block = rpc(self.w3, "eth_getBlockByNumber", [hex(number), False])
        return None if block is None else str(block["hash"])

    # Bitcoin ---------------------------------------------------------------------------------
    def wallet(self, key: DevKey) -> DevWallet:
        if key.secret not in self._wallets:
            self._wallets[key.secret] = DevWallet(self.btc, key)
        return self._wallets[key.secret]

    def pay(self, key: DevKey, outputs: Sequence[TxOutput]) -> str:
        """Pay from ``key``'s wallet (the faucet's payments are serialised across processes)."""
        wallet = self.wallet(key)
        if key == FAUCET_KEY:
            with faucet_lock(self.paths.faucet_lock):
                return wallet.pay(outputs)
        return wallet.pay(outputs)

    def btc_position(self, txid_display: str) -> tuple[int, str, int] | None:
        """(height, block hash, confirmations) of a tx on bcoin's active chain, else None."""
        try:
            block_hash = self.btc.getrawtransaction_verbose(txid_display).get("blockhash")
        except BitcoinRpcError:
            return None
        if not block_hash:
            return None
        height = int(self.btc.getblockheader(block_hash)["height"])
        if self.btc.getblockhash(height) != block_hash:
            return None  # a stale block still answers; only the active chain counts
        return height, block_hash, self.btc.getblockcount() - height + 1

    def wait_btc_confirmations(self, txid_display: str, confirmations: int, what: str) -> tuple[int, str, int]:
        def check() -> tuple[int, str, int] | None:
            position = self.btc_position(txid_display)
            return position if position and position[2] >= confirmations else None

        return self.wait_for(
            check,
            what=f"{what} ({txid_display}) to reach {confirmations} confirmation(s)",
            btc_blocks=confirmations + 3,
        )

    def fund(self, key: DevKey, amount_sats: int) -> str:
        """Faucet -> ``key``'s P2PKH, confirmed once (wallets only spend confirmed coins)."""
        txid = self.pay(FAUCET_KEY, [TxOutput(key.p2pkh_script, amount_sats)])
        self.wait_btc_confirmations(txid, 1, f"funding of {key.p2pkh_address}")
        return txid
