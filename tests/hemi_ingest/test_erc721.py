"""ERC-721 on a real anvil: DevnetNFT mints, transfers and burns, indexed by the Hemi sync path.

An ERC-721 Transfer shares topic0 with ERC-20's but has four topics (tokenId in topic3) and no
data. The indexer stores it as a TokenTransfer with ``nft_id`` set and ``value`` None, and
counts one token per transfer in the holder balances, which must equal ``balanceOf``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from web3.exceptions import ContractLogicError

from indexer.crosschain import handlers
from indexer.hemi import events, ingest, sync
from indexer.hemi.models import Block, Token, TokenBalance, TokenTransfer

from .conftest import DevChain

pytestmark = pytest.mark.django_db
CONFIG = ingest.IngestConfig(tunnel_manager=None, accept_impersonated=True)
MAX_ID = 2**256 - 1  # the largest token id: stored exactly, not as a float or a truncated int
ZERO = bytes(20)
GAS = 200_000


def raw(address: str) -> bytes:
    return bytes.fromhex(address[2:].lower())


def index(chain: DevChain, rpc: Any, followups: str = "inline") -> sync.SyncProgress:
    after_commit = handlers.after_commit_for(followups, chain.network())
    state = sync.follow_tip(rpc, network=chain.network(), config=CONFIG, after_commit=after_commit)
    if after_commit is not None:  # on_commit never fires inside the test's transaction: drain here
        after_commit([])
    return state


@pytest.fixture(scope="module")
def nft(chain: DevChain) -> dict[str, Any]:
    """DevnetNFT (owner a[0]) and DevnetUSD; mints, transfers of every kind, a burn, a revert."""
    a = chain.accounts
    address = chain.deploy("DevnetNFT")
    usd_address = chain.deploy("DevnetUSD", 10**12)
    token, usd = chain.contract("DevnetNFT", address), chain.contract("DevnetUSD", usd_address)
    # One block with mints and an ERC-20 transfer: value and nft_id columns each half empty.
    chain.mine([
        chain.call_tx(token, "mint", a[1], 0, gas=GAS),
        chain.call_tx(token, "mint", a[1], 1, gas=GAS),
        chain.call_tx(usd, "transfer", a[2], 5_000, gas=GAS),
        chain.call_tx(token, "mint", a[2], 2, gas=GAS),
        chain.call_tx(token, "mint", a[3], 7, gas=GAS),
        chain.call_tx(token, "mint", a[3], MAX_ID, gas=GAS),
        chain.call_tx(token, "mint", a[3], 2**64, gas=GAS),
    ])  # fmt: skip
    chain.mine([
        chain.call_tx(token, "transferFrom", a[1], a[4], 0, sender=a[1], gas=GAS),
        chain.call_tx(token, "safeTransferFrom", a[3], a[1], MAX_ID, sender=a[3], gas=GAS),
        chain.call_tx(token, "approve", a[5], 2, sender=a[2], gas=GAS),
        # sent by the approved a[5]: the transfer's sender is the holder a[2], not the tx sender
        chain.call_tx(token, "transferFrom", a[2], a[6], 2, sender=a[5], gas=GAS),
        chain.call_tx(token, "burn", 7, sender=a[3], gas=GAS),
    ])  # fmt: skip
    chain.mine([
        chain.call_tx(token, "transferFrom", a[4], a[4], 0, sender=a[4], gas=GAS),  # to itself
        chain.call_tx(token, "transferFrom", a[1], a[7], 1, sender=a[7], gas=GAS),  # reverts: not approved
        chain.call_tx(token, "safeTransferFrom", a[1], usd_address, 1, sender=a[1], gas=GAS),  # reverts
    ])  # fmt: skip
    statuses = [chain.receipt(h)["status"] for h in chain.last_hashes]
    assert statuses == ["0x1", "0x0", "0x0"]
    chain.mine_empty(1)
    return {"address": address, "token": token, "usd": usd_address}


def node_transfers(chain: DevChain, address: str) -> list[tuple[int, int, bytes, bytes, int]]:
    """(block, log index, from, to, token id) of every Transfer the node's receipts hold for ``address``."""
    out = []
    for number in range(chain.tip() + 1):
        for receipt in chain.rpc.block_receipts([number])[0]:
            for log in receipt["logs"]:
                topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
                if log["address"].lower() != address.lower() or topics[0] != events.TRANSFER_TOPIC:
                    continue
                assert len(topics) == 4 and log["data"] == "0x"
                out.append((number, int(log["logIndex"], 16), topics[1][12:], topics[2][12:],
                            int.from_bytes(topics[3], "big")))  # fmt: skip
    return out


