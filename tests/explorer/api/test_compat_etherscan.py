"""The Etherscan-style dialect (``/api?module=&action=``): upstream's envelope, errors as HTTP
200 with status "0", page/offset paging capped at page x offset <= 10 000."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.explorer import api_dataset


@pytest.fixture
def dataset(chains, tunnel, monkeypatch):
    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)
    return api_dataset.build(chains, tunnel)


def call(client, **params):
    response = client.get("/api", params)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def test_eth_block_number_answers_the_indexed_tip_in_the_envelope(client, chains):
    chains.hemi_chain(42)
    assert call(client, module="block", action="eth_block_number") == {"status": "1", "message": "OK", "result": "0x2a"}


def test_txlist_pages_with_page_and_offset_in_both_orders(client, dataset):
    holder = "0x" + dataset.holder.hex()
    everything = call(client, module="account", action="txlist", address=holder, apikey="ignored")
    assert everything["status"] == "1"
    hashes = [t["hash"] for t in everything["result"]]
    assert len(hashes) == len(set(hashes)) >= 10
    numbers = [(int(t["blockNumber"]), int(t["transactionIndex"])) for t in everything["result"]]
    assert numbers == sorted(numbers)  # sort=asc by default
    pages = [call(client, module="account", action="txlist", address=holder, page=p, offset=3)["result"]
             for p in range(1, 5)]  # fmt: skip
    assert [t["hash"] for page in pages for t in page] == hashes[:12]
    newest = call(client, module="account", action="txlist", address=holder, sort="desc", offset=2, page=1)
    assert [t["hash"] for t in newest["result"]] == hashes[::-1][:2]
    item = everything["result"][0]
    assert all(isinstance(v, str) for v in item.values())
    assert {"blockNumber", "timeStamp", "hash", "nonce", "blockHash", "transactionIndex", "from", "to", "value",
            "gas", "gasPrice", "isError", "txreceipt_status", "input", "contractAddress", "cumulativeGasUsed",
            "gasUsed", "confirmations", "methodId", "functionName"} <= set(item)  # fmt: skip
    assert (item["isError"], item["txreceipt_status"]) == ("0", "1")


def test_the_window_cap_and_bad_input_are_status_0_with_http_200(client, dataset):
    holder = "0x" + dataset.holder.hex()
    capped = call(client, module="account", action="txlist", address=holder, page=101, offset=100)
    assert capped["status"] == "0" and "less than or equal to 10000" in capped["result"]
    assert call(client, module="account", action="txlist", address="0x12")["result"] == "Error! Invalid address format"
    empty = call(client, module="account", action="txlist", address="0x" + "77" * 20)
    assert empty == {"status": "0", "message": "No transactions found", "result": []}
    unknown = call(client, module="account", action="nope")
    assert unknown["status"] == "0" and "account.txlist" in unknown["result"]
    assert call(client)["status"] == "0"


def test_token_actions(client, dataset, tunnel):
    token = "0x" + tunnel.HEMIBTC.hex()
    recipient = "0x" + tunnel.RECIPIENT.hex()
    info = call(client, module="token", action="gettoken", contractaddress=token)["result"]
    assert (info["symbol"], info["decimals"], info["type"]) == ("hemiBTC", "8", "ERC-20")
    assert info["contractAddress"] == token
    transfers = call(client, module="account", action="tokentx", address=recipient, contractaddress=token)["result"]
    assert len(transfers) == 5 and all(t["to"] == recipient and t["tokenSymbol"] == "hemiBTC" for t in transfers)
    assert call(client, module="account", action="tokenbalance", contractaddress=token,
                address="0x" + ("00" * 19) + "01")["result"] == "0"  # fmt: skip
    holder = "0x" + dataset.holder.hex()
    first = call(client, module="account", action="tokenbalance", address=holder,
                 contractaddress="0x" + dataset.chains.hemi.Token.objects.get(symbol="T3").address.hex())  # fmt: skip
    assert first["result"] == "3"


def test_receipt_status_logs_and_block_by_time(client, dataset):
    tx = "0x" + bytes(dataset.tx_with_logs.hash).hex()
    assert call(client, module="transaction", action="gettxreceiptstatus", txhash=tx)["result"] == {"status": "1"}
    logs = call(client, module="logs", action="getlogs", address="0x" + "ee" * 20, fromBlock=11, toBlock=11)
    assert logs["status"] == "1" and {entry["transactionHash"] for entry in logs["result"]} == {tx}
    assert all(entry["blockNumber"] == "0xb" for entry in logs["result"])
    assert call(client, module="logs", action="getlogs", fromBlock=1, toBlock=2)["status"] == "0"  # needs a filter
    # Block i has timestamp 1_700_000_000 + 2i.
    at = call(client, module="block", action="getblocknobytime", timestamp=1_700_000_021, closest="before")
    assert at["result"] == {"blockNumber": "10"}
    after = call(client, module="block", action="getblocknobytime", timestamp=1_700_000_021, closest="after")
    assert after["result"] == {"blockNumber": "11"}
    exact = call(client, module="block", action="getblocknobytime", timestamp=1_700_000_020, closest="after")
    assert exact["result"] == {"blockNumber": "10"}
