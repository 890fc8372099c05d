"""Where a running devnet keeps its files, how fast it makes blocks, and who its actors are.

Everything comes from the environment with strict parsing (``hemiscope.env``), so a typo in
``DEVNET_BLOCK_SECONDS`` fails at start-up instead of running a different network:

==============================  =============================================================
``DEVNET_VAR_DIR``              node data, logs, lock and control files (``var/devnet``)
``DEVNET_STATE_FILE``           the network.json indexers read (``<var dir>/network.json``)
``DEVNET_BLOCK_SECONDS``        one Hemi block every N seconds (2)
``DEVNET_BTC_BLOCK_SECONDS``    one Bitcoin block every N seconds (3)
``DEVNET_POP_SEED``             seed of the PoP miners' duplicate/delay choices (7)
``DEVNET_POP_DUPLICATE_RATE``   share of keystones a second miner also publishes (0.25)
``DEVNET_POP_DELAY_RATE``       share of publications held back a few Bitcoin blocks (0.25)
``DEVNET_POP_MAX_DELAY``        at most this many Bitcoin blocks of delay (3)
==============================  =============================================================

``networks.devnet_file`` (what the Django side reads) only knows ``DEVNET_STATE_FILE``; the
devnet commands therefore export it to every process they start, so a custom var dir and the
indexers can never disagree about where network.json lives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from devnet.btckeys import DevKey
from devnet.build import DEVNET_DIR
from hemiscope import env

REPO_ROOT = DEVNET_DIR.parent

# Bitcoin keys of the devnet's actors and scenario clients (labels -> deterministic keys, so
# a scenario process finds the same keys the supervisor funded). Only public data is written
# to network.json.
FAUCET_KEY = DevKey.from_label("devnet-faucet")  # the Bitcoin miner pays here; scenarios draw from it
POP_MINER_KEYS = (DevKey.from_label("devnet-pop-miner-a"), DevKey.from_label("devnet-pop-miner-b"))
TREASURY_KEY = DevKey.from_label("devnet-treasury")
ROGUE_POP_KEY = DevKey.from_label("devnet-pop-rogue")
WITHDRAWAL_PAYEE_KEY = DevKey.from_label("devnet-withdrawal-payee")
NOT_THE_VAULT_KEY = DevKey.from_label("devnet-not-the-vault")
SIDE_CHAIN_KEY = DevKey.from_label("devnet-side-chain")

# anvil mnemonic account indexes (accounts are public; their roles are the devnet's choice).
DEPLOYER_ACCOUNT = 0  # owner of the tunnel manager (also the "compromised" operatorMintUnchecked caller)
OPERATOR_ACCOUNT = 1  # vault operator admin; sends confirmDeposit / finalizeWithdrawal
TREASURY_ACCOUNT = 2  # hemiBTC recipient of treasury-lock
WITHDRAWAL_ACCOUNT = 3
REORG_ACCOUNT = 4
UNBACKED_ACCOUNT = 5
MARKER_ACCOUNT = 6


@dataclass(frozen=True)
class DevnetPaths:
    var_dir: Path
    state_file: Path

    @property
    def lock_file(self) -> Path:
        """Holds the supervisor's pid; an exclusive flock on it means "a network is running"."""
        return self.var_dir / "network.pid"

    @property
    def log_file(self) -> Path:
        return self.var_dir / "network.log"

    @property
    def last_state_file(self) -> Path:
        """network.json of the last network that stopped (for post-mortems)."""
        return self.var_dir / "network.last.json"

    @property
    def control_dir(self) -> Path:
        """Pause requests from scenario processes and the supervisor's acknowledgements."""
        return self.var_dir / "control"

    @property
    def faucet_lock(self) -> Path:
        return self.var_dir / "faucet.lock"

    def node_dir(self, name: str) -> Path:
        return self.var_dir / name

    def child_env(self) -> dict[str, str]:
        """Variables every process started for this network must see (see module docstring)."""
        return {"DEVNET_VAR_DIR": str(self.var_dir), "DEVNET_STATE_FILE": str(self.state_file)}


def devnet_paths(base_dir: Path = REPO_ROOT) -> DevnetPaths:
    var_dir = Path(env.env_str("DEVNET_VAR_DIR", None) or base_dir / "var" / "devnet").resolve()
    state_file = Path(env.env_str("DEVNET_STATE_FILE", None) or var_dir / "network.json").resolve()
    return DevnetPaths(var_dir=var_dir, state_file=state_file)


@dataclass(frozen=True)
class Cadence:
    """Wall-clock rhythm of the live network (tests step the actors instead)."""

    block_seconds: float = 2.0
    btc_block_seconds: float = 3.0

    @property
    def poll_seconds(self) -> float:
        # The operator and PoP miner react to blocks; polling at half the faster block time
        # keeps their reaction within one block without busy-looping.
        return max(0.1, min(1.0, min(self.block_seconds, self.btc_block_seconds) / 2))

    @classmethod
    def from_env(cls) -> Cadence:
        return cls(
            block_seconds=env.env_float("DEVNET_BLOCK_SECONDS", cls.block_seconds, minimum=0.05),
            btc_block_seconds=env.env_float("DEVNET_BTC_BLOCK_SECONDS", cls.btc_block_seconds, minimum=0.05),
        )


@dataclass(frozen=True)
class PopPolicy:
    seed: int = 7
    duplicate_rate: float = 0.25
    delay_rate: float = 0.25
    max_delay_blocks: int = 3

    @classmethod
    def from_env(cls) -> PopPolicy:
        policy = cls(
            seed=int(env.env_int("DEVNET_POP_SEED", cls.seed)),
            duplicate_rate=env.env_float("DEVNET_POP_DUPLICATE_RATE", cls.duplicate_rate, minimum=0.0),
            delay_rate=env.env_float("DEVNET_POP_DELAY_RATE", cls.delay_rate, minimum=0.0),
            max_delay_blocks=int(env.env_int("DEVNET_POP_MAX_DELAY", cls.max_delay_blocks, minimum=1)),
        )
        if policy.duplicate_rate > 1 or policy.delay_rate > 1:
            raise ValueError("DEVNET_POP_DUPLICATE_RATE and DEVNET_POP_DELAY_RATE are shares between 0 and 1")
        return policy


def pid_alive(pid: int | None) -> bool:
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
