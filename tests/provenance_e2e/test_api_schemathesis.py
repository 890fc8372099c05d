"""schemathesis against the LIVE API (a real server on loopback) on devnet data indexed by the
real Celery worker: generated requests for every operation in /api/schema/, checked for
server errors and for responses that break their own schema. Then every endpoint once with
the devnet story's real identifiers, through schemathesis' response validation.

Bounded here (``HEMISCOPE_FUZZ_EXAMPLES`` cases per operation, default 25, within
``HEMISCOPE_SCHEMATHESIS_SECONDS``, default 45); ``make schemathesis`` runs the long one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]

CHECKS = "not_a_server_error,response_schema_conformance"
REPORTS = Path(__file__).resolve().parents[2] / "var" / "schemathesis"


@pytest.fixture
def unthrottled(settings):
    # The anonymous API throttle (hardening work) would answer a fuzzer with 429s.
    settings.THROTTLE_ANON_RATE = "1000000/min"
    settings.ESPLORA_RAW_BLOCK_RATE = "1000000/min"


def test_the_live_api_on_devnet_data(live_server, story, unthrottled):
    """One test: a transactional test empties the tables after it, and indexing the devnet
    story is the slow part both halves need."""
    schemathesis_finds_no_server_error_and_no_schema_violation(live_server)
    every_endpoint_on_real_devnet_identifiers_conforms_to_the_schema(live_server, story)


def schemathesis_finds_no_server_error_and_no_schema_violation(live_server):
    examples = int(os.environ.get("HEMISCOPE_FUZZ_EXAMPLES", "25"))
    seconds = int(os.environ.get("HEMISCOPE_SCHEMATHESIS_SECONDS", "45"))
    REPORTS.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{live_server.url}/api/schema/?format=json",
        "--checks", CHECKS, "--max-examples", str(examples), "--max-time", str(seconds),
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--seed", "14",
        "--request-timeout", "30", "--no-color", "--report", "junit",
        "--report-junit-path", str(REPORTS / "junit.xml"),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 240, check=False)
    output = run.stdout + run.stderr
    (REPORTS / "last-run.txt").write_text(output)
    assert run.returncode == 0, output[-6000:]
    assert "No issues found" in output or "passed" in output.lower(), output[-3000:]


def every_endpoint_on_real_devnet_identifiers_conforms_to_the_schema(live_server, story):
    import requests
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")
    tx, block, token, holder = story["mint_tx"], str(story["mint_block"]), story["hemibtc"], story["recipient"]
    keystone = str(story["keystone"])
    from indexer.bitcoin.models import TunnelDeposit

    deposit = TunnelDeposit.objects.select_related("transaction", "block").first()
    txid, btc_block = deposit.transaction.txid_display, deposit.block.hash_display
    calls = {
        "/api/v1/blocks": {}, "/api/v1/blocks/{ident}": {"ident": block},
        "/api/v1/blocks/{ident}/transactions": {"ident": block}, "/api/v1/blocks/{ident}/finality": {"ident": block},
        "/api/v1/transactions/{hash}": {"hash": tx}, "/api/v1/transactions/{hash}/logs": {"hash": tx},
        "/api/v1/addresses/{address}": {"address": holder},
        "/api/v1/addresses/{address}/transactions": {"address": holder},
        "/api/v1/addresses/{address}/token-transfers": {"address": holder},
        "/api/v1/addresses/{address}/token-balances": {"address": holder},
        "/api/v1/tokens": {}, "/api/v1/tokens/{address}": {"address": token},
        "/api/v1/tokens/{address}/holders": {"address": token},
        "/api/v1/tokens/{address}/transfers": {"address": token},
        "/api/v1/keystones": {}, "/api/v1/keystones/{ident}": {"ident": keystone},
        "/api/v1/keystones/{ident}/publications": {"ident": keystone}, "/api/v1/pop-publications": {},
        "/api/v1/bitcoin/blocks": {}, "/api/v1/bitcoin/blocks/{ident}": {"ident": btc_block},
        "/api/v1/bitcoin/blocks/{ident}/transactions": {"ident": btc_block},
        "/api/v1/bitcoin/transactions/{txid}": {"txid": txid},
        "/api/v1/tunnel/mints": {}, "/api/v1/tunnel/deposits": {}, "/api/v1/tunnel/withdrawals": {},
        "/api/v1/provenance/mint/{hash}": {"hash": tx}, "/api/v1/provenance/block/{number}": {"number": block},
        "/api/v1/provenance/token/{address}": {"address": token},
        "/api/v1/provenance/address/{address}": {"address": holder},
        "/api/v1/status": {}, "/api/v1/reserves": {},
    }  # fmt: skip
    calls |= {
        "/api/v2/blocks": {}, "/api/v2/blocks/{id}": {"id": block}, "/api/v2/blocks/{id}/transactions": {"id": block},
        "/api/v2/transactions/{hash}": {"hash": tx}, "/api/v2/transactions/{hash}/logs": {"hash": tx},
        "/api/v2/transactions/{hash}/token-transfers": {"hash": tx},
        "/api/v2/addresses/{address}": {"address": holder},
        "/api/v2/addresses/{address}/transactions": {"address": holder},
        "/api/v2/addresses/{address}/token-transfers": {"address": holder},
        "/api/v2/tokens": {}, "/api/v2/tokens/{address}": {"address": token},
        "/api/v2/tokens/{address}/holders": {"address": token},
        "/api/v2/stats": {}, "/api/v2/main-page/indexing-status": {},
    }  # fmt: skip
    btc_height = str(deposit.block.height)
    esplora = {
        "/esplora/api/blocks/tip/height": {}, "/esplora/api/blocks/tip/hash": {}, "/esplora/api/blocks": {},
        "/esplora/api/blocks/{start_height}": {"start_height": btc_height},
        "/esplora/api/v1/blocks": {}, "/esplora/api/v1/blocks/{start_height}": {"start_height": btc_height},
        "/esplora/api/block-height/{height}": {"height": btc_height},
        "/esplora/api/block/{hash}": {"hash": btc_block}, "/esplora/api/v1/block/{hash}": {"hash": btc_block},
        "/esplora/api/block/{hash}/header": {"hash": btc_block},
        "/esplora/api/block/{hash}/status": {"hash": btc_block},
        "/esplora/api/block/{hash}/raw": {"hash": btc_block},
        "/esplora/api/tx/{txid}": {"txid": txid}, "/esplora/api/tx/{txid}/hex": {"txid": txid},
        "/esplora/api/tx/{txid}/raw": {"txid": txid}, "/esplora/api/tx/{txid}/status": {"txid": txid},
        "/esplora/api/tx/{txid}/merkle-proof": {"txid": txid},
    }  # fmt: skip
    calls |= esplora
    queries = {
        "/api/v1/search": {"q": tx}, "/api/v2/search": {"q": tx},
        "/api": {"module": "block", "action": "eth_block_number"},
    }  # fmt: skip
    reports = {"/api/v1/reports", "/api/v1/reports/{job_id}", "/api/v1/reports/{job_id}/download"}
    assert set(calls) | set(queries) | reports == set(schema.raw_schema["paths"])
    a_report_job_conforms_from_post_to_download(live_server, schema, token)
    session = requests.Session()
    for path in sorted(set(calls) | set(queries)):
        operation = schema[path]["GET"]
        case = operation.Case(path_parameters=calls.get(path) or {}, query=queries.get(path))
        response = session.get(live_server.url + case.formatted_path, params=case.query, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        if response.headers["Content-Type"].startswith("application/json"):
            assert response.json(), path
        else:  # Esplora's text and binary answers
            assert response.content, path
        operation.validate_response(response)


def a_report_job_conforms_from_post_to_download(live_server, schema, token):
    """The report endpoints on a real request: the 202, the status, then the file."""
    import time

    import requests

    body = {"scope": "token", "id": token, "format": "csv"}
    response = requests.post(f"{live_server.url}/api/v1/reports", json=body, timeout=30)
    assert response.status_code == 202, response.text[:300]
    schema["/api/v1/reports"]["POST"].validate_response(response)
    status = schema["/api/v1/reports/{job_id}"]["GET"]
    deadline = time.monotonic() + 240
    while True:
        job = requests.get(live_server.url + response.headers["Location"], timeout=30)
        status.validate_response(job)
        if job.json()["state"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job.json()["state"] == "done", job.json()
    download = requests.get(f"{live_server.url}{response.headers['Location']}/download", timeout=30)
    assert download.status_code == 200 and download.headers["Content-Type"].startswith("text/csv")
