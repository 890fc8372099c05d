"""Mutated and hostile evidence bundles: the verifier answers with a named failed link, never raises.

The inputs are the real bundles the other verifier tests build (the evidence story, its
not-yet-superfinal variant, and stories whose proven transactions and receipt are hostile
bytes behind valid proofs), mutated at the byte level (flips, truncation, insertion, deep
nesting spliced in) and at the JSON level (values swapped for null/list/object/string/huge or
negative integers/floats/garbage hex, keys deleted or added, lists reshaped, hex strings cut,
grown, re-cased or replaced by deeply nested RLP). Every outcome must be named: no exception,
no failure reported by the verifier's last-resort guard (``unexpected``), and no changed bundle
that still verifies.

Marked ``fuzz``: ``HEMISCOPE_FUZZ_EXAMPLES`` sets the case count (``make test`` runs the default
short slice, ``make fuzz`` 100,000).
"""

from __future__ import annotations

import json
import os

import pytest
import rlp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.verify import LINK_NAMES, canonical_bytes, verify_bundle
from tests.explorer.evidence_story import HEMIBTC, MANAGER, EvidenceStory, receipt, word

EXAMPLES = int(os.environ.get("HEMISCOPE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

pytestmark = pytest.mark.fuzz


def _not_superfinal(bundle: dict) -> dict:
    from indexer.hashing import dsha256

    bundle["bitcoin"]["headers"] = bundle["bitcoin"]["headers"][:-3]
    last = dsha256(bytes.fromhex(bundle["bitcoin"]["headers"][-1]))[::-1].hex()
    bundle["claims"].update(
        bitcoin_tip_height=112, bitcoin_tip_hash=last, effective_confirmations=7, superfinal=False
    )
    return bundle


STORY = EvidenceStory()
BASES = [canonical_bytes(STORY.bundle()), canonical_bytes(_not_superfinal(STORY.bundle()))]


def nested_rlp_list(depth: int) -> bytes:
    """An RLP list nested ``depth`` deep, built without recursion."""
    out = b"\xc0"
    for _ in range(depth):
        n = len(out)
        width = (n.bit_length() + 7) // 8
        out = (bytes([0xC0 + n]) if n < 56 else bytes([0xF7 + width]) + n.to_bytes(width, "big")) + out
    return out


def nested_json(depth: int, leaf: object = 1) -> object:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def assert_named(data: bytes, base: bytes | None) -> None:
    result = verify_bundle(data)  # must not raise, whatever the bytes
    assert result.links, "no links at all"
    assert [r.link for r in result.links] == list(LINK_NAMES[: len(result.links)])
    assert all(r.ok for r in result.links[:-1]), "links after a failure were run"
    unexpected = [r for r in result.links if r.unexpected]
    assert not unexpected, f"failure not named by the verifier: {unexpected[0].link}: {unexpected[0].detail}"
    if not result.ok:
        assert result.failed.detail, "a failed link without a reason"
    if base is not None and data != base:
        assert not result.ok, "a changed bundle still verifies"


hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 25, 101, 2**63, 2**256, -(2**256), 10**79]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "0x", "0xzz", "zz", "0X11", "AB" * 20, " aa", "aa bb", "a", "\u202e0x11", "devnet"]),
    st.binary(max_size=48).map(bytes.hex),
    st.binary(max_size=48).map(lambda b: "0x" + b.hex()),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["height", "number", "tx_index", "x"]), st.integers(-1, 200), max_size=2),
    st.integers(1, 40).map(nested_json),
    st.just(nested_rlp_list(2000).hex()),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _hex_variant(data, text: str) -> str:
    kind = data.draw(st.sampled_from(["cut", "grow", "case", "digit", "replace", "deep-rlp", "odd"]))
    if kind == "cut":
        return text[: data.draw(st.integers(0, max(len(text) - 1, 0)))]
    if kind == "grow":
        return text + data.draw(st.binary(min_size=1, max_size=8)).hex()
    if kind == "case":
        return text.upper() if text != text.upper() else text.lower()
    if kind == "digit" and text:
        at = data.draw(st.integers(0, len(text) - 1))
        return text[:at] + data.draw(st.sampled_from("0123456789abcdefABCDEFx g")) + text[at + 1 :]
    if kind == "replace":
        return data.draw(st.binary(max_size=200)).hex()
    if kind == "deep-rlp":
        return nested_rlp_list(data.draw(st.integers(300, 3000))).hex()
    return text + "a"


