"""Node lifecycle: start on free ports, answer RPC, stop without leaving processes behind."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from devnet.btc import mine
from devnet.btckeys import DevKey
from devnet.constants import DEVNET_CHAIN_ID
from devnet.nodes import ManagedNode, NodeStartError, start_anvil, start_bcoin

pytestmark = pytest.mark.integration


def _group_is_gone(node: ManagedNode) -> bool:
    assert node.pid is not None
    try:
        os.killpg(node.pid, 0)
    except ProcessLookupError:
        return True
    return False


def _port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_nodes_start_answer_rpc_and_stop_without_leftover_processes(tmp_path: Path) -> None:
    bcoin = start_bcoin("btc", root=tmp_path, memory=True)
    anvil = start_anvil("hemi", root=tmp_path)
    try:
        assert bcoin.rpc().getblockcount() == 0
        assert bcoin.bitcoin_rpc_url.startswith(f"http://x:{bcoin.api_key}@127.0.0.1:")
        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(anvil.hemi_rpc_url))
        assert w3.eth.chain_id == DEVNET_CHAIN_ID
        assert len(w3.eth.accounts) == 10
        assert (tmp_path / "var" / "devnet" / "btc" / "bcoin.log").exists()
        assert (tmp_path / "var" / "devnet" / "hemi" / "anvil.log").exists()
    finally:
        bcoin.stop()
        anvil.stop()
    for node, port in ((bcoin, bcoin.http_port), (anvil, anvil.port)):
        assert not node.is_running()
        assert _group_is_gone(node)
        assert _port_is_closed(port)
    bcoin.stop()  # idempotent


def test_a_node_that_dies_at_start_reports_its_log_tail(tmp_path: Path) -> None:
    # Core-style addresses are invalid for bcoin: the node crashes while parsing its options.
    with pytest.raises(NodeStartError) as excinfo:
        start_bcoin("broken", root=tmp_path, memory=True, coinbase_address="bcrt1qnotanaddress", timeout=15)
    message = str(excinfo.value)
    assert "exited with code" in message
    assert "Error: " in message and "Address.from" in message  # the stack trace made it into the error


def test_persistent_bcoin_keeps_its_chain_across_a_restart(tmp_path: Path) -> None:
    address = DevKey.from_label("restart").p2pkh_address
    with start_bcoin("btc", root=tmp_path, memory=False) as node:
        hashes = mine(node.rpc(), 5, address)
    with start_bcoin("btc", root=tmp_path, memory=False) as node:
        rpc = node.rpc()
        assert rpc.getblockcount() == 5
        assert rpc.getbestblockhash() == hashes[-1]


def test_persistent_anvil_keeps_blocks_and_state_across_a_restart(tmp_path: Path) -> None:
    from web3 import Web3

    from devnet.evm import mine_block

    with start_anvil("hemi", root=tmp_path, persist=True) as node:
        w3 = Web3(Web3.HTTPProvider(node.hemi_rpc_url))
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": w3.eth.accounts[1], "value": 7})
        number = mine_block(w3)
        block_hash = w3.eth.get_block(number)["hash"]
        balance = w3.eth.get_balance(w3.eth.accounts[1])
    with start_anvil("hemi", root=tmp_path, persist=True) as node:
        w3 = Web3(Web3.HTTPProvider(node.hemi_rpc_url))
        assert w3.eth.get_block(number)["hash"] == block_hash
        assert w3.eth.get_balance(w3.eth.accounts[1]) == balance
        assert w3.eth.get_balance(w3.eth.accounts[1], block_identifier=number - 1) == balance - 7


class _DripServer:
    """Accepts connections and drips a valid HTTP reply one byte every ``step`` seconds."""

    def __init__(self, total_seconds: float) -> None:
        self.total_seconds = total_seconds
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        body = b'{"jsonrpc":"2.0","id":1,"result":"0xb56c8"}'
        reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        with conn:
            try:
                conn.recv(65536)
                for byte in reply:
                    if self._stop.is_set():
                        return
                    time.sleep(self.total_seconds / len(reply))
                    conn.sendall(bytes([byte]))
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


def test_health_probes_run_on_the_core_transport_with_a_total_deadline(tmp_path: Path) -> None:
    """Issue 12 leftover: the devnet's probes called ``requests``, whose timeout bounds each
    read, so a node dripping its reply held a "1 s" start-up probe as long as it dripped."""
    from devnet.control import _chain_heights
    from devnet.nodes import AnvilNode, BcoinNode

    drip = _DripServer(total_seconds=12.0)
    try:
        anvil = AnvilNode("drip", tmp_path, [], drip.port, DEVNET_CHAIN_ID)
        bcoin = BcoinNode("drip", tmp_path, [], drip.port, 0, "key")
        for probe in (anvil._probe, bcoin._probe):
            started = time.monotonic()
            assert probe() is False
            # A bound, not a speed goal: the drip takes 12 s, the probe's deadline is 1 s.
            assert time.monotonic() - started < 4.0
    finally:
        drip.close()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    dead = {"hemi_rpc_url": f"http://127.0.0.1:{closed}", "bitcoin_rpc_url": f"http://x:k@127.0.0.1:{closed}/"}
    assert _chain_heights(dead) == {"hemi_block": None, "bitcoin_height": None}
    with start_anvil("probe-hemi", root=tmp_path) as hemi, start_bcoin("probe-btc", root=tmp_path, memory=True) as btc:
        assert hemi._probe() and btc._probe()
        live = {"hemi_rpc_url": hemi.hemi_rpc_url, "bitcoin_rpc_url": btc.bitcoin_rpc_url}
        assert _chain_heights(live) == {"hemi_block": 0, "bitcoin_height": 0}
