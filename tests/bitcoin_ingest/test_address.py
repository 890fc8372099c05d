"""Addresses <-> scripts: BIP173/BIP350 vectors, base58check vectors, per-network parameters."""

from __future__ import annotations

import pytest

from indexer.bitcoin.address import (
    AddressError,
    address_from_script,
    base58check_decode,
    base58check_encode,
    hash160,
    p2pkh_script,
    script_from_address,
    witness_script,
)

# (address, network, scriptPubKey hex) - BIP350's valid segwit address vectors (the v0 ones
# are BIP173's), plus mainnet base58 addresses everyone knows.
VALID = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "mainnet", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "testnet3",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "mainnet",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "mainnet", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "mainnet", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "testnet3",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "testnet4",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "mainnet",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
    # The genesis coinbase's address, and the classic P2SH example from BIP13-era docs.
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "mainnet", "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac"),
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "mainnet", "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87"),
]

# BIP350's invalid addresses (bad hrp, wrong checksum variant, bad characters, bad lengths,
# mixed case, bad padding, empty data).
INVALID_SEGWIT = [
    ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "testnet3"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "mainnet"),
    ("tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "testnet3"),
    ("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "mainnet"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "mainnet"),
    ("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "testnet3"),
    ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "mainnet"),
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "mainnet"),
    ("bc1pw5dgrnzv", "mainnet"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav", "mainnet"),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "mainnet"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "testnet3"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "mainnet"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "testnet3"),
    ("bc1gmk9yu", "mainnet"),
]


@pytest.mark.parametrize(("address", "network", "script_hex"), VALID)
def test_valid_addresses_decode_to_their_scripts(address, network, script_hex):
    assert script_from_address(address, network).hex() == script_hex


@pytest.mark.parametrize(("address", "network", "script_hex"), VALID)
def test_scripts_encode_back_to_the_canonical_lower_case_address(address, network, script_hex):
    encoded = address_from_script(bytes.fromhex(script_hex), network)
    expected = address.lower() if address[:2].lower() in ("bc", "tb") else address
    assert encoded == expected


@pytest.mark.parametrize(("address", "network"), INVALID_SEGWIT)
def test_invalid_segwit_addresses_are_refused(address, network):
    with pytest.raises(AddressError):
        script_from_address(address, network)


def test_an_address_of_another_network_is_refused():
    with pytest.raises(AddressError, match="not P2PKH/P2SH on testnet3"):
        script_from_address("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "testnet3")
    with pytest.raises(AddressError, match="hrp"):
        script_from_address("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "testnet3")
    # Core's regtest addresses are not what bcoin (our regtest node) speaks.
    with pytest.raises(AddressError):
        script_from_address("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "regtest")


def test_a_corrupted_base58_checksum_is_refused():
    with pytest.raises(AddressError, match="checksum"):
        script_from_address("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "mainnet")
    with pytest.raises(AddressError, match="invalid base58 character"):
        script_from_address("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0", "mainnet")


def test_base58check_keeps_leading_zero_bytes_as_ones():
    payload = b"\x00\x00" + bytes(range(20))
    text = base58check_encode(payload)
    assert text.startswith("11")
    assert base58check_decode(text) == payload


def test_testnet_addresses_match_python_bitcoinlib():
    """An independent implementation agrees on testnet P2PKH/P2SH versions (0x6f / 0xc4)."""
    import bitcoin
    from bitcoin.core.script import CScript
    from bitcoin.wallet import CBitcoinAddress

    h = hash160(bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"))
    bitcoin.SelectParams("testnet")
    try:
        for script in (p2pkh_script(h), b"\xa9\x14" + h + b"\x87"):
            theirs = str(CBitcoinAddress.from_scriptPubKey(CScript(script)))
            assert address_from_script(script, "testnet3") == theirs
            assert script_from_address(theirs, "testnet4") == script
    finally:
        bitcoin.SelectParams("mainnet")


def test_regtest_uses_bcoins_versions_and_hrp():
    h = bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")
    p2pkh = address_from_script(p2pkh_script(h), "regtest")
    p2wpkh = address_from_script(witness_script(0, h), "regtest")
    assert p2pkh is not None and p2pkh.startswith("R")  # version 0x3c
    assert p2wpkh == "rb1qw508d6qejxtdg4y5r3zarvary0c5xw7k38f4sn"
    assert script_from_address(p2pkh, "regtest") == p2pkh_script(h)
    assert script_from_address(p2wpkh.upper(), "regtest") == witness_script(0, h)
    p2sh = address_from_script(b"\xa9\x14" + h + b"\x87", "regtest")
    assert base58check_decode(p2sh)[0] == 0x26


def test_scripts_without_an_address_give_none():
    assert address_from_script(bytes.fromhex("6a0448454d49"), "mainnet") is None
    assert address_from_script(b"\x00\x15" + b"\x01" * 21, "mainnet") is None  # v0 program of 21 bytes
    assert address_from_script(b"", "mainnet") is None
