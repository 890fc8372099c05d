"""The evidence download is built once per chain state: repeated clicks are served from the
cache; a new Bitcoin block or a Hemi reorg of the anchoring block makes it rebuild."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from explorer import evidence, evidence_cache
from explorer.verify import verify_bytes
from tests.explorer.evidence_story import HEMIBTC, MANAGER, EvidenceStory, load_into_db


@pytest.fixture
def mint(db, monkeypatch):
    monkeypatch.setenv("TUNNEL_MANAGER_ADDRESS", "0x" + MANAGER.hex())
    monkeypatch.setenv("HEMIBTC_ADDRESS", "0x" + HEMIBTC.hex())
    mint = load_into_db(EvidenceStory())
    cache.delete(evidence_cache.cache_key(mint))
    return mint


@pytest.fixture
def builds(monkeypatch):
    """How many times the real export ran."""
    calls = []
    real = evidence.export_bytes

    def counting(mint):
        calls.append(mint.pk)
        return real(mint)

    monkeypatch.setattr(evidence, "export_bytes", counting)
    return calls


def url(mint) -> str:
    return f"/provenance/mint/0x{bytes(mint.transaction.hash).hex()}/evidence"


def test_repeated_downloads_build_the_bundle_once(client, mint, builds, django_assert_max_num_queries):
    first = client.get(url(mint))
    assert first.status_code == 200 and all(r.ok for r in verify_bytes(first.content))
    with django_assert_max_num_queries(4):  # the mint, the Bitcoin tip, the anchoring block check
        again = client.get(url(mint))
    assert again.content == first.content
    assert len(builds) == 1


def test_a_new_bitcoin_block_invalidates_the_cached_bundle(client, mint, builds):
    from indexer.bitcoin.models import BitcoinBlock

    client.get(url(mint))
    tip = BitcoinBlock.objects.active().order_by("-height").first()
    BitcoinBlock.objects.create(
        hash_internal=b"\x77" * 32, height=tip.height + 1, prev_hash_internal=tip.hash_internal,
        merkle_root_internal=b"\x00" * 32, version=4, time=tip.time + 600, bits=tip.bits, nonce=0,
        header_raw=b"\x00" * 80, chainwork=Decimal(tip.chainwork) + 1,
    )
    client.get(url(mint))
    assert len(builds) == 2


def test_a_hemi_reorg_of_the_anchoring_block_is_never_served_from_the_cache(client, mint, builds):
    from indexer.hemi.models import Block

    assert client.get(url(mint)).status_code == 200
    Block.objects.filter(number=25).update(canonical=False)
    response = client.get(url(mint))
    assert len(builds) == 2
    assert response.status_code == 409


def test_not_yet_available_is_remembered_briefly(client, mint, builds):
    from indexer.bitcoin.models import KeystoneFirstPublication

    KeystoneFirstPublication.objects.all().delete()
    for _ in range(3):
        response = client.get(url(mint))
        assert response.status_code == 409 and b"not published on Bitcoin yet" in response.content
    assert len(builds) == 1
    assert evidence_cache.UNAVAILABLE_SECONDS <= 60