def _mutate_json(data, bundle: dict) -> None:
    paths = [p for p in _paths(bundle) if p]
    path = data.draw(st.sampled_from(paths))
    parent = bundle
    for key in path[:-1]:
        parent = parent[key]
    key, value = path[-1], parent[path[-1]]
    op = data.draw(st.sampled_from(["replace", "replace", "delete", "extra", "list", "hex", "hex"]))
    if op == "delete" and isinstance(parent, dict):
        del parent[key]
    elif op == "extra" and isinstance(value, dict):
        value[data.draw(st.sampled_from(["extra", "height", "0", "format"]))] = data.draw(hostile_values)
    elif op == "list" and isinstance(value, list):
        how = data.draw(st.sampled_from(["append", "drop", "duplicate", "reverse", "empty"]))
        if how == "append":
            value.append(data.draw(hostile_values))
        elif how == "drop" and value:
            value.pop(data.draw(st.integers(0, len(value) - 1)))
        elif how == "duplicate" and value:
            value.insert(0, value[-1])
        elif how == "reverse":
            value.reverse()
        else:
            value.clear()
    elif op == "hex" and isinstance(value, str):
        parent[key] = _hex_variant(data, value)
    else:
        parent[key] = data.draw(hostile_values)


def _mutate_bytes(data, raw: bytes) -> bytes:
    buf = bytearray(raw)
    ops = ["set", "flip", "truncate", "insert", "delete", "deep", "deep-in-value"]
    op = data.draw(st.sampled_from(ops if buf else ["insert", "deep"]))
    at = data.draw(st.integers(0, max(len(buf) - 1, 0)))
    if op == "set":
        buf[at] = data.draw(st.integers(0, 255))
    elif op == "flip":
        buf[at] ^= 1 << data.draw(st.integers(0, 7))
    elif op == "truncate":
        del buf[at:]
    elif op == "insert":
        buf[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    elif op == "delete":
        del buf[at : at + data.draw(st.integers(1, 4))]
    elif op == "deep":
        depth = data.draw(st.sampled_from([40, 1000, 100_000]))
        buf[at:at] = b"[" * depth + b"]" * data.draw(st.sampled_from([0, depth]))
    elif b'"superfinal": ' in raw:  # a value replaced by deep nesting, the rest of the document valid
        depth = data.draw(st.sampled_from([40, 1000, 100_000]))
        start = raw.index(b'"superfinal": ') + len(b'"superfinal": ')
        end = raw.find(b"\n", start)
        return raw[:start] + b"[" * depth + b"]" * depth + (raw[end:] if end >= 0 else b"")
    return bytes(buf)


@FUZZ
@given(st.data())
def test_mutated_bundles_fail_by_name(data):
    base = BASES[data.draw(st.integers(0, len(BASES) - 1), label="base")]
    if data.draw(st.booleans(), label="json-level"):
        bundle = json.loads(base)
        for _ in range(data.draw(st.integers(1, 3))):
            _mutate_json(data, bundle)
        # Mostly canonical, so the mutation reaches the links behind the encoding check.
        mutated = canonical_bytes(bundle) if data.draw(st.integers(0, 9)) else json.dumps(bundle).encode()
    else:
        mutated = base
        for _ in range(data.draw(st.integers(1, 3))):
            mutated = _mutate_bytes(data, mutated)
    assert_named(mutated, base)


def _same_kind(byte: int) -> int:
    """Another byte of the same kind (hex digit, letter, digit), so semantic checks are reached."""
    for alphabet in (b"0123456789abcdef", b"ghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if byte in alphabet:
            return alphabet[(alphabet.index(byte) + 1) % len(alphabet)]
    return {32: 9, 10: 32}.get(byte, 32)


def test_any_single_changed_byte_fails():
    """Positions spread evenly over the whole file (every byte once the count reaches its size),
    each changed three ways: same kind, case swapped, and an arbitrary byte."""
    base = BASES[0]
    count = min(EXAMPLES, len(base))
    for position in sorted({i * len(base) // count for i in range(count)}):
        byte = base[position]
        for value in {_same_kind(byte), byte ^ 0x20, (byte * 7 + position) % 256} - {byte}:
            tampered = bytearray(base)
            tampered[position] = value
            assert_named(bytes(tampered), base)


def _log_field(data) -> object:
    return data.draw(
        st.one_of(
            st.binary(max_size=40),
            st.just(b"\x11" * 20),
            st.just(MANAGER),
            st.just(word(1)),
            st.lists(st.binary(max_size=33), max_size=5),
            st.lists(st.lists(st.binary(max_size=2), max_size=2), max_size=3),
            st.just([b"\x00"] * 20),
        )
    )


def _hostile_receipt(data) -> bytes:
    logs = [
        [_log_field(data), data.draw(st.one_of(st.lists(st.binary(max_size=33), max_size=5), st.binary(max_size=4))),
         _log_field(data)]
        for _ in range(data.draw(st.integers(0, 3)))
    ]  # fmt: skip
    status = data.draw(st.sampled_from([b"\x01", b"", b"\x02", b"\x01\x00"]))
    return b"\x02" + rlp.encode([status, 21000, b"\x00" * 256, logs])


def _hostile_tx(data, real: bytes) -> bytes:
    kind = data.draw(st.sampled_from(["random", "mutated", "deep", "typed-deep", "legacy", "short-fields"]))
    if kind == "random":
        return data.draw(st.binary(min_size=1, max_size=120))
    if kind == "mutated":
        buf = bytearray(real)
        buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
        return bytes(buf)
    if kind == "deep":
        return nested_rlp_list(data.draw(st.integers(17, 3000)))
    if kind == "typed-deep":
        return data.draw(st.sampled_from([b"\x02", b"\x7e", b"\x01"])) + nested_rlp_list(2000)
    if kind == "legacy":
        return rlp.encode([data.draw(st.binary(max_size=3)) for _ in range(data.draw(st.integers(0, 9)))])
    return b"\x02" + rlp.encode([[b"\x01"]] * data.draw(st.integers(0, 12)))


@FUZZ
@given(st.data())
def test_hostile_transactions_and_receipts_behind_valid_proofs_fail_by_name(data):
    """The chain, the proofs and the claims are valid; the proven bytes the decoders read are not."""
    leaf = data.draw(st.sampled_from(["mint_tx", "mint_receipt", "relay_tx", "l1_info_tx"]), label="leaf")
    if leaf == "mint_receipt":
        choice = data.draw(st.sampled_from(["structured", "raw"]))
        real = receipt([(HEMIBTC, [], word(1))])
        hostile = _hostile_receipt(data) if choice == "structured" else _hostile_tx(data, real)
    else:
        real = STORY.hemi_txs[{"mint_tx": 12, "relay_tx": 10, "l1_info_tx": 25}[leaf]][0 if leaf == "l1_info_tx" else 1]
        hostile = _hostile_tx(data, real)
    # Not compared with a base: a hostile leaf can still tell a self-consistent story.
    assert_named(canonical_bytes(EvidenceStory({leaf: hostile}).bundle()), None)


def test_the_hostile_story_builder_changes_only_the_leaf():
    """Guards the fuzz test above: with the real leaf back in, the story verifies."""
    assert verify_bundle(canonical_bytes(EvidenceStory({"relay_tx": STORY.hemi_txs[10][1]}).bundle())).ok
    deep = EvidenceStory({"relay_tx": b"\x02" + nested_rlp_list(2000)}).bundle()
    failed = verify_bundle(canonical_bytes(deep)).failed
    assert (failed.link, failed.unexpected) == ("hvm view", False)
    assert "nests RLP lists 2001 deep" in failed.detail
