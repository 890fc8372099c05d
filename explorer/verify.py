"""Offline verification of a Hemiscope evidence bundle: no database, no network.

Every byte in a bundle is either proven (hashed into something the next link checks) or a
claim that the verifier recomputes and compares, so changing any single byte makes a link
fail. The links are checked in trust-chain order and the first failure stops the run:

1. bundle encoding     - the file is exactly the canonical JSON of its own content;
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

Every byte rule is the indexers' own (decoders in ``indexer/``), never re-implemented here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import rlp

from explorer.finality import SUPERFINALITY_CONFIRMATIONS
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
from indexer.hemi.rawtx import RawTxError, decode_raw_receipt, decode_raw_tx
from indexer.keystone import KEYSTONE_PERIOD, L2Keystone, is_keystone_number

FORMAT = "hemiscope-evidence/1"
# Which Bitcoin network each Hemi network anchors to; a bundle must name a consistent pair.
BITCOIN_NETWORK_OF = {"devnet": "regtest", "testnet": "testnet3", "mainnet": "mainnet"}
MIN_DEPOSIT_CONFIRMATIONS = 4
ZERO32 = b"\x00" * 32


class LinkFailed(Exception):
    def __init__(self, link: str, reason: str):
        super().__init__(f"{link}: {reason}")
        self.link = link
        self.reason = reason


@dataclass(frozen=True)
class LinkResult:
    link: str
    ok: bool
    detail: str


def canonical_bytes(bundle: dict) -> bytes:
    """The one serialization of a bundle: the exporter writes it, the verifier demands it."""
    return (json.dumps(bundle, sort_keys=True, indent=1, ensure_ascii=True) + "\n").encode()


def _hex(text, link: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise LinkFailed(link, f"{what} must be a hex string")
    body = text[2:] if text.startswith("0x") else text
    try:
        return bytes.fromhex(body)
    except ValueError:
        raise LinkFailed(link, f"{what} is not hex") from None


def _int(value, link: str, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise LinkFailed(link, f"{what} must be a non-negative integer")
    return value


def _claim(claims: dict, key: str, found, link: str) -> None:
    if claims.get(key) != found:
        raise LinkFailed(link, f"claim {key!r} is {claims.get(key)!r} but the evidence gives {found!r}")


class _Verifier:
    def __init__(self, bundle: dict):
        self.b = bundle
        self.claims = bundle.get("claims") or {}
        self.results: list[LinkResult] = []
        self.btc_headers: dict[int, object] = {}
        self.hemi_headers: dict[int, dict] = {}

    # -- helpers -------------------------------------------------------------------------------

    def section(self, *path: str) -> dict:
        node = self.b
        for key in path:
            if not isinstance(node, dict) or key not in node:
                raise LinkFailed(path[0], f"missing section {'.'.join(path)}")
            node = node[key]
        return node

    def btc_tx_in_block(self, link: str, item: dict):
        height = _int(item.get("height"), link, "height")
        index = _int(item.get("tx_index"), link, "tx_index")
        header = self.btc_headers.get(height)
        if header is None:
            raise LinkFailed(link, f"no Bitcoin header at height {height} in the bundle")
        try:
            tx = decode_tx(_hex(item.get("raw_tx"), link, "raw_tx"))
        except BitcoinDecodeError as exc:
            raise LinkFailed(link, f"raw tx does not decode: {exc}") from exc
        branch = [_hex(n, link, "merkle branch node") for n in item.get("merkle_branch", [])]
        # Without this bound, index bits above the branch length would go unchecked.
        if index >= 1 << len(branch):
            raise LinkFailed(link, f"tx_index {index} is out of range for a {len(branch)}-node branch")
        if any(len(n) != 32 for n in branch) or not verify_merkle_branch(
            tx.txid_internal, branch, index, header.merkle_root_internal
        ):
            raise LinkFailed(link, f"merkle branch does not reach the merkle root of block {height}")
        return tx, height

    def hemi_tx(self, link: str, item: dict) -> tuple[bytes, int, dict]:
        number = _int(item.get("number"), link, "number")
        index = _int(item.get("tx_index"), link, "tx_index")
        header = self.hemi_headers.get(number)
        if header is None:
            raise LinkFailed(link, f"no Hemi header for block {number} in the bundle")
        proof = [_hex(n, link, "proof node") for n in item.get("tx_proof", [])]
        try:
            raw = verify_ordered_proof(header["transactions_root"], index, proof)
        except ProofError as exc:
            raise LinkFailed(link, f"transaction proof fails against block {number}: {exc}") from exc
        return raw, number, header

    # -- links ---------------------------------------------------------------------------------

    def bitcoin_headers(self) -> str:
        link = "bitcoin headers"
        btc = self.section("bitcoin")
        network = self.section("network").get("bitcoin_network")
        params = NETWORKS.get(network)
        if params is None:
            raise LinkFailed(link, f"unknown Bitcoin network {network!r}")
        height = _int(btc.get("start_height"), link, "start_height")
        prev = None
        headers = btc.get("headers") or []
        if not headers:
            raise LinkFailed(link, "no headers")
        for raw_hex in headers:
            raw = _hex(raw_hex, link, "header")
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
        _claim(self.claims, "bitcoin_tip_height", tip_height, link)
        _claim(self.claims, "bitcoin_tip_hash", prev.hash_display, link)
        return f"{len(headers)} headers, proof of work and linkage hold up to height {tip_height}"

    def bitcoin_deposit(self) -> str:
        link = "bitcoin deposit"
        item = self.section("bitcoin", "deposit")
        tx, height = self.btc_tx_in_block(link, item)
        _claim(self.claims, "deposit_txid", tx.txid_display, link)
        script = _hex(self.claims.get("vault_script"), link, "vault_script")
        check = check_deposit(tx, {script: "vault"})
        if check.deposit is None:
            raise LinkFailed(link, f"not a valid tunnel deposit to the vault script: {check.reason}")
        d = check.deposit
        _claim(self.claims, "deposit_vout", d.vout, link)
        _claim(self.claims, "deposit_sats", d.value_sats, link)
        _claim(self.claims, "recipient", d.recipient, link)
        self.deposit_height = height
        return f"tx {d.txid_display} in block {height} pays {d.value_sats} sats to the vault for {d.recipient}"

    def hemi_headers_link(self) -> str:
        link = "hemi headers"
        hemi = self.section("hemi")
        number = _int(hemi.get("start_number"), link, "start_number")
        prev_hash = None
        headers = hemi.get("headers") or []
        if not headers:
            raise LinkFailed(link, "no headers")
        for raw_hex in headers:
            raw = _hex(raw_hex, link, "header")
            try:
                items = rlp.decode(raw, strict=True)
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
        _claim(self.claims, "hemi_last_block_hash", "0x" + prev_hash.hex(), link)
        return f"{len(headers)} Hemi headers hash-linked up to block {number - 1}"

    def hemi_mint(self) -> str:
        link = "hemi mint"
        item = self.section("hemi", "mint")
        network = self.section("network")
        raw_tx, number, header = self.hemi_tx(link, item)
        _claim(self.claims, "mint_tx_hash", "0x" + keccak256(raw_tx).hex(), link)
        proof = [_hex(n, link, "receipt proof node") for n in item.get("receipt_proof", [])]
        try:
            receipt = decode_raw_receipt(verify_ordered_proof(header["receipts_root"], item["tx_index"], proof))
        except (ProofError, RawTxError) as exc:
            raise LinkFailed(link, f"receipt proof fails: {exc}") from exc
        if receipt.status != 1:
            raise LinkFailed(link, "the mint transaction reverted")
        manager = _hex(network.get("tunnel_manager"), link, "tunnel_manager")
        hemibtc = _hex(network.get("hemibtc"), link, "hemibtc")
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
        _claim(self.claims, "deposit_txid", event.deposit_txid_display, link)
        _claim(self.claims, "deposit_sats", event.deposit_sats, link)
        _claim(self.claims, "net_sats", event.net_sats_after_fee, link)
        _claim(self.claims, "recipient", "0x" + event.recipient.hex(), link)
        _claim(self.claims, "vault", "0x" + event.vault.hex(), link)
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
        relay = self.section("hemi", "hvm_relay")
        view = self.section("hemi", "hvm_view")
        updates = {}
        for name, item in (("relay", relay), ("view", view)):
            raw, number, _ = self.hemi_tx(link, item)
            try:
                call = decode_update_hvm_state(decode_raw_tx(raw).data)
            except (RawTxError, HvmDecodeError) as exc:
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
        _claim(self.claims, "hvm_confirmations", confirmations, link)
        if confirmations < MIN_DEPOSIT_CONFIRMATIONS:
            raise LinkFailed(link, f"only {confirmations} confirmations in the hVM view (need 4)")
        return (
            f"deposit header relayed in Hemi block {relay_number}; the mint's hVM view (block {view_number}) "
            f"has tip {tip_height}: {confirmations} confirmations"
        )

    def keystone(self) -> str:
        link = "keystone"
        period = self.section("network").get("keystone_period")
        number = _int(self.claims.get("anchoring_keystone_number"), link, "anchoring_keystone_number")
        covering = _int(self.claims.get("keystone_number"), link, "keystone_number")
        if covering != self.mint_number + (-self.mint_number % period):
            raise LinkFailed(link, f"keystone {covering} does not cover block {self.mint_number}")
        if number < covering or not is_keystone_number(number) or number % period:
            raise LinkFailed(link, f"{number} is not the covering keystone or a descendant")
        header = self.hemi_headers.get(number)
        prev_number = number - period
        prev = self.hemi_headers.get(prev_number) if prev_number > 0 else {"hash": ZERO32}
        if header is None or prev is None:
            raise LinkFailed(link, f"headers for keystone {number} and {prev_number} are needed")
        l1 = self.section("hemi", "l1_info")
        if l1.get("number") != number or l1.get("tx_index") != 0:
            raise LinkFailed(link, "the L1-info transaction must be tx 0 of the keystone block")
        raw, _, _ = self.hemi_tx(link, l1)
        try:
            info = decode_l1_info(decode_raw_tx(raw).data)
        except (RawTxError, L1InfoDecodeError) as exc:
            raise LinkFailed(link, f"L1-info tx does not decode: {exc}") from exc
        ks = L2Keystone(
            l1_block_number=info.number,
            l2_block_number=number,
            parent_ep_hash=header["parent_hash"],
            prev_ep_keystone_hash=prev["hash"],
            state_root=header["state_root"],
            ep_hash=header["hash"],
        )
        self.abrev = ks.abbreviate()
        _claim(self.claims, "anchoring_keystone_id", self.abrev.id_display, link)
        return f"keystone {number} rebuilt (L1 origin {info.number}), id {self.abrev.id_display}"

    def anchoring(self) -> str:
        link = "bitcoin anchoring"
        item = self.section("bitcoin", "pop")
        tx, height = self.btc_tx_in_block(link, item)
        _claim(self.claims, "pop_txid", tx.txid_display, link)
        outputs = [o for o in scan_tx(tx).outputs if o.format == "v1" and o.keystone == self.abrev]
        if not outputs:
            raise LinkFailed(link, "the PoP transaction does not publish the rebuilt keystone")
        _claim(self.claims, "pop_vout", outputs[0].vout, link)
        _claim(self.claims, "publication_height", height, link)
        self.publication_height = height
        return f"PoP tx {tx.txid_display} output {outputs[0].vout} publishes it in Bitcoin block {height}"

    def finality(self) -> str:
        link = "finality"
        tip = max(self.btc_headers)
        confirmations = tip - self.publication_height
        _claim(self.claims, "effective_confirmations", confirmations, link)
        superfinal = confirmations >= SUPERFINALITY_CONFIRMATIONS
        _claim(self.claims, "superfinal", superfinal, link)
        state = "superfinal" if superfinal else "not yet superfinal"
        return f"{confirmations} Bitcoin confirmations on top of the publication: {state}"


def verify_bytes(data: bytes) -> list[LinkResult]:
    """Check every link in order; the list ends at the first failure (``ok`` False)."""
    results: list[LinkResult] = []
    try:
        bundle = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        return [LinkResult("bundle encoding", False, f"not JSON: {exc}")]
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        return [LinkResult("bundle encoding", False, f"not a {FORMAT} bundle")]
    if canonical_bytes(bundle) != data:
        return [LinkResult("bundle encoding", False, "bytes differ from the canonical serialization")]
    network = bundle.get("network")
    if not isinstance(network, dict) or BITCOIN_NETWORK_OF.get(network.get("name")) != network.get("bitcoin_network"):
        return [LinkResult("bundle encoding", False, "network name and Bitcoin network do not match")]
    if network.get("keystone_period") != KEYSTONE_PERIOD:
        return [LinkResult("bundle encoding", False, f"keystone period must be {KEYSTONE_PERIOD}")]
    results.append(LinkResult("bundle encoding", True, "canonical JSON"))
    v = _Verifier(bundle)
    steps: list[tuple[str, Callable[[], str]]] = [
        ("bitcoin headers", v.bitcoin_headers),
        ("bitcoin deposit", v.bitcoin_deposit),
        ("hemi headers", v.hemi_headers_link),
        ("hemi mint", v.hemi_mint),
        ("hvm view", v.hvm_view),
        ("keystone", v.keystone),
        ("bitcoin anchoring", v.anchoring),
        ("finality", v.finality),
    ]
    for name, step in steps:
        try:
            results.append(LinkResult(name, True, step()))
        except LinkFailed as exc:
            results.append(LinkResult(name, False, exc.reason))
            break
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            # Structurally broken input still gets a named link and a reason, never a traceback.
            results.append(LinkResult(name, False, f"malformed section: {type(exc).__name__}: {exc}"))
            break
    return results
