"""Offline verification of a Hemiscope evidence bundle: no database, no network, no Django.

Every byte in a bundle is either proven (hashed into something the next link checks) or a
claim that the verifier recomputes and compares, so changing any single byte makes a link
fail. The links are checked in trust-chain order and the first failure stops the run:

1. bundle encoding     - within the size/nesting limits, exactly the canonical JSON of its own
                         content, every section present with exactly its keys;
2. bitcoin headers     - each header's proof of work, consecutive linkage by prev hash;
3. bitcoin deposit     - deposit tx merkle-proven in its block, tunnel deposit rules;
4. hemi headers        - keccak(RLP) hashes, consecutive numbers, parent-hash linkage;
5. hemi mint           - mint tx and receipt proven against the block's MPT roots, the
                         DepositConfirmed and hemiBTC mint logs agree with the deposit;
6. hvm view            - the deposit's header was relayed by updateHvmState before the mint and
                         had >= 4 confirmations in the hVM view the mint executed in;
7. keystone            - the anchoring keystone rebuilt from Hemi headers + its L1-info tx;
8. bitcoin anchoring   - a PoP tx, merkle-proven, publishes exactly that keystone;
9. finality            - publication confirmations against the last header; claims agree.

The bundle is untrusted: whatever the bytes, ``verify_bundle`` returns named links ending at
the first failure and raises nothing. It is the reusable unit (one bundle, bounded parsing);
``python -m explorer.verify FILE`` and ``python manage.py verify_evidence FILE`` wrap it and
exit 0 when verified, 1 at a failed link (named), 2 for an unreadable file or a usage error.
Every byte rule is the indexers' own (decoders in ``indexer/``), never re-implemented here.

The same commands verify a whole audit report (``audit_report --format json``): a file that
starts with a tar header goes to ``explorer/verify_report.py``, which streams it and runs
``verify_bundle`` on each bundle in turn.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import rlp

from explorer.bounds import DEFAULT_JSON_LIMITS, BoundsError, JsonLimits, load_json
from explorer.finality import SUPERFINALITY_CONFIRMATIONS
from explorer.verify_input import (
    LinkFailed,
    check_claim,
    check_schema,
    read_hex,
    read_hex_list,
    read_int,
    read_raw_receipt,
    read_raw_tx,
    rlp_bounded,
    short,
)
from indexer.bitcoin.decode import BitcoinDecodeError, decode_header, decode_tx
from indexer.bitcoin.headers import NETWORKS, HeaderRejected, check_proof_of_work
from indexer.bitcoin.merkle import verify_merkle_branch
from indexer.bitcoin.pop import scan_tx
from indexer.bitcoin.tunnel import check_deposit
from indexer.hashing import keccak256
from indexer.hemi.events import (
    DEPOSIT_CONFIRMED_TOPIC,
    EventDecodeError,
    decode_deposit_confirmed,
    decode_transfer,
)
from indexer.hemi.hvm import HvmDecodeError, decode_update_hvm_state
from indexer.hemi.l1info import L1InfoDecodeError, decode_l1_info
from indexer.hemi.mpt import ProofError, verify_ordered_proof
from indexer.keystone import KEYSTONE_PERIOD, KeystoneDecodeError, L2Keystone, is_keystone_number

FORMAT = "hemiscope-evidence/1"
# Which Bitcoin network each Hemi network anchors to; a bundle must name a consistent pair.
BITCOIN_NETWORK_OF = {"devnet": "regtest", "testnet": "testnet3", "mainnet": "mainnet"}
MIN_DEPOSIT_CONFIRMATIONS = 4
ZERO32 = b"\x00" * 32
LINK_NAMES = (
    "bundle encoding",
    "bitcoin headers",
    "bitcoin deposit",
    "hemi headers",
    "hemi mint",
    "hvm view",
    "keystone",
    "bitcoin anchoring",
    "finality",
)
EXIT_VERIFIED, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2

@dataclass(frozen=True)
class LinkResult:
    link: str
    ok: bool
    detail: str
    # True when the failure is an exception the verifier did not name: a verifier bug, still
    # reported as this link failing (never raised), and flagged so the fuzz tests demand none.
    unexpected: bool = False


@dataclass(frozen=True)
class Verification:
    """The links checked, in order, ending at the first failure."""

    links: tuple[LinkResult, ...]

    @property
    def ok(self) -> bool:
        return len(self.links) == len(LINK_NAMES) and all(r.ok for r in self.links)

    @property
    def failed(self) -> LinkResult | None:
        return next((r for r in self.links if not r.ok), None)


def canonical_bytes(bundle: dict) -> bytes:
    """The one serialization of a bundle: the exporter writes it, the verifier demands it."""
    return (json.dumps(bundle, sort_keys=True, indent=1, ensure_ascii=True) + "\n").encode()


def decode_bundle(data: bytes, limits: JsonLimits = DEFAULT_JSON_LIMITS) -> dict:
    """The "bundle encoding" link: bounded parse, canonical bytes, exact sections, one network."""
    link = "bundle encoding"
    try:
        bundle = load_json(data, limits)
    except BoundsError as exc:
        raise LinkFailed(link, str(exc)) from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise LinkFailed(link, f"not a {FORMAT} bundle")
    if canonical_bytes(bundle) != data:
        raise LinkFailed(link, "bytes differ from the canonical serialization")
    check_schema(bundle, link)
    network = bundle["network"]
    name, bitcoin_network = network["name"], network["bitcoin_network"]
    if not isinstance(name, str) or BITCOIN_NETWORK_OF.get(name) != bitcoin_network:
        raise LinkFailed(link, "network name and Bitcoin network do not match")
    period = network["keystone_period"]
    if type(period) is not int or period != KEYSTONE_PERIOD:
        raise LinkFailed(link, f"keystone period must be {KEYSTONE_PERIOD}")
    return bundle


class _Verifier:
    def __init__(self, bundle: dict):
        # decode_bundle checked every section's keys; values are still untrusted.
        self.network = bundle["network"]
        self.claims = bundle["claims"]
        self.bitcoin = bundle["bitcoin"]
        self.hemi = bundle["hemi"]
        self.btc_headers: dict[int, object] = {}
        self.hemi_headers: dict[int, dict] = {}

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        return list(
            zip(
                LINK_NAMES[1:],
                (
                    self.bitcoin_headers,
                    self.bitcoin_deposit,
                    self.hemi_headers_link,
                    self.hemi_mint,
                    self.hvm_view,
                    self.keystone,
                    self.anchoring,
                    self.finality,
                ),
                strict=True,
            )
        )

    # -- helpers -------------------------------------------------------------------------------

    def btc_tx_in_block(self, link: str, item: dict):
        height = read_int(item["height"], link, "height")
        index = read_int(item["tx_index"], link, "tx_index")
        header = self.btc_headers.get(height)
        if header is None:
            raise LinkFailed(link, f"no Bitcoin header at height {height} in the bundle")
        try:
            tx = decode_tx(read_hex(item["raw_tx"], link, "raw_tx"))
        except BitcoinDecodeError as exc:
            raise LinkFailed(link, f"raw tx does not decode: {exc}") from exc
        branch = read_hex_list(item["merkle_branch"], link, "merkle branch node")
        # Without this bound, index bits above the branch length would go unchecked.
        if index >= 1 << len(branch):
            raise LinkFailed(link, f"tx_index {index} is out of range for a {len(branch)}-node branch")
        if any(len(n) != 32 for n in branch) or not verify_merkle_branch(
            tx.txid_internal, branch, index, header.merkle_root_internal
        ):
            raise LinkFailed(link, f"merkle branch does not reach the merkle root of block {height}")
        return tx, height

    def hemi_tx(self, link: str, item: dict, proof_key: str = "tx_proof", root: str = "transactions_root"):
        """The value a Merkle-Patricia proof in ``item`` proves: (value, block number, index)."""
        number = read_int(item["number"], link, "number")
        index = read_int(item["tx_index"], link, "tx_index")
        header = self.hemi_headers.get(number)
        if header is None:
            raise LinkFailed(link, f"no Hemi header for block {number} in the bundle")
        proof = [rlp_bounded(n, link, "proof node") for n in read_hex_list(item[proof_key], link, "proof node")]
        try:
            value = verify_ordered_proof(header[root], index, proof)
        except ProofError as exc:
            what = "receipt" if root == "receipts_root" else "transaction"
            raise LinkFailed(link, f"{what} proof fails against block {number}: {exc}") from exc
        return value, number, index

    # -- links ---------------------------------------------------------------------------------

    def bitcoin_headers(self) -> str:
        link = "bitcoin headers"
        params = NETWORKS.get(self.network["bitcoin_network"])
        if params is None:
            raise LinkFailed(link, f"unknown Bitcoin network {short(self.network['bitcoin_network'])}")
        height = read_int(self.bitcoin["start_height"], link, "start_height")
        prev = None
        headers = read_hex_list(self.bitcoin["headers"], link, "header")
        if not headers:
            raise LinkFailed(link, "no headers")
        for raw in headers:
            try:
                header = decode_header(raw)
                check_proof_of_work(header, params)
            except (BitcoinDecodeError, HeaderRejected) as exc:
                raise LinkFailed(link, f"header {height}: {exc}") from exc
            if prev is not None and header.prev_hash_internal != prev.hash_internal:
                raise LinkFailed(link, f"header {height} does not link to header {height - 1}")
            self.btc_headers[height] = header
            prev, height = header, height + 1
        tip_height = height - 1
        check_claim(self.claims, "bitcoin_tip_height", tip_height, link)
        check_claim(self.claims, "bitcoin_tip_hash", prev.hash_display, link)
        return f"{len(headers)} headers, proof of work and linkage hold up to height {tip_height}"

    def bitcoin_deposit(self) -> str:
        link = "bitcoin deposit"
        tx, height = self.btc_tx_in_block(link, self.bitcoin["deposit"])
        check_claim(self.claims, "deposit_txid", tx.txid_display, link)
        script = read_hex(self.claims["vault_script"], link, "vault_script")
        check = check_deposit(tx, {script: "vault"})
        if check.deposit is None:
            raise LinkFailed(link, f"not a valid tunnel deposit to the vault script: {check.reason}")
        d = check.deposit
        check_claim(self.claims, "deposit_vout", d.vout, link)
        check_claim(self.claims, "deposit_sats", d.value_sats, link)
        check_claim(self.claims, "recipient", d.recipient, link)
        self.deposit_height = height
        return f"tx {d.txid_display} in block {height} pays {d.value_sats} sats to the vault for {d.recipient}"

    def hemi_headers_link(self) -> str:
        link = "hemi headers"
        number = read_int(self.hemi["start_number"], link, "start_number")
        prev_hash = None
        headers = read_hex_list(self.hemi["headers"], link, "header")
        if not headers:
            raise LinkFailed(link, "no headers")
        for raw in headers:
            try:
                items = rlp.decode(rlp_bounded(raw, link, f"header {number}"), strict=True)
            except rlp.exceptions.DecodingError as exc:
                raise LinkFailed(link, f"header {number} is not RLP: {exc}") from exc
            if not isinstance(items, list) or len(items) < 15 or not all(isinstance(i, bytes) for i in items):
                raise LinkFailed(link, f"header {number} is not a header field list")
            if rlp.encode(items) != raw:
                raise LinkFailed(link, f"header {number} is not canonical RLP")
            if int.from_bytes(items[8], "big") != number:
                raise LinkFailed(link, f"header at position {number} has number {int.from_bytes(items[8], 'big')}")
            block_hash = keccak256(raw)
            if prev_hash is not None and items[0] != prev_hash:
                raise LinkFailed(link, f"block {number} does not link to block {number - 1}")
            self.hemi_headers[number] = {
                "hash": block_hash,
                "parent_hash": items[0],
                "state_root": items[3],
                "transactions_root": items[4],
                "receipts_root": items[5],
            }
            prev_hash, number = block_hash, number + 1
        check_claim(self.claims, "hemi_last_block_hash", "0x" + prev_hash.hex(), link)
        return f"{len(headers)} Hemi headers hash-linked up to block {number - 1}"

    def hemi_mint(self) -> str:
        link = "hemi mint"
        item = self.hemi["mint"]
        raw_tx, number, _ = self.hemi_tx(link, item)
        check_claim(self.claims, "mint_tx_hash", "0x" + keccak256(raw_tx).hex(), link)
        raw_receipt, _, _ = self.hemi_tx(link, item, "receipt_proof", "receipts_root")
        receipt = read_raw_receipt(raw_receipt, link)
        if receipt.status != 1:
            raise LinkFailed(link, "the mint transaction reverted")
        manager = read_hex(self.network["tunnel_manager"], link, "tunnel_manager", prefixed=True, size=20)
        hemibtc = read_hex(self.network["hemibtc"], link, "hemibtc", prefixed=True, size=20)
        try:
            confirmed = [
                decode_deposit_confirmed(log)
                for log in receipt.logs
                if log.address == manager and log.topics[:1] == (DEPOSIT_CONFIRMED_TOPIC,)
            ]
            # Only hemiBTC's logs matter; another contract's odd Transfer must not fail the link.
            transfers = [
                t
                for t in map(decode_transfer, (log for log in receipt.logs if log.address == hemibtc))
                if t is not None
            ]
        except EventDecodeError as exc:
            raise LinkFailed(link, f"malformed log: {exc}") from exc
        if len(confirmed) != 1:
            raise LinkFailed(link, f"expected one DepositConfirmed from the tunnel manager, found {len(confirmed)}")
        event = confirmed[0]
        check_claim(self.claims, "deposit_txid", event.deposit_txid_display, link)
        check_claim(self.claims, "deposit_sats", event.deposit_sats, link)
        check_claim(self.claims, "net_sats", event.net_sats_after_fee, link)
        check_claim(self.claims, "recipient", "0x" + event.recipient.hex(), link)
        check_claim(self.claims, "vault", "0x" + event.vault.hex(), link)
        if not 0 < event.net_sats_after_fee <= event.deposit_sats:
            raise LinkFailed(link, "net amount is not deposit minus a fee")
        mints = [t for t in transfers if t.is_mint and t.to_address == event.recipient]
        if [t.value for t in mints] != [event.net_sats_after_fee]:
            raise LinkFailed(link, f"hemiBTC minted {[t.value for t in mints]} instead of {event.net_sats_after_fee}")
        self.mint_number = number
        fee = event.deposit_sats - event.net_sats_after_fee
        return f"block {number}: {event.deposit_sats} - fee {fee} = {event.net_sats_after_fee} hemiBTC minted"

    def hvm_view(self) -> str:
        link = "hvm view"
        deposit_header = self.btc_headers[self.deposit_height]
        updates = {}
        for name, key in (("relay", "hvm_relay"), ("view", "hvm_view")):
            raw, number, _ = self.hemi_tx(link, self.hemi[key])
            try:
                call = decode_update_hvm_state(read_raw_tx(raw, link, f"{name} tx").data)
            except HvmDecodeError as exc:
                raise LinkFailed(link, f"{name} tx is not an updateHvmState call: {exc}") from exc
            if number > self.mint_number:
                raise LinkFailed(link, f"{name} update in block {number} comes after the mint ({self.mint_number})")
            updates[name] = (number, call)
        relay_number, relay_call = updates["relay"]
        if deposit_header.raw not in relay_call.headers:
            raise LinkFailed(link, "the relay update does not carry the deposit block's header")
        view_number, view_call = updates["view"]
        if view_number < relay_number:
            raise LinkFailed(link, "the hVM view predates the relay of the deposit block")
        tip_height = next(
            (h for h, hdr in self.btc_headers.items() if hdr.hash_internal == view_call.canonical_tip_internal), None
        )
        if tip_height is None:
            raise LinkFailed(link, "the hVM view's canonical tip is not among the bundle's Bitcoin headers")
        confirmations = tip_height - self.deposit_height + 1
        check_claim(self.claims, "hvm_confirmations", confirmations, link)
        if confirmations < MIN_DEPOSIT_CONFIRMATIONS:
            raise LinkFailed(link, f"only {confirmations} confirmations in the hVM view (need 4)")
        return (
            f"deposit header relayed in Hemi block {relay_number}; the mint's hVM view (block {view_number}) "
            f"has tip {tip_height}: {confirmations} confirmations"
        )

    def keystone(self) -> str:
        link = "keystone"
        period = KEYSTONE_PERIOD  # decode_bundle demands the bundle's period be exactly this
        number = read_int(self.claims["anchoring_keystone_number"], link, "anchoring_keystone_number")
        covering = read_int(self.claims["keystone_number"], link, "keystone_number")
        if covering != self.mint_number + (-self.mint_number % period):
            raise LinkFailed(link, f"keystone {covering} does not cover block {self.mint_number}")
        if number < covering or not is_keystone_number(number) or number % period:
            raise LinkFailed(link, f"{number} is not the covering keystone or a descendant")
        header = self.hemi_headers.get(number)
        prev_number = number - period
        prev = self.hemi_headers.get(prev_number) if prev_number > 0 else {"hash": ZERO32}
        if header is None or prev is None:
            raise LinkFailed(link, f"headers for keystone {number} and {prev_number} are needed")
        raw, l1_number, l1_index = self.hemi_tx(link, self.hemi["l1_info"])
        if l1_number != number or l1_index != 0:
            raise LinkFailed(link, "the L1-info transaction must be tx 0 of the keystone block")
        try:
            info = decode_l1_info(read_raw_tx(raw, link, "L1-info tx").data)
        except L1InfoDecodeError as exc:
            raise LinkFailed(link, f"L1-info tx does not decode: {exc}") from exc
        try:
            # The header fields and the L1 origin are bundle bytes: sizes and ranges are checked here.
            self.abrev = L2Keystone(
                l1_block_number=info.number,
                l2_block_number=number,
                parent_ep_hash=header["parent_hash"],
                prev_ep_keystone_hash=prev["hash"],
                state_root=header["state_root"],
                ep_hash=header["hash"],
            ).abbreviate()
        except KeystoneDecodeError as exc:
            raise LinkFailed(link, f"keystone {number} cannot be built: {exc}") from exc
        check_claim(self.claims, "anchoring_keystone_id", self.abrev.id_display, link)
        return f"keystone {number} rebuilt (L1 origin {info.number}), id {self.abrev.id_display}"

    def anchoring(self) -> str:
        link = "bitcoin anchoring"
        tx, height = self.btc_tx_in_block(link, self.bitcoin["pop"])
        check_claim(self.claims, "pop_txid", tx.txid_display, link)
        outputs = [o for o in scan_tx(tx).outputs if o.format == "v1" and o.keystone == self.abrev]
        if not outputs:
            raise LinkFailed(link, "the PoP transaction does not publish the rebuilt keystone")
        check_claim(self.claims, "pop_vout", outputs[0].vout, link)
        check_claim(self.claims, "publication_height", height, link)
        self.publication_height = height
        return f"PoP tx {tx.txid_display} output {outputs[0].vout} publishes it in Bitcoin block {height}"

    def finality(self) -> str:
        link = "finality"
        tip = max(self.btc_headers)
        confirmations = tip - self.publication_height
        check_claim(self.claims, "effective_confirmations", confirmations, link)
        superfinal = confirmations >= SUPERFINALITY_CONFIRMATIONS
        check_claim(self.claims, "superfinal", superfinal, link)
        state = "superfinal" if superfinal else "not yet superfinal"
        return f"{confirmations} Bitcoin confirmations on top of the publication: {state}"


def _unexpected(link: str, exc: Exception) -> LinkResult:
    # The last line of defence of a tool built to read hostile files: an error no check named
    # is a verifier bug, but the user still gets a failed link instead of a traceback.
    detail = f"verifier error on this input (please report it): {type(exc).__name__}: {short(str(exc))}"
    return LinkResult(link, False, detail, unexpected=True)


def verify_bundle(data: bytes, *, limits: JsonLimits = DEFAULT_JSON_LIMITS) -> Verification:
    """Check every link in order; the result ends at the first failure. Never raises on any input."""
    link = LINK_NAMES[0]
    try:
        bundle = decode_bundle(data, limits)
    except LinkFailed as exc:
        return Verification((LinkResult(exc.link, False, exc.reason),))
    except Exception as exc:
        return Verification((_unexpected(link, exc),))
    results = [LinkResult(link, True, "canonical JSON")]
    for name, step in _Verifier(bundle).steps():
        try:
            results.append(LinkResult(name, True, step()))
        except LinkFailed as exc:
            results.append(LinkResult(name, False, exc.reason))
            break
        except Exception as exc:
            results.append(_unexpected(name, exc))
            break
    return Verification(tuple(results))


def verify_bytes(data: bytes) -> list[LinkResult]:
    """The links of ``verify_bundle(data)`` as a list (the older interface)."""
    return list(verify_bundle(data).links)


# -- command line ------------------------------------------------------------------------------


def _printable(text: str) -> str:
    """Details quote bundle bytes; never let them drive the terminal (escapes, bidi controls)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def main(
    argv: list[str] | None = None, *, prog: str | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Verify one bundle file; return the exit code (argparse exits 2 itself on a usage error)."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Verify a Hemiscope evidence bundle or audit report offline "
        "(no database, no network, no configuration). "
        "Exit 0: every link verified; 1: a link failed (named); 2: unreadable file or usage error.",
    )
    parser.add_argument(
        "file",
        help="evidence bundle (provenance_export) or audit report archive (audit_report --format json), "
        "or - for standard input",
    )
    args = parser.parse_args(argv)
    try:
        stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    except OSError as exc:
        err.write(f"cannot read {args.file}: {exc.strerror or exc}\n")
        return EXIT_UNREADABLE
    try:
        result, done = _verify_stream(stream)
    except OSError as exc:
        err.write(f"cannot read {args.file}: {exc.strerror or exc}\n")
        return EXIT_UNREADABLE
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    for r in result.links:
        out.write(f"{'ok  ' if r.ok else 'FAIL'} {r.link}: {_printable(r.detail)}\n")
    if not result.ok:
        failed = result.failed or result.links[-1]
        err.write(f"verification failed at link '{failed.link}': {_printable(failed.detail)}\n")
        return EXIT_FAILED
    out.write(done)
    return EXIT_VERIFIED


class _Prefixed:
    """A stream whose first bytes were already read (to tell a report from a bundle)."""

    def __init__(self, head: bytes, rest):
        self.head, self.rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            data, self.head = self.head + self.rest.read(), b""
            return data
        data, self.head = self.head[:n], self.head[n:]
        return data + self.rest.read(n - len(data)) if len(data) < n else data


def _verify_stream(stream):
    """A report archive (``explorer/verify_report.py``, streamed) or one bundle (bounded read)."""
    from explorer.reports.archive import BLOCK, is_archive
    from explorer.verify_report import verify_report

    head = stream.read(BLOCK)
    if is_archive(head):
        return verify_report(_Prefixed(head, stream)), "report verified: every item, bundle and link\n"
    data = head + stream.read(DEFAULT_JSON_LIMITS.max_bytes + 1 - len(head))
    return verify_bundle(data), "all links verified\n"


if __name__ == "__main__":
    sys.exit(main(prog="python -m explorer.verify"))
