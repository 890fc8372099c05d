"""Decode what a transaction page shows: call inputs and event logs for the ABIs we know, and
the fields of Hemi's system transactions (0x7C, 0x7D) and OP deposits (0x7E).

Pure (bytes in, plain values out, no Django). Everything decoded is hostile input: a selector
or topic that matches but does not decode is shown as "does not decode as <name>", never a
500 and never a silently wrong value. Bitcoin hashes inside hVM calls are labelled with their
byte order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import rlp
from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError as AbiDecodingError
from rlp.exceptions import DecodingError as RlpDecodingError

from indexer.hashing import keccak256
from indexer.hemi import hvm, l1info, payout

# Known calls: signature -> argument names. ERC-20/721, the tunnel manager and vault, hVM state.
_CALLS: dict[str, tuple[str, ...]] = {
    "transfer(address,uint256)": ("to", "value"),
    "approve(address,uint256)": ("spender", "value"),
    "transferFrom(address,address,uint256)": ("from", "to", "value_or_token_id"),
    "safeTransferFrom(address,address,uint256)": ("from", "to", "token_id"),
    "safeTransferFrom(address,address,uint256,bytes)": ("from", "to", "token_id", "data"),
    "setApprovalForAll(address,bool)": ("operator", "approved"),
    "mint(address,uint256)": ("to", "value"),
    "burn(address,uint256)": ("from", "value"),
    "confirmDeposit(uint32,bytes32,uint256,bytes)": ("vault_index", "deposit_txid_display", "output_index", "extra"),
    "initiateWithdrawal(uint32,string,uint256)": ("vault_index", "btc_address", "amount_sats"),
    "challengeWithdrawal(uint64,bytes)": ("uuid", "proof"),
    "finalizeWithdrawal(bytes32,uint32)": ("payout_txid_display", "withdrawal_index"),
    "finalizeWithdrawal(bytes32,uint32,bytes)": ("payout_txid_display", "withdrawal_index", "proof"),
    "createVault(address,address,uint256,uint256,bytes)": ("setup_admin", "operator_admin", "a", "b", "script"),
}
_EVENTS: dict[str, tuple[tuple[str, bool], ...]] = {
    # name(types) -> ((argument name, indexed), ...)
    "Transfer(address,address,uint256)": (("from", True), ("to", True), ("value_or_token_id", False)),
    "Approval(address,address,uint256)": (("owner", True), ("spender", True), ("value_or_token_id", False)),
    "ApprovalForAll(address,address,bool)": (("owner", True), ("operator", True), ("approved", False)),
    "DepositConfirmed(address,address,bytes32,uint256,uint256)": (
        ("vault", True), ("recipient", True), ("deposit_txid_display", True), ("deposit_sats", False),
        ("net_sats_after_fee", False)),
    "WithdrawalInitiated(address,address,string,uint256,uint256,uint64)": (
        ("vault", True), ("withdrawer", True), ("btc_address_hash", True), ("withdrawal_sats", False),
        ("net_sats_after_fee", False), ("uuid", False)),
    "WithdrawalChallengeSuccess(address,address,uint64)": (("vault", True), ("withdrawer", True), ("uuid", True)),
    "VaultCreated(address,address,address)": (("setup_admin", True), ("operator_admin", True), ("vault", True)),
    "WithdrawalFinalized(uint32,bytes32,uint256)": (
        ("withdrawal_index", True), ("payout_txid_display", True), ("net_sats", False)),
    "BitcoinHeaderStored(bytes32,bytes32,uint256,bytes32)": (
        ("block_hash_internal", True), ("prev_hash_internal", True), ("height", True), ("merkle_root_internal", False)),
    "CanonicalTipUpdated(bytes32,uint256,uint256)": (
        ("tip_hash_internal", True), ("height", True), ("replaced_heights", False)),
}  # fmt: skip


def _types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : -1]
    return [t for t in inner.split(",") if t]


_CALL_BY_SELECTOR = {keccak256(sig.encode())[:4]: (sig, names) for sig, names in _CALLS.items()}
_EVENT_BY_TOPIC = {keccak256(sig.encode()): (sig, args) for sig, args in _EVENTS.items()}


@dataclass(frozen=True)
class Decoded:
    """A decoded call or event: its name, signature and (argument, type, shown value) rows."""

    name: str
    signature: str
    args: list[tuple[str, str, str]] = field(default_factory=list)
    error: str | None = None  # the selector/topic matched but the bytes did not decode


def _show(value, abi_type: str) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if abi_type == "address":
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v, abi_type.rstrip("[]")) for v in value) + "]"
    return str(value)


def _label(name: str, abi_type: str) -> str:
    return name


def decode_input(data: bytes) -> Decoded | None:
    """The call in ``data`` for the ABIs we know; None for an unknown selector or no data."""
    if len(data) < 4:
        return None
    selector = bytes(data[:4])
    if selector == hvm.UPDATE_HVM_STATE_SELECTOR:
        try:
            update = hvm.decode_update_hvm_state(bytes(data))
        except hvm.HvmDecodeError as exc:
            return Decoded("updateHvmState", hvm.UPDATE_HVM_STATE_SIGNATURE, error=str(exc))
        args = [("canonical_tip (display order)", "bytes32", update.canonical_tip_display)]
        args += [(f"header {i} hash (display order)", "bytes", h) for i, h in enumerate(update.header_hashes_display)]
        return Decoded("updateHvmState", hvm.UPDATE_HVM_STATE_SIGNATURE, args)
    if selector in (payout.MINT_POP_REWARDS_V1_SELECTOR, payout.MINT_POP_REWARDS_V2_SELECTOR):
        try:
            call = payout.decode_mint_pop_rewards(bytes(data))
        except payout.PayoutDecodeError as exc:
            return Decoded("mintPoPRewards", "mintPoPRewards", error=str(exc))
        return Decoded("mintPoPRewards", f"mintPoPRewards (v{call.version})", _payout_args(call))
    if selector in (l1info.BEDROCK_SELECTOR, l1info.ECOTONE_SELECTOR, l1info.ISTHMUS_SELECTOR):
        try:
            info = l1info.decode_l1_info(bytes(data))
        except l1info.L1InfoDecodeError as exc:
            return Decoded("setL1BlockValues", "L1Block", error=str(exc))
        return Decoded(f"setL1BlockValues ({info.layout})", "L1Block", l1_info_args(info))
    known = _CALL_BY_SELECTOR.get(selector)
    if known is None:
        return None
    signature, names = known
    types = _types(signature)
    try:
        values = abi_decode(types, bytes(data[4:]))
    except (AbiDecodingError, ValueError, OverflowError) as exc:
        return Decoded(signature.split("(")[0], signature, error=f"does not decode: {exc}")
    return Decoded(
        signature.split("(")[0],
        signature,
        [(n, t, _show(v, t)) for n, t, v in zip(names, types, values, strict=True)],
    )


def _payout_args(call: payout.PopPayoutCall) -> list[tuple[str, str, str]]:
    kind = "amount" if call.version == 1 else "relative publication height"
    args = [("block_rewarded (keystone)", "uint64", str(call.block_rewarded))]
    args += [
        (f"miner {i}", "address", f"0x{m.hex()} - {kind} {v}")
        for i, (m, v) in enumerate(zip(call.miners, call.values, strict=True))
    ]
    return args


def l1_info_args(info: l1info.L1BlockInfo) -> list[tuple[str, str, str]]:
    rows = [
        ("L1 origin number", "uint64", str(info.number)),
        ("L1 timestamp", "uint64", str(info.timestamp)),
        ("L1 base fee (wei)", "uint256", str(info.base_fee)),
        ("L1 block hash", "bytes32", "0x" + info.block_hash.hex()),
        ("sequence number", "uint64", str(info.sequence_number)),
        ("batcher", "address", "0x" + info.batcher_address.hex()),
    ]
    for name in ("base_fee_scalar", "blob_base_fee_scalar", "blob_base_fee", "l1_fee_overhead", "l1_fee_scalar"):
        value = getattr(info, name)
        if value is not None:
            rows.append((name.replace("_", " "), "uint", str(value)))
    return rows


def decode_log(topics: Sequence[bytes | None], data: bytes) -> Decoded | None:
    """The event of a log for the ABIs we know; None when topic0 is unknown."""
    topics = [bytes(t) for t in topics if t is not None]
    if not topics:
        return None
    known = _EVENT_BY_TOPIC.get(topics[0])
    if known is None:
        return None
    signature, args = known
    name = signature.split("(")[0]
    types = _types(signature)
    indexed = [(n, t) for (n, is_indexed), t in zip(args, types, strict=True) if is_indexed]
    plain = [(n, t) for (n, is_indexed), t in zip(args, types, strict=True) if not is_indexed]
    if len(topics) - 1 != len(indexed):
        # ERC-721 Transfer has its token id indexed: same signature, one more topic.
        if name in ("Transfer", "Approval") and len(topics) == 4 and not data:
            indexed, plain = [*indexed, ("token_id", "uint256")], []
        else:
            return Decoded(name, signature, error=f"has {len(topics) - 1} indexed topics, expected {len(indexed)}")
    rows = []
    for (n, t), topic in zip(indexed, topics[1:], strict=True):
        if t == "address":
            rows.append((n, t, "0x" + topic[12:].hex()))
        elif t.startswith("uint"):
            rows.append((n, t, str(int.from_bytes(topic, "big"))))
        else:
            rows.append((n, t, "0x" + topic.hex()))
    if plain:
        try:
            values = abi_decode([t for _, t in plain], bytes(data))
        except (AbiDecodingError, ValueError, OverflowError) as exc:
            return Decoded(name, signature, rows, error=f"data does not decode: {exc}")
        rows += [(n, t, _show(v, t)) for (n, t), v in zip(plain, values, strict=True)]
    return Decoded(name, signature, rows)


@dataclass(frozen=True)
class SystemFields:
    """The envelope fields of a 0x7C / 0x7D / 0x7E transaction, as (label, value) rows."""

    kind: str
    rows: list[tuple[str, str]]
    call: Decoded | None = None
    error: str | None = None


def decode_system_fields(raw: bytes) -> SystemFields | None:
    """0x7C (hVM Bitcoin attributes), 0x7D (PoP payout), 0x7E (OP deposit); None for other types."""
    raw = bytes(raw)
    if not raw:
        return None
    kind = raw[0]
    if kind == 0x7C:
        try:
            tx = hvm.decode_btc_attributes_tx(raw)
        except hvm.HvmDecodeError as exc:
            return SystemFields("0x7C Bitcoin attributes", [], error=str(exc))
        rows = [("to", _addr(tx.to_address)), ("gas", str(tx.gas)), ("headers relayed", str(len(tx.update.headers)))]
        return SystemFields("0x7C Bitcoin attributes (hVM update)", rows)
    if kind == 0x7D:
        try:
            tx = payout.decode_pop_payout_tx(raw)
        except payout.PayoutDecodeError as exc:
            return SystemFields("0x7D PoP payout", [], error=str(exc))
        rows = [("to", _addr(tx.to_address)), ("gas", str(tx.gas))]
        call = (
            Decoded("mintPoPRewards", f"mintPoPRewards (v{tx.call.version})", _payout_args(tx.call))
            if tx.call
            else None
        )
        return SystemFields("0x7D PoP payout", rows, call)
    if kind == 0x7E:
        try:
            items = rlp.decode(raw[1:], strict=True)
        except RlpDecodingError as exc:
            return SystemFields("0x7E deposit", [], error=f"invalid RLP: {exc}")
        if not isinstance(items, list) or len(items) < 8:
            return SystemFields("0x7E deposit", [], error="deposit payload has too few fields")
        source, sender, to, mint, value, gas, is_system, _data = items[:8]
        rows = [
            ("source hash", "0x" + bytes(source).hex()),
            ("from", _addr(sender)),
            ("to", _addr(to or None)),
            ("mint (wei)", str(int.from_bytes(mint, "big"))),
            ("value (wei)", str(int.from_bytes(value, "big"))),
            ("gas", str(int.from_bytes(gas, "big"))),
            ("is system tx", "yes" if is_system not in (b"", b"\x00") else "no"),
        ]
        return SystemFields("0x7E OP deposit", rows)
    return None


def _addr(raw: bytes | None) -> str:
    return "none (contract creation)" if not raw else "0x" + bytes(raw).hex()
