"""Hostile ERC-20 metadata from the devnet's odd tokens is stored as plain, bounded data."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.crosschain import handlers
from indexer.hemi import ingest, sync, tokens_ingest
from indexer.hemi.models import Token, TokenBalance

from .conftest import DevChain

pytestmark = pytest.mark.django_db
SUPPLY = 10**21


@pytest.fixture(scope="module")
def odd_tokens(chain: DevChain) -> dict[str, bytes]:
    a = chain.accounts
    chain.mine([chain.creation_tx(name, SUPPLY, sender=a[2]) for name in
                ("Bytes32MetaToken", "NoDecimalsToken", "HostileToken", "DevnetUSD")])  # fmt: skip
    out = {}
    for name, tx_hash in zip(("bytes32", "nodec", "hostile", "usd"), chain.last_hashes, strict=True):
        out[name] = bytes.fromhex(chain.receipt(tx_hash)["contractAddress"][2:])
    return out


def index(chain: DevChain, rpc: Any, followups: str = "inline") -> None:
    network = chain.network()
    after_commit = handlers.after_commit_for(followups, network)
    sync.follow_tip(rpc, network=network, after_commit=after_commit, config=ingest.IngestConfig(None, True))
    if after_commit is not None:  # on_commit never fires inside the test's transaction: drain here
        after_commit([])


def test_bytes32_name_and_symbol_are_decoded_and_the_oddity_noted(chain: DevChain, odd_tokens, rpc) -> None:
    index(chain, rpc)
    token = Token.objects.get(address=odd_tokens["bytes32"])
    assert (token.name, token.symbol, token.decimals) == ("Bytes32 Meta Token", "B32M", 18)
    assert "bytes32" in token.metadata_problems
    assert token.total_supply == SUPPLY


def test_a_reverting_decimals_is_unknown_not_a_guess(chain: DevChain, odd_tokens, rpc) -> None:
    index(chain, rpc)
    token = Token.objects.get(address=odd_tokens["nodec"])
    assert token.decimals is None
    assert (token.name, token.symbol) == ("No Decimals Token", "NODEC")
    assert "decimals: call reverted" in token.metadata_problems


def test_a_10kb_name_is_truncated_with_a_problem_and_markup_is_kept_verbatim(chain: DevChain, odd_tokens, rpc) -> None:
    index(chain, rpc)
    token = Token.objects.get(address=odd_tokens["hostile"])
    assert len(token.name) == 256
    assert token.name.startswith('Hostile TOKEN "quoted" <b>bold</b>')  # bidi override and newline removed
    assert "\u202e" not in token.name and "\n" not in token.name
    assert "truncated" in token.metadata_problems and "control character" in token.metadata_problems
    # Stored as data; escaping is the templates' job.
    assert token.symbol == "<script>alert(1)</script>"
    assert token.decimals == 18


def test_metadata_is_read_after_commit_and_rereading_is_harmless(chain: DevChain, odd_tokens, rpc) -> None:
    index(chain, rpc, followups="none")
    token = Token.objects.get(address=odd_tokens["usd"])
    assert token.name == "" and token.metadata_read_at_block is None  # the block write did no I/O
    assert TokenBalance.objects.get(token=token).balance == SUPPLY
    first = tokens_ingest.read_token_metadata(token.id, rpc)
    again = tokens_ingest.read_token_metadata(token.id, rpc)
    assert (first.name, first.symbol, first.decimals) == (again.name, again.symbol, again.decimals) == (
        "Devnet USD", "dUSD", 6)  # fmt: skip
    assert tokens_ingest.read_token_metadata(10**9, rpc) is None
