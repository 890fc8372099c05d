"""Start and stop the devnet's nodes (anvil for Hemi, bcoin for Bitcoin) as child processes.

Each node gets free local ports, a data directory ``<root>/var/devnet/<name>/`` and a log file
there. Start-up waits until the node's RPC answers; if the process dies or the wait times out,
:class:`NodeStartError` carries the log tail. Nodes run in their own process group (bcoin
forks verification workers), so stopping kills the whole group; an ``atexit`` hook stops any
node the caller forgot, and every node is a context manager::

    with start_bcoin("bitcoin", root=repo_root) as btc, start_anvil("hemi", root=repo_root) as hemi:
        rpc = btc.rpc()            # devnet.btc.BitcoinRpc, knows the log for mempool errors
        hemi.hemi_rpc_url          # http://127.0.0.1:<port>
"""

from __future__ import annotations

import atexit
import logging
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from devnet.btc import BitcoinRpc, read_log_tail
from devnet.btckeys import DevKey
from devnet.build import DEVNET_DIR, NODE_MODULES, ensure_node_modules
from devnet.constants import DEVNET_ACCOUNT_BALANCE_ETH, DEVNET_ACCOUNTS, DEVNET_CHAIN_ID, DEVNET_MNEMONIC
from indexer.core.errors import IndexerError
from indexer.core.jsonrpc import BadReply, JsonRpcClient, quantity

logger = logging.getLogger(__name__)
REPO_ROOT = DEVNET_DIR.parent
# The key bcoin's own `generate` pays when no address is given; scenarios mine to their own keys.
DEFAULT_MINER_KEY = DevKey.from_label("bcoin-coinbase")
_PORT_RETRIES = 3
_LIVE: set[ManagedNode] = set()


def rpc_probe(url: str, method: str, *params: Any, version: str = "2.0", timeout: float = 1.0) -> Any:
    """One JSON-RPC call for a health probe or a best-effort command, on the indexers' own
    transport (a total deadline, credentials from the URL): its result, or None when the node
    does not answer (yet), answers an error, or is not reachable."""
    try:
        client = JsonRpcClient(url, timeout=timeout, version=version, max_reply_bytes=1 << 20)
    except IndexerError:
        return None
    try:
        reply = client.call(method, params)
    except IndexerError:
        return None
    finally:
        client.close()
    return reply.result if reply.error is None else None


class NodeStartError(RuntimeError):
    """A node did not come up; the message includes its log tail."""


def devnet_data_dir(root: Path, name: str) -> Path:
    return Path(root) / "var" / "devnet" / name


def free_port() -> int:
    # The port is free now; another process could still take it before the node binds, which
    # start-up detects (early exit) and retries with new ports.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def anvil_binary() -> Path:
    """The anvil binary from the pinned @foundry-rs/anvil platform package (no downloads)."""
    ensure_node_modules()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = {"linux": "linux", "darwin": "darwin"}.get(platform.system().lower(), "unsupported")
    binary = NODE_MODULES / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if not binary.exists():
        raise NodeStartError(
            f"no anvil binary for {system}/{arch} at {binary} (is the npm package installed?)"
        )
    return binary


