"""A JSON-RPC proxy in front of a real node that rewrites chosen replies.

It stands for a node whose blocks our decoder re-encodes differently from the chain (the 0x7C
and 0x7D encodings have never met a real Hemi block): everything else is the node's own
answer, byte for byte. ``rewrite(method, params, result)`` returns the result to send (change
it in place or return another); single calls and batches are both handled.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Rewrite = Callable[[str, list, Any], Any]


class TamperingProxy:
    def __init__(self, upstream: str, rewrite: Rewrite) -> None:
        self.upstream = upstream
        self.rewrite = rewrite
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply = proxy._forward(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _forward(self, body: bytes) -> bytes:
        request = json.loads(body)
        upstream = urllib.request.Request(self.upstream, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(upstream, timeout=30) as answer:
            reply = json.loads(answer.read())
        calls = request if isinstance(request, list) else [request]
        replies = reply if isinstance(reply, list) else [reply]
        by_id = {c.get("id"): c for c in calls}
        for item in replies:
            call = by_id.get(item.get("id"))
            if call is not None and "result" in item:
                item["result"] = self.rewrite(call.get("method", ""), call.get("params") or [], item["result"])
        return json.dumps(reply).encode()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TamperingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def off_by_one_cumulative_gas(block_number: int, receipt_index: int = 0) -> Rewrite:
    """Receipts of ``block_number`` with one ``cumulativeGasUsed`` off by one: the receipt trie
    no longer rebuilds to the header's receiptsRoot; every hash still checks out."""

    def rewrite(method: str, params: list, result: Any) -> Any:
        if method == "eth_getBlockReceipts" and params and int(params[0], 16) == block_number and result:
            receipt = result[receipt_index]
            receipt["cumulativeGasUsed"] = hex(int(receipt["cumulativeGasUsed"], 16) + 1)
        if (
            method == "eth_getTransactionReceipt"
            and isinstance(result, dict)
            and int(result.get("blockNumber", "0x0"), 16) == block_number
            and int(result["transactionIndex"], 16) == receipt_index
        ):
            result["cumulativeGasUsed"] = hex(int(result["cumulativeGasUsed"], 16) + 1)
        return result

    return rewrite
