"""The devnet's ERC-20s, including the deliberately awkward ones the explorer must survive."""

from __future__ import annotations

import pytest
from web3 import Web3

from devnet.evm import contract_at, transact

pytestmark = pytest.mark.integration


def test_plain_token_transfers_emit_transfer_logs(w3: Web3, deployment: dict[str, str]) -> None:
    usd = contract_at(w3, "DevnetUSD", deployment["DevnetUSD"])
    assert (usd.functions.name().call(), usd.functions.symbol().call(), usd.functions.decimals().call()) == (
        "Devnet USD",
        "dUSD",
        6,
    )
    sender, receiver = w3.eth.accounts[0], w3.eth.accounts[9]
    receipt = transact(w3, usd.functions.transfer(receiver, 1_500_000), sender)
    [event] = usd.events.Transfer().process_receipt(receipt)
    assert (event.args["from"], event.args.to, event.args.value) == (sender, receiver, 1_500_000)


def test_odd_metadata_tokens_behave_as_designed(w3: Web3, deployment: dict[str, str]) -> None:
    b32 = contract_at(w3, "Bytes32MetaToken", deployment["Bytes32MetaToken"])
    assert b32.functions.name().call().rstrip(b"\x00") == b"Bytes32 Meta Token"
    assert b32.functions.symbol().call().rstrip(b"\x00") == b"B32M"
    nodec = contract_at(w3, "NoDecimalsToken", deployment["NoDecimalsToken"])
    with pytest.raises(Exception, match="decimals"):
        nodec.functions.decimals().call()
    hostile = contract_at(w3, "HostileToken", deployment["HostileToken"])
    name = hostile.functions.name().call()
    assert 9_000 < len(name.encode()) < 11_000 and "\u202e" in name and "<img" in name
    assert hostile.functions.symbol().call() == "<script>alert(1)</script>"


def test_hemibtc_is_the_managers_token(w3: Web3, deployment: dict[str, str]) -> None:
    manager = contract_at(w3, "BitcoinTunnelManager", deployment["BitcoinTunnelManager"])
    token = contract_at(w3, "BTCToken", manager.functions.btcTokenContract().call())
    assert token.address == deployment["BTCToken"]
    assert (
        token.functions.name().call(),
        token.functions.symbol().call(),
        token.functions.decimals().call(),
    ) == (
        "Hemi Bitcoin",
        "hemiBTC",
        8,
    )
    assert token.functions.tunnelManager().call() == manager.address
    assert manager.functions.vaultCounter().call() >= 1


def test_the_nft_is_an_erc721_whose_transfer_has_the_token_id_in_topic3(w3: Web3, deployment: dict[str, str]) -> None:
    nft = contract_at(w3, "DevnetNFT", deployment["DevnetNFT"])
    assert (nft.functions.name().call(), nft.functions.symbol().call()) == ("Devnet NFT", "dNFT")
    supports = nft.functions.supportsInterface
    assert supports(bytes.fromhex("80ac58cd")).call() and supports(bytes.fromhex("01ffc9a7")).call()
    assert not supports(bytes.fromhex("ffffffff")).call()
    owner, holder, receiver = w3.eth.accounts[0], w3.eth.accounts[8], w3.eth.accounts[9]
    token_id = 2**255 + 3
    transact(w3, nft.functions.mint(holder, token_id), owner)
    receipt = transact(w3, nft.functions.safeTransferFrom(holder, receiver, token_id), holder)
    [log] = receipt["logs"]
    assert len(log["topics"]) == 4 and bytes(log["data"]) == b""
    assert int.from_bytes(log["topics"][3], "big") == token_id
    assert nft.functions.ownerOf(token_id).call() == receiver
    assert nft.functions.balanceOf(holder).call() == 0
    with pytest.raises(Exception, match="only the owner"):
        nft.functions.mint(holder, 1).call({"from": holder})
