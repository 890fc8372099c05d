"""Path parameters: hex is checked digit by digit before its length means anything."""

from __future__ import annotations

import pytest

from explorer.params import BadParameter, parse_address, parse_evm_hash, parse_hex


@pytest.mark.parametrize(
    "value",
    [
        "0x" + "ab" * 19 + "  ",  # 38 digits + 2 spaces: 40 characters, 19 bytes
        "0x" + "ab" * 18 + " ab ",
        " " + "ab" * 19 + " ",
        "0x" + "ab" * 10 + "\n" + "ab" * 9 + "\t",
        "0x" + "ab" * 19 + "\u00a0\u00a0",
    ],
)
def test_an_address_padded_with_whitespace_is_refused(value):
    assert len(value.removeprefix("0x")) == 40
    with pytest.raises(BadParameter, match="must be hexadecimal"):
        parse_address(value)


def test_parse_hex_accepts_exactly_the_right_number_of_digits():
    assert parse_address("0x" + "Ab" * 20) == bytes.fromhex("ab" * 20)
    assert parse_evm_hash("CD" * 32) == bytes.fromhex("cd" * 32)
    with pytest.raises(BadParameter, match=r"40 hex characters .* got 38"):
        parse_address("0x" + "ab" * 19)
    with pytest.raises(BadParameter, match="must be hexadecimal"):
        parse_hex("0x" + "zz" * 20, 20, "an address")


def test_a_hash_with_a_space_inside_is_a_400(db, client):
    response = client.get("/provenance/mint/0x" + "ab" * 31 + "%20%20")
    assert response.status_code == 400
    assert "must be hexadecimal" in response.content.decode()
