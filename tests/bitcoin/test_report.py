"""The block report behind ``manage.py btc_decode_block`` (pure function + the command itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.bitcoin.decode import BitcoinDecodeError, MerkleRootMismatch
from indexer.bitcoin.merkle import merkle_root
from indexer.bitcoin.report import BlockInputError, block_report, read_block_bytes
from indexer.hashing import dsha256

REPO = Path(__file__).resolve().parents[2]
VAULT_SCRIPT = bytes.fromhex("0014") + b"\xaa" * 20
RECIPIENT = "d5115a20f25da7e9740e4fe6feeb151e90e277d6"

FIRST_POP = {
    "txid": "3a10ddc3774d23900b8b3c9876f3030b4736b3f857141f419750a9ade37d3bd7",
    "vout": 1,
    "keystone_id": "ed65b20e1709c1fa373b603ace3f8c44a0500f4060d3f1e075431bd1d29f4e16",
    "format": "v1",
    "l1_block_number": 7727075,
    "l2_block_number": 2640600,
    "parent_ep_hash_prefix": "bb139394e532cd044eff00",
    "prev_keystone_ep_hash_prefix": "c75ffb4cedbd3b998dcff5d0",
    "state_root": "dc7e0e94ae6b15773ba17f701c4c6bf5afe123c83edc7de9fd679c0f2b21d15a",
    "ep_hash_prefix": "a47fc230991c2d62a6657489",
    "miner_pubkey": "036da92b33136ebc1fa225dbbf8b55c3e5495ce59f3fe85bf8524d6453b3f269cb",
    "miner_hemi_address": "0x4591b9f8db2680bb1b5346f65c1e7cf07b5c7a87",
}


@pytest.fixture(scope="module")
def report(block_raw):
    return block_report(block_raw)


def test_report_of_the_fixture_block(report):
    assert list(report) == ["hash", "tx_count", "pop", "deposits"]
    assert report["hash"] == "00000000055a5c34a021ab3b1f3f6f0304b403775feb9e5a235dc7f724c5833f"
    assert report["tx_count"] == 3525
    assert len(report["pop"]) == 3521
    assert len({p["keystone_id"] for p in report["pop"]}) == 2909
    assert report["pop"][0] == FIRST_POP
    assert report["deposits"] == []
    json.dumps(report)  # JSON-ready as is


def test_report_lists_deposits_when_vaults_are_known(block, tx_bytes, block_bytes):
    deposit_raw = tx_bytes([(1_500_000, VAULT_SCRIPT), (0, b"\x6a\x28" + RECIPIENT.upper().encode())])
    pop_raw = block.txs[1].raw
    raws = [block.txs[0].raw, pop_raw, deposit_raw]
    root = merkle_root([dsha256(r) if i else block.txids_internal[0] for i, r in enumerate(raws)])
    raw = block_bytes((0x20000000, b"\x00" * 32, root, 1_700_000_000, 0x207FFFFF, 0), raws)

    report = block_report(raw, {VAULT_SCRIPT: "vault-0"})
    assert report["tx_count"] == 3
    assert [p["txid"] for p in report["pop"]] == [FIRST_POP["txid"]]
    assert report["deposits"] == [
        {
            "txid": dsha256(deposit_raw)[::-1].hex(),
            "vout": 0,
            "vault": "vault-0",
            "value_sats": 1_500_000,
            "recipient": "0x" + RECIPIENT,
            "recipient_format": "ascii-hex",
            "recipient_vout": 1,
        }
    ]
    assert block_report(raw)["deposits"] == []  # no vault scripts, no deposits


def test_legacy_publication_in_the_report(block, tx_bytes, block_bytes, vector_c_script):
    legacy_raw = tx_bytes([(0, vector_c_script)])
    raws = [block.txs[0].raw, legacy_raw]
    root = merkle_root([block.txids_internal[0], dsha256(legacy_raw)])
    report = block_report(block_bytes((1, b"\x00" * 32, root, 0, 0x207FFFFF, 0), raws))
    (entry,) = report["pop"]
    assert (entry["format"], entry["l1_block_number"], entry["l2_block_number"]) == ("legacy", None, 8463)
    assert entry["parent_ep_hash_prefix"] == "a38c96eb92aeb5ea26a4b884"
    assert (entry["miner_pubkey"], entry["miner_hemi_address"]) == (None, None)


def test_read_block_bytes_accepts_hex_text_and_raw(block_raw):
    text = block_raw.hex()
    wrapped = "\n".join(text[i : i + 64] for i in range(0, len(text), 64)).encode() + b"\n"
    assert read_block_bytes(wrapped) == block_raw
    assert read_block_bytes(b"  " + text.upper().encode() + b"\r\n") == block_raw
    assert read_block_bytes(block_raw) == block_raw
    with pytest.raises(BlockInputError, match="odd"):
        read_block_bytes(b"abc")
    with pytest.raises(BlockInputError, match="empty"):
        read_block_bytes(b" \n\t")


def test_report_rejects_a_bad_block(block_raw):
    tampered = bytearray(block_raw)
    tampered[-10] ^= 1
    with pytest.raises(MerkleRootMismatch):
        block_report(bytes(tampered))
    with pytest.raises(BitcoinDecodeError):
        block_report(block_raw[:1000])


# --------------------------------------------------------------------------- the command


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    """Run manage.py in a subprocess. The command touches no database or broker, but the
    project's settings insist on their URLs, so placeholders are given when unset."""
    env = dict(os.environ)
    env.setdefault("DEBUG", "true")
    env.setdefault("DATABASE_URL", "postgresql://unused@127.0.0.1:9/unused")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:9/0")
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "btc_decode_block", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


needs_manage_py = pytest.mark.skipif(not (REPO / "manage.py").exists(), reason="manage.py not present")


@needs_manage_py
def test_command_prints_the_report_for_raw_and_hex_files(tmp_path, block_raw, report):
    raw_file = tmp_path / "block.bin"
    raw_file.write_bytes(block_raw)
    hex_file = tmp_path / "block.hex"
    text = block_raw.hex()
    hex_file.write_text("\n".join(text[i : i + 80] for i in range(0, len(text), 80)))
    for path in (raw_file, hex_file):
        result = _manage(str(path))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == report


@needs_manage_py
def test_command_fails_loudly_on_bad_input(tmp_path, block_raw):
    bad = tmp_path / "bad.hex"
    bad.write_text(block_raw[:500].hex())
    result = _manage(str(bad))
    assert result.returncode != 0
    assert "not a valid Bitcoin block: AbsurdCount" in result.stderr
    missing = _manage(str(tmp_path / "missing.bin"))
    assert missing.returncode != 0 and "cannot read" in missing.stderr