def stored_transfers(address: str) -> list[tuple[int, int, bytes, bytes, int]]:
    rows = (
        TokenTransfer.objects.canonical()
        .filter(token__address=raw(address))
        .select_related("log", "block")
        .order_by("block__number", "log__log_index")
    )
    out = []
    for row in rows:
        assert row.value is None
        assert row.nft_id == Decimal(int(row.nft_id))  # integral, exact
        out.append((row.block.number, row.log.log_index, bytes(row.sender), bytes(row.recipient), int(row.nft_id)))
    return out


def assert_balances_match_node(chain: DevChain, nft: dict[str, Any]) -> None:
    """Every holder's balance row equals balanceOf; every account with tokens has a row;
    the zero address (mint/burn counterparty) has none; the rows add up to totalSupply."""
    token = nft["token"]
    rows = {bytes(r.holder): r.balance for r in TokenBalance.objects.filter(token__address=raw(nft["address"]))}
    assert ZERO not in rows
    holders = {raw(acct) for acct in chain.accounts} | set(rows)
    for holder in holders:
        expected = token.functions.balanceOf(chain.w3.to_checksum_address(holder)).call()
        assert rows.get(holder, 0) == expected, "0x" + holder.hex()
    assert sum(rows.values()) == token.functions.totalSupply().call()


def assert_owners_match_node(nft: dict[str, Any], token_ids: list[int]) -> None:
    """The recipient of each token id's last canonical transfer is ownerOf (zero if burnt)."""
    last: dict[int, bytes] = {}
    for *_, recipient, token_id in stored_transfers(nft["address"]):
        last[token_id] = recipient
    for token_id in token_ids:
        try:
            owner = raw(nft["token"].functions.ownerOf(token_id).call())
        except ContractLogicError:  # burnt (or never minted): ownerOf reverts
            owner = ZERO
        assert last.get(token_id, ZERO) == owner, token_id


def test_the_token_row_is_erc721_with_metadata_read(chain: DevChain, nft: dict, rpc) -> None:
    index(chain, rpc)
    token = Token.objects.get(address=raw(nft["address"]))
    assert token.standard == Token.ERC721 == "erc721"
    assert (token.name, token.symbol, token.decimals) == ("Devnet NFT", "dNFT", None)
    assert token.total_supply == nft["token"].functions.totalSupply().call() == 5
    assert token.metadata_read_at_block is not None
    assert token.metadata_problems == ""  # ERC-721 has no decimals(); not asking is not a problem
    assert Token.objects.get(address=raw(nft["usd"])).standard == Token.ERC20


def test_transfer_rows_equal_the_nodes_logs_with_exact_token_ids(chain: DevChain, nft: dict, rpc) -> None:
    index(chain, rpc)
    a = [raw(acct) for acct in chain.accounts]
    stored = stored_transfers(nft["address"])
    assert stored == node_transfers(chain, nft["address"])
    assert [(s, r, i) for _, _, s, r, i in stored] == [
        (ZERO, a[1], 0),
        (ZERO, a[1], 1),
        (ZERO, a[2], 2),
        (ZERO, a[3], 7),
        (ZERO, a[3], MAX_ID),
        (ZERO, a[3], 2**64),
        (a[1], a[4], 0),
        (a[3], a[1], MAX_ID),
        (a[2], a[6], 2),  # the holder, though a[5] sent the transaction
        (a[3], ZERO, 7),  # burn
        (a[4], a[4], 0),  # to itself
    ]
    # The ERC-20 transfer mined beside the mints kept its value and has no nft_id.
    usd = TokenTransfer.objects.get(token__address=raw(nft["usd"]), recipient=a[2])
    assert (usd.value, usd.nft_id) == (5_000, None)


