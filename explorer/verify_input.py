"""Reading an untrusted evidence bundle's fields for the offline verifier (pure, no Django).

Every reader either returns a value of exactly the expected type and spelling or raises
``LinkFailed`` naming the link and the field, so the link code in ``explorer/verify.py`` never
meets a value it did not ask for. Spelling is strict on purpose: hex is lower case exactly as
the exporter writes it and claims must match in type as well as value, because another
spelling of the same value (``AB`` for ``ab``, ``1.0`` or ``true`` for ``1``) would be a
changed byte that no link notices.
"""

from __future__ import annotations

from explorer.bounds import rlp_depth
from indexer.hemi.rawtx import RawReceipt, RawTx, RawTxError, decode_raw_receipt, decode_raw_tx

# pyrlp recurses ~3 frames per list level; real headers, proof nodes and transactions nest
# fewer than 8 deep, so deeper RLP is refused before it can reach the recursion limit.
MAX_RLP_DEPTH = 16

# Exactly these keys, section by section (parents listed before their children): a key the
# verifier does not read would be bytes that nothing proves.
_BTC_ITEM = ("height", "tx_index", "raw_tx", "merkle_branch")
_HEMI_ITEM = ("number", "tx_index", "tx_proof")
CLAIM_KEYS = (
    "mint_tx_hash", "deposit_txid", "deposit_vout", "deposit_sats", "net_sats", "vault", "vault_script",
    "recipient", "hvm_confirmations", "keystone_number", "anchoring_keystone_number", "anchoring_keystone_id",
    "pop_txid", "pop_vout", "publication_height", "bitcoin_tip_height", "bitcoin_tip_hash",
    "effective_confirmations", "superfinal", "hemi_last_block_hash",
)
SCHEMA: dict[tuple[str, ...], tuple[str, ...]] = {
    (): ("format", "network", "claims", "bitcoin", "hemi"),
    ("network",): ("name", "bitcoin_network", "tunnel_manager", "hemibtc", "keystone_period"),
    ("claims",): CLAIM_KEYS,
    ("bitcoin",): ("start_height", "headers", "deposit", "pop"),
    ("bitcoin", "deposit"): _BTC_ITEM,
    ("bitcoin", "pop"): _BTC_ITEM,
    ("hemi",): ("start_number", "headers", "mint", "hvm_relay", "hvm_view", "l1_info"),
    ("hemi", "mint"): (*_HEMI_ITEM, "receipt_proof"),
    ("hemi", "hvm_relay"): _HEMI_ITEM,
    ("hemi", "hvm_view"): _HEMI_ITEM,
    ("hemi", "l1_info"): _HEMI_ITEM,
}


class LinkFailed(Exception):
    def __init__(self, link: str, reason: str):
        super().__init__(f"{link}: {reason}")
        self.link = link
        self.reason = reason


def check_schema(bundle: object, link: str) -> None:
    """Every section an object with exactly its keys (a parsed bundle may be any JSON value)."""
    for path, keys in SCHEMA.items():
        node = bundle
        for key in path:
            node = node[key]  # present and an object: its parent was checked first
        where = ".".join(path) or "the bundle"
        if not isinstance(node, dict):
            raise LinkFailed(link, f"{where} must be an object, not {type(node).__name__}")
        missing = [k for k in keys if k not in node]
        extra = sorted(k for k in node if k not in keys)
        if missing or extra:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unexpected {', '.join(short(k) for k in extra[:5])}"] if extra else []
            )
            raise LinkFailed(link, f"{where}: {'; '.join(parts)}")


def short(value: object) -> str:
    """A bundle value for a message: repr (control characters escaped), cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def read_hex(text: object, link: str, what: str, *, prefixed: bool = False, size: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise LinkFailed(link, f"{what} must be a hex string, not {type(text).__name__}")
    body = text
    if prefixed:
        if not text.startswith("0x"):
            raise LinkFailed(link, f"{what} must start with 0x")
        body = text[2:]
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise LinkFailed(link, f"{what} is not hex") from None
    if raw.hex() != body:  # bytes.fromhex also takes upper case and whitespace
        raise LinkFailed(link, f"{what} must be lower-case hex digits only")
    if size is not None and len(raw) != size:
        raise LinkFailed(link, f"{what} must be {size} bytes, not {len(raw)}")
    return raw


def read_hex_list(value: object, link: str, what: str) -> list[bytes]:
    return [read_hex(item, link, what) for item in read_list(value, link, what + " list")]


def read_int(value: object, link: str, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise LinkFailed(link, f"{what} must be a non-negative integer, not {short(value)}")
    return value


def read_list(value: object, link: str, what: str) -> list:
    if not isinstance(value, list):
        raise LinkFailed(link, f"{what} must be a list, not {type(value).__name__}")
    return value


def check_claim(claims: dict, key: str, found: object, link: str) -> None:
    claimed = claims[key]
    if type(claimed) is not type(found) or claimed != found:
        raise LinkFailed(link, f"claim {key!r} is {short(claimed)} but the evidence gives {short(found)}")


def rlp_bounded(raw: bytes, link: str, what: str) -> bytes:
    depth = rlp_depth(raw)
    if depth > MAX_RLP_DEPTH:
        raise LinkFailed(link, f"{what} nests RLP lists {depth} deep (the limit is {MAX_RLP_DEPTH})")
    return raw


def read_raw_tx(raw: bytes, link: str, what: str) -> RawTx:
    try:
        return decode_raw_tx(rlp_bounded(raw, link, what))
    except RawTxError as exc:
        raise LinkFailed(link, f"{what} does not decode: {exc}") from exc


def read_raw_receipt(raw: bytes, link: str) -> RawReceipt:
    try:
        return decode_raw_receipt(rlp_bounded(raw, link, "the receipt"))
    except RawTxError as exc:
        raise LinkFailed(link, f"the receipt does not decode: {exc}") from exc
