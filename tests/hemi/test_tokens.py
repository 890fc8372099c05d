"""ERC-20 metadata from eth_call results: every odd shape yields a value or a stated problem."""

from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode

from indexer.hemi.tokens import (
    MAX_TEXT_CHARS,
    decode_decimals_result,
    decode_text_result,
    decode_total_supply_result,
)


def abi_string(text: str) -> bytes:
    return abi_encode(["string"], [text])


def test_abi_string_name():
    result = decode_text_result(abi_string("Hemi Bitcoin"))
    assert result.value == "Hemi Bitcoin" and result.problem is None and not result.truncated


def test_empty_abi_string_is_an_empty_name_not_a_problem():
    result = decode_text_result(abi_string(""))
    assert result.value == "" and result.problem is None


def test_bytes32_symbol_is_stripped_of_nul_padding():
    result = decode_text_result(b"MKR".ljust(32, b"\x00"))
    assert result.value == "MKR"
    assert result.problem == "returned bytes32"


def test_revert_and_empty_results_have_no_value_and_a_reason():
    assert decode_text_result(None).problem == "call reverted"
    empty = decode_text_result(b"")
    assert empty.value is None and "empty return data" in empty.problem


@pytest.mark.parametrize(
    "raw",
    [
        b"\x01\x02\x03",
        bytes(31),
        # ABI string whose length points past the data
        (32).to_bytes(32, "big") + (500).to_bytes(32, "big") + b"a" * 32,
        # wrong head offset
        (64).to_bytes(32, "big") + (3).to_bytes(32, "big") + b"abc".ljust(32, b"\x00"),
        # non-zero padding after the string
        (32).to_bytes(32, "big") + (3).to_bytes(32, "big") + b"abcX".ljust(32, b"\x00"),
    ],
)
def test_garbage_is_reported_not_guessed(raw):
    result = decode_text_result(raw)
    assert result.value is None
    assert result.problem.startswith("unrecognised return data")


def test_markup_is_kept_verbatim_for_the_template_to_escape():
    result = decode_text_result(abi_string('<script>alert("x")</script>'))
    assert result.value == '<script>alert("x")</script>' and result.problem is None


def test_control_and_bidi_characters_are_removed_and_reported():
    result = decode_text_result(abi_string("US\x00D\u202eC\x1b[31m\n"))
    assert result.value == "USDC[31m"
    assert result.problem == "removed 4 control character(s)"


def test_long_names_are_truncated_with_a_note():
    result = decode_text_result(abi_string("A" * 1000))
    assert len(result.value) == MAX_TEXT_CHARS and result.truncated
    assert result.problem == "truncated from 1000 to 256 characters"


def test_invalid_utf8_is_replaced_and_reported():
    raw = (32).to_bytes(32, "big") + (3).to_bytes(32, "big") + b"a\xffb".ljust(32, b"\x00")
    result = decode_text_result(raw)
    assert result.value == "a\ufffdb" and "not valid UTF-8" in result.problem


def test_emoji_and_non_latin_text_survive():
    assert decode_text_result(abi_string("比特币 🟠")).value == "比特币 🟠"


def test_decimals():
    assert decode_decimals_result((8).to_bytes(32, "big")).value == 8
    assert decode_decimals_result((255).to_bytes(32, "big")).value == 255
    too_big = decode_decimals_result((256).to_bytes(32, "big"))
    assert too_big.value is None and too_big.problem == "decimals 256 does not fit uint8"
    assert decode_decimals_result(None).problem == "call reverted"
    short = decode_decimals_result(b"\x12")
    assert short.value is None and "1 bytes, expected 32" in short.problem
    extra = decode_decimals_result((18).to_bytes(32, "big") + bytes(32))
    assert extra.value == 18 and extra.problem == "32 trailing byte(s) ignored"


def test_total_supply_is_a_full_uint256():
    assert decode_total_supply_result((2**256 - 1).to_bytes(32, "big")).value == 2**256 - 1
    assert decode_total_supply_result(b"").value is None