def test_holder_balances_count_the_tokens_held(chain: DevChain, nft: dict, rpc) -> None:
    index(chain, rpc)
    a = [raw(acct) for acct in chain.accounts]
    assert_balances_match_node(chain, nft)
    balances = {bytes(r.holder): r.balance for r in TokenBalance.objects.filter(token__address=raw(nft["address"]))}
    # a[1]: 0 out, 1 kept, MAX_ID in; a[3]: three minted, one sent, one burnt; a[4]'s self-transfer is a no-op.
    assert balances == {a[1]: 2, a[2]: 0, a[3]: 1, a[4]: 1, a[6]: 1}
    assert_owners_match_node(nft, [0, 1, 2, 7, MAX_ID, 2**64])


def test_a_reorg_that_undoes_an_nft_transfer_leaves_balances_right(chain: DevChain, nft: dict, rpc) -> None:
    a = chain.accounts
    token = nft["token"]
    index(chain, rpc, followups="none")
    fork = chain.tip()
    snapshot = chain.rpc.call("evm_snapshot")
    # Branch A: a[1] sends token 1 to a[8]; a[6] sends token 2 to a[9]; a[1] burns MAX_ID.
    chain.mine([chain.call_tx(token, "transferFrom", a[1], a[8], 1, sender=a[1], gas=GAS)])
    chain.mine([
        chain.call_tx(token, "transferFrom", a[6], a[9], 2, sender=a[6], gas=GAS),
        chain.call_tx(token, "burn", MAX_ID, sender=a[1], gas=GAS),
    ])  # fmt: skip
    assert index(chain, rpc, followups="none").reorgs == 0
    assert_balances_match_node(chain, nft)
    a8 = TokenBalance.objects.get(token__address=raw(nft["address"]), holder=raw(a[8]))
    assert a8.balance == 1
    orphan_ids = set(TokenTransfer.objects.filter(block__number__gt=fork).values_list("id", flat=True))
    assert len(orphan_ids) == 3

    # Branch B, one block longer: token 1 goes to a[9] instead, token 2 stays with a[6], a new mint.
    assert chain.rpc.call("evm_revert", [snapshot]) is True
    assert chain.tip() == fork
    chain.mine([chain.call_tx(token, "transferFrom", a[1], a[9], 1, sender=a[1], gas=GAS)])
    chain.mine([chain.call_tx(token, "mint", a[8], 3, gas=GAS)])
    chain.mine_empty(1)

    progress = index(chain, rpc, followups="none")
    assert progress.reorgs == 1 and progress.current == chain.tip()
    assert not TokenTransfer.objects.filter(id__in=orphan_ids, canonical=True).exists()
    assert Block.objects.filter(number__gt=fork, canonical=False).count() == 2
    assert_balances_match_node(chain, nft)
    balances = {bytes(r.holder): r.balance for r in TokenBalance.objects.filter(token__address=raw(nft["address"]))}
    # a[8] lost branch A's token 1 and got token 3; a[1] has MAX_ID back; a[6] has token 2 back.
    assert (balances[raw(a[8])], balances[raw(a[1])], balances[raw(a[6])], balances[raw(a[9])]) == (1, 1, 1, 1)
    assert stored_transfers(nft["address"]) == node_transfers(chain, nft["address"])
    assert_owners_match_node(nft, [0, 1, 2, 3, 7, MAX_ID, 2**64])
