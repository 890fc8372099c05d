"""Header-only ingestion of real mainnet headers 0..4100 through the full validation path,
including the retarget boundaries at 2016 and 4032."""

from __future__ import annotations

import pytest

from indexer.bitcoin.headers import HeaderRejected, MissingAncestor
from indexer.bitcoin.ingest import NotOnTip, ingest_headers
from indexer.bitcoin.models import BitcoinBlock
from indexer.hashing import dsha256
from indexer.models import ChainCursor

pytestmark = pytest.mark.django_db

GENESIS = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"


def test_mainnet_headers_validate_through_two_retargets(mainnet_headers):
    """Heights 0..4100 through the full rules, including the retarget boundaries 2016 and 4032."""
    headers = mainnet_headers[:4101]
    last = ingest_headers(headers[:2500], 0, bitcoin_network="mainnet")
    last = ingest_headers(headers[2500:], last + 1, bitcoin_network="mainnet")
    assert last == 4100
    tip = BitcoinBlock.objects.get(height=4100)
    assert bytes(tip.hash_internal) == dsha256(headers[4100])
    assert BitcoinBlock.objects.get(height=0).hash_display == GENESIS
    assert BitcoinBlock.objects.filter(scanned_at__isnull=True).count() == 4101  # headers only
    # Chainwork at difficulty 1 is (2^256 / (target + 1)) per block: 0x100010001 each.
    assert int(tip.chainwork) == 4101 * 0x100010001
    assert ChainCursor.objects.get(chain="bitcoin").height == 4100


def test_a_header_with_wrong_bits_at_a_retarget_is_rejected(mainnet_headers):
    ingest_headers(mainnet_headers[:2016], 0, bitcoin_network="mainnet")
    forged = bytearray(mainnet_headers[2016])
    forged[72:76] = (0x1C00FFFF).to_bytes(4, "little")
    with pytest.raises(HeaderRejected) as caught:
        ingest_headers([bytes(forged)], 2016, bitcoin_network="mainnet")
    # proof of work is checked first and the forged header's hash no longer meets any target
    assert caught.value.reason in ("high-hash", "bad-diffbits")


def test_headers_that_do_not_extend_the_cursor_are_refused(mainnet_headers):
    ingest_headers(mainnet_headers[:10], 0, bitcoin_network="mainnet")
    with pytest.raises(NotOnTip):
        ingest_headers(mainnet_headers[11:20], 11, bitcoin_network="mainnet")
    assert ChainCursor.objects.get().height == 9


def test_a_trusted_anchor_run_checks_only_proof_of_work_and_linkage(mainnet_headers):
    """An index starting above genesis stores the headers below its start height as its anchor:
    their own context lies below the run, so full validation could not work; after them it does."""
    with pytest.raises(MissingAncestor):
        ingest_headers(mainnet_headers[2000:2020], 2000, bitcoin_network="mainnet", trusted=False)
    assert ingest_headers(mainnet_headers[2000:2020], 2000, bitcoin_network="mainnet", trusted=True) == 2019
    assert ingest_headers(mainnet_headers[2020:2040], 2020, bitcoin_network="mainnet") == 2039
    assert BitcoinBlock.objects.get(height=2039).hash_internal == dsha256(mainnet_headers[2039])


def test_all_fixture_headers_validate_including_the_first_real_difficulty_change(mainnet_headers):
    """Height 32256 is the first retarget where mainnet's difficulty actually rose."""
    first = 0
    for chunk in range(0, len(mainnet_headers), 8000):
        first = ingest_headers(mainnet_headers[chunk : chunk + 8000], chunk, bitcoin_network="mainnet") + 1
    assert first == len(mainnet_headers) == 32261
    assert BitcoinBlock.objects.get(height=32255).bits == 0x1D00FFFF
    assert BitcoinBlock.objects.get(height=32256).bits == 0x1D00D86A