class ManagedNode:
    """A child process in its own process group with a log file and an RPC readiness probe."""

    kind = "node"

    def __init__(self, name: str, data_dir: Path, argv: list[str]) -> None:
        self.name = name
        self.data_dir = data_dir
        self.argv = argv
        self.log_path = data_dir / f"{self.kind}.log"
        self.process: subprocess.Popen[bytes] | None = None

    # lifecycle -----------------------------------------------------------------------------
    def _spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(
                f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(self.argv)}\n".encode()
            )
            log.flush()
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # own process group: stop() reaches bcoin's workers too
            )
        _LIVE.add(self)

    def _probe(self) -> bool:
        raise NotImplementedError

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise NodeStartError(
                    f"{self.kind} '{self.name}' exited with code {self.process.returncode} during start-up.\n"
                    f"Log tail ({self.log_path}):\n{read_log_tail(self.log_path)}"
                )
            if self._probe():
                return
            time.sleep(0.05)
        self.stop()
        raise NodeStartError(
            f"{self.kind} '{self.name}' did not answer RPC within {timeout:.0f}s.\n"
            f"Log tail ({self.log_path}):\n{read_log_tail(self.log_path)}"
        )

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _graceful_stop(self) -> None:
        """Hook for a node-specific clean shutdown before the group is signalled."""

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the node and everything in its process group. Idempotent."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self._graceful_stop()
        pgid = process.pid  # start_new_session: the group id is the leader's pid
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait)
            except subprocess.TimeoutExpired:
                continue
            # the leader is gone; make sure no worker outlived it
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            break
        process.wait()
        _LIVE.discard(self)

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        return read_log_tail(self.log_path, lines)


class AnvilNode(ManagedNode):
    kind = "anvil"

    def __init__(self, name: str, data_dir: Path, argv: list[str], port: int, chain_id: int) -> None:
        super().__init__(name, data_dir, argv)
        self.port = port
        self.chain_id = chain_id

    @property
    def hemi_rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _probe(self) -> bool:
        chain_id = rpc_probe(self.hemi_rpc_url, "eth_chainId")
        try:
            return quantity(chain_id, "eth_chainId") == self.chain_id
        except BadReply:  # None (no answer yet) or not a quantity
            return False


class BcoinNode(ManagedNode):
    kind = "bcoin"

    def __init__(
        self, name: str, data_dir: Path, argv: list[str], http_port: int, p2p_port: int, api_key: str
    ) -> None:
        super().__init__(name, data_dir, argv)
        self.http_port = http_port
        self.p2p_port = p2p_port
        self.api_key = api_key

    @property
    def bitcoin_rpc_url(self) -> str:
        """JSON-RPC URL with the API key embedded (bcoin ignores the user name)."""
        return f"http://x:{self.api_key}@127.0.0.1:{self.http_port}/"

    def rpc(self, timeout: float = 30.0) -> BitcoinRpc:
        return BitcoinRpc(self.bitcoin_rpc_url, timeout=timeout, log_path=self.log_path)

    def _probe(self) -> bool:
        return isinstance(rpc_probe(self.bitcoin_rpc_url, "getblockcount", version="1.0"), int)

    def _graceful_stop(self) -> None:
        # SIGTERM kills bcoin at once (no handler); the `stop` RPC closes its database cleanly,
        # which matters for persistent data directories. Best effort: the caller kills anyway.
        rpc_probe(self.bitcoin_rpc_url, "stop", version="1.0", timeout=2.0)
        try:
            assert self.process is not None
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass


def _start_with_port_retries(make: Any, timeout: float) -> Any:
    last: NodeStartError | None = None
    for _ in range(_PORT_RETRIES):
        node = make()
        node._spawn()
        try:
            node._wait_ready(timeout)
            return node
        except NodeStartError as exc:
            node.stop()
            text = str(exc)
            if "in use" not in text and "EADDRINUSE" not in text:
                raise
            last = exc  # someone grabbed our port between free_port() and bind: try new ports
    assert last is not None
    raise last


