"""The offline verifier runs in a plain shell with nothing configured, through both entry points.

Each command runs as a subprocess with an empty environment (PATH only): no SECRET_KEY,
DATABASE_URL, REDIS_URL or DEBUG. Exit codes: 0 verified, 1 a failed link (named), 2 an
unreadable file or a usage error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.verify import canonical_bytes
from tests.explorer.evidence_story import EvidenceStory

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINTS = {
    "python -m explorer.verify": ["-m", "explorer.verify"],
    "manage.py verify_evidence": ["manage.py", "verify_evidence"],
}


def run_scrubbed(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        input=stdin,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    data = canonical_bytes(EvidenceStory().bundle())
    folder = tmp_path_factory.mktemp("bundles")
    paths = {
        "good": folder / "good.json",
        "bad": folder / "bad.json",
        "hostile": folder / "hostile.json",
        "missing": folder / "does-not-exist.json",
    }
    paths["good"].write_bytes(data)
    paths["bad"].write_bytes(data.replace(b'"superfinal": true', b'"superfinal": false'))
    # Control characters and a terminal escape in a claim: the report must not echo them raw.
    paths["hostile"].write_bytes(data.replace(b'"pop_txid": "', b'"pop_txid": "\\u001b[2J\\u202e'))
    return paths


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_valid_bundle_exits_0_with_nothing_configured(entry, files):
    result = run_scrubbed([*ENTRY_POINTS[entry], str(files["good"])])
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert out.count("ok  ") == 9
    assert out.strip().endswith("all links verified")


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_failed_link_exits_1_and_is_named(entry, files):
    result = run_scrubbed([*ENTRY_POINTS[entry], str(files["bad"])])
    assert result.returncode == 1
    assert "FAIL finality: claim 'superfinal' is False" in result.stdout.decode()
    assert "verification failed at link 'finality'" in result.stderr.decode()


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_an_unreadable_file_exits_2(entry, files):
    missing = run_scrubbed([*ENTRY_POINTS[entry], str(files["missing"])])
    assert missing.returncode == 2
    assert f"cannot read {files['missing']}: No such file or directory" in missing.stderr.decode()
    directory = run_scrubbed([*ENTRY_POINTS[entry], str(files["good"].parent)])
    assert directory.returncode == 2
    assert "cannot read" in directory.stderr.decode()


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_usage_error_exits_2(entry):
    for args in ([], ["a.json", "b.json"], ["--no-such-flag", "a.json"]):
        result = run_scrubbed([*ENTRY_POINTS[entry], *args])
        assert result.returncode == 2, args
        assert "usage:" in result.stderr.decode()


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_not_json_exits_1_at_the_encoding_link_and_stdin_works(entry, files):
    result = run_scrubbed([*ENTRY_POINTS[entry], "-"], stdin=b"[" * 100_000)
    assert result.returncode == 1
    assert "verification failed at link 'bundle encoding': nested 100000 deep" in result.stderr.decode()
    good = run_scrubbed([*ENTRY_POINTS[entry], "-"], stdin=files["good"].read_bytes())
    assert good.returncode == 0, good.stderr.decode()


def test_the_report_never_echoes_control_characters(files):
    result = run_scrubbed([*ENTRY_POINTS["python -m explorer.verify"], str(files["hostile"])])
    assert result.returncode == 1
    text = (result.stdout + result.stderr).decode()
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[2J\\u202e" in text


def test_the_verifier_module_does_not_import_django():
    probe = "import sys, explorer.verify; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = run_scrubbed(["-c", probe])
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "[]"


def test_call_command_reports_the_same_exit_codes(files):
    from django.core.management import CommandError, call_command

    call_command("verify_evidence", str(files["good"]))
    with pytest.raises(CommandError) as failed:
        call_command("verify_evidence", str(files["bad"]))
    assert failed.value.returncode == 1
    with pytest.raises(CommandError) as unreadable:
        call_command("verify_evidence", str(files["missing"]))
    assert unreadable.value.returncode == 2
