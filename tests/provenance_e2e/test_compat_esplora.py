"""The Esplora subset (``/esplora/api/``) proven compatible against a LIVE Hemiscope on devnet
data indexed by the real Celery worker:

* our own Esplora source (``indexer/bitcoin/esplora.py``) syncs a second database from it, and
  the synced rows equal the stored ones;
* the answers match the rows (block, header, status, tx with fee and prevouts, merkle proof);
* two third-party clients read tip, block, tx and merkle proof from it: ``@mempool/mempool.js``
  (npm, installed by ``make setup`` under tests/clients) and bdkpython's EsploraClient; the
  merkle proof they get folds to the header's merkle root.

One test function: the devnet story (a treasury lock, indexed) is the slow part every check needs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from indexer.bitcoin.decode import decode_header, decode_tx
from indexer.bitcoin.merkle import verify_merkle_branch
from indexer.hashing import dsha256

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "tests" / "clients"
BLOCK_COLUMNS = (
    "hash_internal, height, prev_hash_internal, merkle_root_internal, version, time, bits, nonce, "
    "header_raw, chainwork, in_active_chain, tx_count, size"
)


@pytest.fixture
def esplora_settings(settings):
    settings.THROTTLE_ANON_RATE = "1000000/min"
    settings.ESPLORA_RAW_BLOCK_RATE = "1000000/min"


def test_esplora_subset_serves_our_source_mempool_js_and_bdk(live_server, story, esplora_settings, devnet):
    base = f"{live_server.url}/esplora/api"
    stored_rows_and_answers_agree(base, story, devnet)
    a_second_database_syncs_from_it_through_our_esplora_source(base, live_server)
    mempool_js_reads_tip_block_tx_and_merkle_proof(live_server, story)
    bdk_reads_tip_block_tx_and_merkle_proof(base, story)


def _get(url: str):
    import requests

    response = requests.get(url, timeout=30)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return response


def _proof_folds_to_header(txid_display: str, proof: dict, header: bytes) -> bool:
    branch = [bytes.fromhex(node)[::-1] for node in proof["merkle"]]
    root = decode_header(header).merkle_root_internal
    return verify_merkle_branch(bytes.fromhex(txid_display)[::-1], branch, proof["pos"], root)


def stored_rows_and_answers_agree(base: str, story: dict, devnet) -> None:
    from indexer.bitcoin.models import BitcoinBlock, BitcoinTransaction

    tip = BitcoinBlock.objects.active().order_by("-height").first()
    assert _get(f"{base}/blocks/tip/height").text == str(tip.height)
    assert _get(f"{base}/blocks/tip/hash").text == tip.hash_display

    deposit_block = BitcoinBlock.objects.get(hash_internal=bytes.fromhex(story["deposit_block"])[::-1])
    assert _get(f"{base}/block-height/{deposit_block.height}").text == deposit_block.hash_display
    block = _get(f"{base}/block/{deposit_block.hash_display}").json()
    assert block["id"] == deposit_block.hash_display
    assert (block["height"], block["timestamp"], block["bits"], block["nonce"]) == (
        deposit_block.height, deposit_block.time, deposit_block.bits, deposit_block.nonce)  # fmt: skip
    assert block["merkle_root"] == bytes(deposit_block.merkle_root_internal)[::-1].hex()
    assert block["previousblockhash"] == deposit_block.prev_hash_display
    assert (block["tx_count"], block["size"]) == (deposit_block.tx_count, deposit_block.size)
    header = bytes.fromhex(_get(f"{base}/block/{deposit_block.hash_display}/header").text)
    assert header == bytes(deposit_block.header_raw) and dsha256(header) == bytes(deposit_block.hash_internal)
    status = _get(f"{base}/block/{deposit_block.hash_display}/status").json()
    child = BitcoinBlock.objects.active().get(height=deposit_block.height + 1)
    assert status == {"in_best_chain": True, "height": deposit_block.height, "next_best": child.hash_display}
    raw_block = _get(f"{base}/block/{deposit_block.hash_display}/raw").content
    assert dsha256(raw_block[:80]) == bytes(deposit_block.hash_internal) and len(raw_block) == deposit_block.size
    assert [b["height"] for b in _get(f"{base}/blocks/{deposit_block.height}").json()] == list(
        range(deposit_block.height, max(-1, deposit_block.height - 10), -1))  # fmt: skip

    # The deposit: fee and prevouts from the spent outputs kept at ingest, checked against
    # the node's own copy of each spent transaction.
    row = BitcoinTransaction.objects.get(txid_internal=bytes.fromhex(story["deposit_txid"])[::-1])
    assert row.prevouts is not None, "the sync did not keep the deposit's spent outputs"
    tx = _get(f"{base}/tx/{story['deposit_txid']}").json()
    parsed = decode_tx(bytes(row.raw))
    spent_total = 0
    for vin, txin in zip(tx["vin"], parsed.inputs, strict=True):
        node_prev = decode_tx(devnet.net.btc.getrawtransaction_raw(txin.prev_txid_display)).outputs[txin.vout]
        assert vin["txid"] == txin.prev_txid_display and vin["vout"] == txin.vout
        assert vin["prevout"]["value"] == node_prev.value_sats
        assert vin["prevout"]["scriptpubkey"] == node_prev.script_pubkey.hex()
        spent_total += node_prev.value_sats
    assert tx["fee"] == spent_total - sum(o.value_sats for o in parsed.outputs) > 0
    assert [o["value"] for o in tx["vout"]] == [o.value_sats for o in parsed.outputs]
    assert (tx["size"], tx["weight"]) == (parsed.size, parsed.weight)
    assert tx["status"] == {"confirmed": True, "block_height": deposit_block.height,
                            "block_hash": deposit_block.hash_display, "block_time": deposit_block.time}  # fmt: skip
    assert _get(f"{base}/tx/{story['deposit_txid']}/hex").text == bytes(row.raw).hex()
    assert _get(f"{base}/tx/{story['deposit_txid']}/raw").content == bytes(row.raw)
    assert _get(f"{base}/tx/{story['deposit_txid']}/status").json() == tx["status"]
    proof = _get(f"{base}/tx/{story['deposit_txid']}/merkle-proof").json()
    assert proof["block_height"] == deposit_block.height and proof["pos"] == row.tx_index
    assert _proof_folds_to_header(story["deposit_txid"], proof, header)

    # Errors in Esplora's shape: plain text, never the site's HTML.
    import requests

    missing = requests.get(f"{base}/tx/{'00' * 32}", timeout=30)
    assert (missing.status_code, missing.text) == (404, "Transaction not found")
    assert missing.headers["Content-Type"].startswith("text/plain")
    bad = requests.get(f"{base}/block/not-a-hash", timeout=30)
    assert bad.status_code == 400 and bad.headers["Content-Type"].startswith("text/plain")
    elsewhere = requests.get(f"{base}/address/whatever/utxo", timeout=30)
    assert elsewhere.status_code == 404 and elsewhere.headers["Content-Type"].startswith("text/plain")


def _admin_connection():
    from django.db import connection

    s = connection.settings_dict
    admin = psycopg.connect(host=s["HOST"], port=s["PORT"] or None, user=s["USER"], password=s["PASSWORD"] or None,
                            dbname="postgres", autocommit=True)  # fmt: skip
    return admin


def a_second_database_syncs_from_it_through_our_esplora_source(base: str, live_server) -> None:
    from django.db import connection

    from indexer.bitcoin.models import BitcoinBlock, BitcoinTransaction
    from tests.conftest import _test_database_url

    name = f"esplora_copy_{os.getpid()}"
    admin = _admin_connection()
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = _test_database_url().rsplit("/", 1)[0] + f"/{name}"
        # The copy sees Bitcoin only through Hemiscope: a devnet file without the node's URL.
        state = json.loads(Path(os.environ["DEVNET_STATE_FILE"]).read_text())
        state.pop("bitcoin_rpc_url", None)
        state_file = Path(os.environ["DEVNET_STATE_FILE"]).with_name("esplora-copy.json")
        state_file.write_text(json.dumps(state))
        env = dict(os.environ, DATABASE_URL=url, DEVNET_STATE_FILE=str(state_file), BITCOIN_ESPLORA_URL=base)
        tip = BitcoinBlock.objects.active().order_by("-height").values_list("height", flat=True).first()
        for command in (["migrate", "--noinput"], ["btc_sync", "--from", "0", "--to", str(tip)]):
            run = subprocess.run([sys.executable, "manage.py", *command], cwd=REPO, env=env, capture_output=True,
                                 text=True, timeout=600, check=False)  # fmt: skip
            assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
        with psycopg.connect(url) as copy:
            table = BitcoinBlock._meta.db_table
            copied = copy.execute(f"SELECT {BLOCK_COLUMNS} FROM {table} ORDER BY height").fetchall()  # noqa: S608
            copied_pops = copy.execute(
                f"SELECT txid_internal, raw, merkle_branch, prevouts_unavailable_at IS NOT NULL "  # noqa: S608
                f"FROM {BitcoinTransaction._meta.db_table} ORDER BY txid_internal"
            ).fetchall()
        with connection.cursor() as cur:
            cur.execute(f"SELECT {BLOCK_COLUMNS} FROM {table} WHERE height <= %s AND in_active_chain "  # noqa: S608
                        "ORDER BY height", [tip])  # fmt: skip
            ours = cur.fetchall()
        normalise = lambda rows: [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows]  # noqa: E731
        assert len(copied) == tip + 1
        assert normalise(copied) == normalise(ours)
        # The copy knows no vault (no Hemi side), so it stores the PoP transactions; the wallet
        # outputs they spend are not Hemiscope's to serve, which the copy records, not guesses.
        pops = {bytes(p.transaction.txid_internal): p.transaction for p in _pop_rows()}
        assert pops and {bytes(t) for t, *_ in copied_pops} >= set(pops)
        for txid, raw, branch, unavailable in copied_pops:
            ours = pops.get(bytes(txid))
            if ours is not None:
                assert (bytes(raw), bytes(branch)) == (bytes(ours.raw), bytes(ours.merkle_branch))
                assert unavailable
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _pop_rows():
    from indexer.bitcoin.models import PopPublication

    return list(PopPublication.objects.filter(block__in_active_chain=True).select_related("transaction"))


MEMPOOL_JS = r"""
const mempoolJS = require('@mempool/mempool.js');
const [hostname, txid] = process.argv.slice(1);  // node -e: no script path in argv
(async () => {
  const { bitcoin: { blocks, transactions } } = mempoolJS({ hostname, protocol: 'http' });
  const height = await blocks.getBlocksTipHeight();
  const tipHash = await blocks.getBlocksTipHash();
  const status = await transactions.getTxStatus({ txid });
  const block = await blocks.getBlock({ hash: status.block_hash });
  const header = await blocks.getBlockHeader({ hash: status.block_hash });
  const tx = await transactions.getTx({ txid });
  const proof = await transactions.getTxMerkleProof({ txid });
  const recent = await blocks.getBlocks({ start_height: height });
  console.log(JSON.stringify({ height, tipHash, block, header, tx, proof, recent }));
})().catch((err) => { console.error(String(err && err.stack || err)); process.exit(1); });
"""


def mempool_js_reads_tip_block_tx_and_merkle_proof(live_server, story) -> None:
    from indexer.bitcoin.models import BitcoinBlock

    node = shutil.which("node")
    assert node, "node is not installed (make setup installs it)"
    assert (CLIENTS / "node_modules" / "@mempool" / "mempool.js").is_dir(), "run make setup (tests/clients)"
    # mempool.js builds <protocol>://<hostname>/api/: our base is /esplora/api/.
    hostname = live_server.url.removeprefix("http://") + "/esplora"
    run = subprocess.run([node, "-e", MEMPOOL_JS, hostname, story["deposit_txid"]], cwd=CLIENTS,
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout)
    tip = BitcoinBlock.objects.active().order_by("-height").first()
    assert (got["height"], got["tipHash"]) == (tip.height, tip.hash_display)
    assert got["block"]["id"] == story["deposit_block"] and got["block"]["stale"] is False
    assert got["tx"]["txid"] == story["deposit_txid"] and got["tx"]["fee"] > 0
    assert all(vin["prevout"] is not None for vin in got["tx"]["vin"])
    assert _proof_folds_to_header(story["deposit_txid"], got["proof"], bytes.fromhex(got["header"]))
    assert [b["height"] for b in got["recent"]] == list(range(tip.height, tip.height - 10, -1))


def bdk_reads_tip_block_tx_and_merkle_proof(base: str, story) -> None:
    import bdkpython as bdk

    from indexer.bitcoin.models import BitcoinBlock, BitcoinTransaction

    client = bdk.EsploraClient(base)
    tip = BitcoinBlock.objects.active().order_by("-height").first()
    assert client.get_height() == tip.height
    assert str(client.get_tip_hash()) == tip.hash_display
    deposit_block = BitcoinBlock.objects.get(hash_internal=bytes.fromhex(story["deposit_block"])[::-1])
    assert str(client.get_block_hash(deposit_block.height)) == deposit_block.hash_display
    header = client.get_header_by_hash(bdk.BlockHash.from_string(deposit_block.hash_display))
    assert str(header.merkle_root) == bytes(deposit_block.merkle_root_internal)[::-1].hex()
    block = client.get_block_by_hash(bdk.BlockHash.from_string(deposit_block.hash_display))
    assert block is not None and str(block.header.merkle_root) == str(header.merkle_root)

    txid = bdk.Txid.from_string(story["deposit_txid"])
    row = BitcoinTransaction.objects.get(txid_internal=bytes.fromhex(story["deposit_txid"])[::-1])
    tx = client.get_tx(txid)
    assert bytes(tx.serialize()) == bytes(row.raw)
    info = client.get_tx_info(txid)
    assert str(info.txid) == story["deposit_txid"] and info.fee > 0
    assert info.status.confirmed and info.status.block_height == deposit_block.height
    proof = client.get_merkle_proof(txid)
    assert proof.block_height == deposit_block.height and proof.pos == row.tx_index
    as_json = {"merkle": [str(node) for node in proof.merkle], "pos": proof.pos}
    assert _proof_folds_to_header(story["deposit_txid"], as_json, bytes(deposit_block.header_raw))