def start_anvil(
    name: str = "hemi",
    *,
    root: Path = REPO_ROOT,
    chain_id: int = DEVNET_CHAIN_ID,
    accounts: int = DEVNET_ACCOUNTS,
    balance_eth: int = DEVNET_ACCOUNT_BALANCE_ETH,
    mnemonic: str = DEVNET_MNEMONIC,
    persist: bool = False,
    fresh: bool = False,
    order: str = "fifo",
    data_dir: Path | None = None,
    timeout: float = 30.0,
    genesis_number: int | None = None,
) -> AnvilNode:
    """Start anvil as the devnet's Hemi: manual blocks (``--no-mining``; produce them with
    ``evm_mine``), prefunded mnemonic accounts. ``persist`` keeps chain state in
    ``state.json`` (loaded at start, written on exit); ``fresh`` wipes the data dir first.

    ``order`` is anvil's pool ordering: "fifo" (submission order) or "fees" (highest max fee
    first, ties in submission order). The running network uses "fees" so the sequencer's
    system transactions open every block whatever was submitted before them.
    ``data_dir`` overrides ``<root>/var/devnet/<name>``. ``genesis_number`` starts the chain at
    that height (anvil's ``--number``: the node has no block below it), so a chain can be
    continued above a stored one (``devnet.graft``).
    """
    if order not in ("fifo", "fees"):
        raise ValueError(f"anvil order must be 'fifo' or 'fees', got {order!r}")
    data_dir = Path(data_dir) if data_dir is not None else devnet_data_dir(root, name)
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    binary = anvil_binary()

    def make() -> AnvilNode:
        port = free_port()
        argv = [
            str(binary),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--chain-id", str(chain_id),
            "--no-mining",
            "--order", order,
            "--accounts", str(accounts),
            "--balance", str(balance_eth),
            "--mnemonic", mnemonic,
        ]  # fmt: skip
        if persist:
            # historical states too, so eth_call at old blocks still works after a restart
            argv += ["--state", str(data_dir / "state.json"), "--preserve-historical-states"]
        if genesis_number is not None:
            argv += ["--number", str(genesis_number)]
        return AnvilNode(name, data_dir, argv, port, chain_id)

    return _start_with_port_retries(make, timeout)


def start_bcoin(
    name: str = "bitcoin",
    *,
    root: Path = REPO_ROOT,
    memory: bool = False,
    fresh: bool = False,
    coinbase_address: str | None = None,
    api_key: str | None = None,
    log_level: str = "info",
    data_dir: Path | None = None,
    timeout: float = 30.0,
) -> BcoinNode:
    """Start bcoin on regtest with the tx index, no wallet and no P2P listening.

    Chain data lives in ``<data dir>/chain`` unless ``memory``; ``fresh`` wipes the data dir
    first. ``coinbase_address`` (a bcoin address) is what the node's own ``generate`` pays.
    bcoin logs mempool rejections at error level, so "info" is enough to explain them.
    ``data_dir`` overrides ``<root>/var/devnet/<name>``.
    """
    data_dir = Path(data_dir) if data_dir is not None else devnet_data_dir(root, name)
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    ensure_node_modules()
    node_bin = shutil.which("node")
    if node_bin is None:
        raise NodeStartError("node is not on PATH; the devnet needs Node 20")
    bcoin_main = NODE_MODULES / "bcoin" / "bin" / "node"
    key = api_key or secrets.token_hex(16)
    coinbase = coinbase_address or DEFAULT_MINER_KEY.p2pkh_address

    def make() -> BcoinNode:
        http_port, p2p_port = free_port(), free_port()
        argv = [
            node_bin,
            str(bcoin_main),
            "--network=regtest",
            "--index-tx=true",
            "--no-wallet=true",
            "--listen=false",
            "--http-host=127.0.0.1",
            f"--http-port={http_port}",
            f"--port={p2p_port}",
            f"--api-key={key}",
            f"--prefix={data_dir / 'chain'}",
            f"--memory={'true' if memory else 'false'}",
            f"--coinbase-address={coinbase}",
            f"--log-level={log_level}",
            "--log-file=false",  # stdout already goes to bcoin.log
        ]
        return BcoinNode(name, data_dir, argv, http_port, p2p_port, key)

    return _start_with_port_retries(make, timeout)


@atexit.register
def _stop_all() -> None:
    for node in list(_LIVE):
        try:
            node.stop(timeout=5)
        except Exception:
            # the interpreter is exiting: report, and still stop the other nodes
            logger.exception("devnet: could not stop %s node %r", node.kind, node.name)
