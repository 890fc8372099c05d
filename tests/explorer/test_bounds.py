"""Bounds measured before parsing: JSON depth/value counts and RLP depth agree with the real parsers."""

from __future__ import annotations

import json
import os

import pytest
import rlp
import rlp.codec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.bounds import BoundsError, JsonLimits, json_depth, json_structure, load_json, rlp_depth

EXAMPLES = int(os.environ.get("HEMISCOPE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Strings full of the characters a naive scan would miscount: brackets, quotes, backslashes.
tricky_text = st.text(alphabet=st.sampled_from('[]{}",\\:ab \u00e9\u202e\n'), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=30,
)


def depth_of(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@pytest.mark.fuzz
@FUZZ
@given(json_values, st.booleans())
def test_json_depth_matches_the_parsed_value(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only, indent=None if ascii_only else 1).encode()
    assert json_depth(text) == depth_of(value)


@pytest.mark.fuzz
@FUZZ
@given(json_values, st.data())
def test_no_parser_recursion_escapes_the_depth_bound_on_broken_json(value, data):
    """Cut or spliced text: within the limit the parser can only fail by name, never recurse away."""
    text = bytearray(json.dumps(value).encode())
    at = data.draw(st.integers(0, len(text)))
    text[at:at] = data.draw(st.sampled_from([b"[" * 5000, b'{"a":' * 5000, b'"', b"\\", b"]"]))
    try:
        load_json(bytes(text[: data.draw(st.integers(0, len(text)))]))
    except BoundsError:
        pass


def test_load_json_names_every_refusal():
    limits = JsonLimits(max_bytes=100, max_depth=3, max_structure=6, max_int_digits=4)
    for data, reason in [
        (b" " * 101, "larger than the 100-byte limit"),
        (b"[[[[1]]]]", "nested 4 deep, over the limit of 3"),
        (b"[1,2,3,4,5,6,7]", "7 quotes, backslashes, commas and brackets, over the limit of 6"),
        (b'["' + b"\\" * 4 + b'"]', "7 quotes, backslashes, commas and brackets"),
        (b"[12345]", "more than 4 digits"),
        (b"[-Infinity]", "-Infinity is not JSON"),
        (b'["\xc3"]', "not UTF-8"),
        (b'{"a": 1', "not JSON: Expecting"),
    ]:
        with pytest.raises(BoundsError, match=reason):
            load_json(data, limits)
    assert load_json(b'[[["]]]"]]]', limits) == [[["]]]"]]]


def test_pathological_text_is_measured_in_one_pass():
    """Long runs of escapes and quotes (which make naive string regexes rescan) keep string parity."""
    size = 2_000_000
    assert json_depth(b'["' + b'\\"' * size + b'", [[]]]') == 3  # escaped quotes do not end the string
    assert json_depth(b'["' + b"\\\\" * size + b'", [[]]]') == 3  # escaped backslashes do not escape it
    assert json_depth(b'["' + b"[" * size + b'", [[]]]') == 3  # brackets inside a string do not count
    assert json_depth(b"[" * size) == size


def test_structure_is_refused_before_the_depth_scan_runs(monkeypatch):
    """Many tiny values (the memory blow-up) are refused by C-speed counts alone."""
    import explorer.bounds

    monkeypatch.setattr(explorer.bounds, "json_depth", lambda data: pytest.fail("depth scanned"))
    limit = JsonLimits().max_structure
    for data in (b"[" * (limit + 1), b'"' * (limit + 1), b"[" + b"{}," * limit + b"{}]", b"\\" * (limit + 1)):
        assert json_structure(data) > limit
        with pytest.raises(BoundsError, match=f"over the limit of {limit}"):
            load_json(data)


def reached_by_pyrlp(data: bytes, monkeypatch) -> int:
    """How deep pyrlp's recursive decoder actually descends (its list-payload calls, counted)."""
    original = rlp.codec.consume_payload
    depth = deepest = 0

    def counting(raw, prefix, start, type_, length):
        nonlocal depth, deepest
        depth += type_ is list
        deepest = max(deepest, depth)
        try:
            return original(raw, prefix, start, type_, length)
        finally:
            depth -= type_ is list

    monkeypatch.setattr(rlp.codec, "consume_payload", counting)
    try:
        rlp.decode(data, strict=True)
    except (rlp.exceptions.DecodingError, RecursionError):
        pass
    finally:
        monkeypatch.setattr(rlp.codec, "consume_payload", original)
    return deepest


rlp_items = st.recursive(st.binary(max_size=60), lambda inner: st.lists(inner, max_size=4), max_leaves=20)


def rlp_list_depth(item) -> int:
    return 1 + max(map(rlp_list_depth, item), default=0) if isinstance(item, list) else 0


@pytest.mark.fuzz
@FUZZ
@given(rlp_items)
def test_rlp_depth_is_exact_on_valid_rlp(item):
    assert rlp_depth(rlp.encode(item)) == rlp_list_depth(item)


@pytest.mark.fuzz
@FUZZ
@given(rlp_items, st.data())
def test_rlp_depth_never_undercounts_what_pyrlp_reaches(item, data):
    raw = bytearray(rlp.encode([item, [[[item]]]]))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        kind = data.draw(st.sampled_from(["set", "cut", "grow-list", "insert-lists"]))
        if kind == "set":
            raw[at] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del raw[at:]
            if not raw:
                raw = bytearray(b"\xc0")
        elif kind == "grow-list":  # a list claiming more bytes than exist: pyrlp reads on
            raw[0:1] = b"\xf8\xff" if raw[0] >= 0xC0 else raw[0:1]
        else:
            raw[at:at] = b"\xc1" * data.draw(st.integers(1, 50))
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert rlp_depth(bytes(raw)) >= reached_by_pyrlp(bytes(raw), monkeypatch)


def test_an_overlong_outer_list_is_still_walked(monkeypatch):
    """pyrlp descends into a list's children even when its length runs past the end."""
    overlong = b"\xf9\xff\xff" + b"\xc1" * 1000 + b"\xc0"
    reached = reached_by_pyrlp(overlong, monkeypatch)
    assert reached > 300  # deep enough for a RecursionError at the default limit
    assert rlp_depth(overlong) == 1002 >= reached
