"""Install the devnet's npm packages and compile its contracts, only when something changed.

Run ``python -m devnet.build`` (or call :func:`ensure_built`). Both steps are stamped:

* ``npm ci`` runs when ``node_modules`` is missing or its stamp differs from the hash of
  ``package.json`` + ``package-lock.json``; the stamp lives inside ``node_modules`` so a wiped
  ``node_modules`` always reinstalls.
* solc-js runs when the hash of the contract sources, the compiler settings or the pinned solc
  version differs from ``build/.stamp.json``; it writes ``build/<Name>.json`` (abi + bytecode).

A file lock in ``build/`` serialises concurrent callers (parallel test workers, a runserver
and a management command starting at once) so npm never runs twice over the same tree.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEVNET_DIR = Path(__file__).resolve().parent
CONTRACTS_DIR = DEVNET_DIR / "contracts"
BUILD_DIR = DEVNET_DIR / "build"
NODE_MODULES = DEVNET_DIR / "node_modules"
NPM_STAMP = NODE_MODULES / ".hemiscope-npm-stamp"
BUILD_STAMP = BUILD_DIR / ".stamp.json"
LOCK_FILE = BUILD_DIR / ".lock"

SOLC_SETTINGS: dict[str, object] = {
    "optimizer": {"enabled": True, "runs": 200},
    # cancun for MCOPY; anvil's default hardfork is newer, so this runs there unchanged.
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


class BuildError(RuntimeError):
    """npm or solc failed; the message carries their output."""


@contextmanager
def _build_lock() -> Iterator[None]:
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FILE, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _npm_inputs_hash() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update(name.encode() + b"\0" + (DEVNET_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()


def ensure_node_modules() -> bool:
    """Run ``npm ci`` if node_modules is missing or stale. Returns True if it ran."""
    with _build_lock():
        return _ensure_node_modules_locked()


def _ensure_node_modules_locked() -> bool:
    wanted = _npm_inputs_hash()
    if NPM_STAMP.exists() and NPM_STAMP.read_text().strip() == wanted:
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is not on PATH; the devnet needs Node 20 + npm")
    started = time.monotonic()
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=DEVNET_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"npm ci failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    NPM_STAMP.write_text(wanted + "\n")
    print(f"devnet: npm ci done in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return True


def _pinned_solc_version() -> str:
    lock = json.loads((DEVNET_DIR / "package-lock.json").read_text())
    return str(lock["packages"]["node_modules/solc"]["version"])


def _contract_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(CONTRACTS_DIR.glob("*.sol"))}


def _sources_hash(sources: dict[str, str]) -> str:
    digest = hashlib.sha256()
    digest.update(_pinned_solc_version().encode() + b"\0")
    digest.update(json.dumps(SOLC_SETTINGS, sort_keys=True).encode() + b"\0")
    for name, text in sources.items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def _artifacts_present(stamp: dict[str, object]) -> bool:
    names = stamp.get("contracts")
    return isinstance(names, list) and all((BUILD_DIR / f"{n}.json").exists() for n in names)


def compile_contracts(*, force: bool = False) -> bool:
    """Compile ``contracts/*.sol`` into ``build/<Name>.json`` if sources changed. True if it ran."""
    with _build_lock():
        _ensure_node_modules_locked()
        return _compile_locked(force=force)


def _compile_locked(*, force: bool) -> bool:
    sources = _contract_sources()
    wanted = _sources_hash(sources)
    if not force and BUILD_STAMP.exists():
        stamp = json.loads(BUILD_STAMP.read_text())
        if stamp.get("source_hash") == wanted and _artifacts_present(stamp):
            return False
    started = time.monotonic()
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": SOLC_SETTINGS,
    }
    proc = subprocess.run(
        ["node", str(DEVNET_DIR / "solc_compile.cjs")],
        cwd=DEVNET_DIR,
        input=json.dumps(standard_input),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"solc-js crashed (exit {proc.returncode}):\n{proc.stderr}")
    result = json.loads(proc.stdout)
    output = result["output"]
    diagnostics = output.get("errors", [])
    errors = [d for d in diagnostics if d.get("severity") == "error"]
    if errors:
        messages = "\n".join(d.get("formattedMessage", d["message"]) for d in errors)
        raise BuildError(f"solc errors:\n{messages}")
    for warning in diagnostics:
        print(f"devnet: solc {warning.get('formattedMessage', warning['message'])}", file=sys.stderr)

    written: list[str] = []
    for source_name, contracts in output.get("contracts", {}).items():
        for contract_name, data in contracts.items():
            bytecode = data["evm"]["bytecode"]["object"]
            if not bytecode or not data["abi"]:
                continue  # abstract contracts, interfaces and internal-only libraries: nothing to deploy
            artifact = {
                "contractName": contract_name,
                "sourceName": source_name,
                "compiler": f"solc-js {result['version']}",
                "abi": data["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
            }
            _write_atomic(BUILD_DIR / f"{contract_name}.json", json.dumps(artifact, indent=1))
            written.append(contract_name)
    _write_atomic(BUILD_STAMP, json.dumps({"source_hash": wanted, "contracts": sorted(written)}, indent=1))
    print(f"devnet: compiled {len(written)} contracts in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return True


def _write_atomic(path: Path, text: str) -> None:
    # readers (tests in other processes) must never see a half-written artifact
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


def ensure_built(*, force: bool = False) -> Path:
    """npm packages installed and contracts compiled; returns the build directory."""
    compile_contracts(force=force)
    return BUILD_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install devnet npm packages and compile contracts.")
    parser.add_argument("--force", action="store_true", help="recompile even if sources are unchanged")
    args = parser.parse_args(argv)
    try:
        ensure_built(force=args.force)
    except BuildError as exc:
        print(f"devnet build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
