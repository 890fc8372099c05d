"""Every API endpoint costs the same number of queries whatever the table sizes: measured on
the data set, then again after many more blocks (and every kind of row) arrived."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.explorer import api_dataset


@pytest.fixture(autouse=True)
def _hemibtc(monkeypatch, tunnel):
    from dataclasses import replace

    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)


def _count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return len(queries)


def test_every_endpoint_costs_the_same_queries_at_two_table_sizes(client, chains, tunnel):
    d = api_dataset.build(chains, tunnel)
    for _ in range(2):  # the newest rows of every list are "arrived" rows at both sizes
        api_dataset.grow(d)
    mint = chains.hemi.DepositConfirmation.objects.order_by("id").first()
    deposit_txid = bytes(mint.deposit_txid_internal)[::-1].hex()
    urls = [url + ("&" if "?" in url else "?") + "limit=2" for url, _, _ in api_dataset.lists(d)]
    urls += [
        "/api/v1/blocks/12",
        "/api/v1/blocks/12/finality",
        "/api/v1/transactions/0x" + bytes(mint.transaction.hash).hex(),
        "/api/v1/addresses/0x" + d.holder.hex(),
        "/api/v1/tokens/0x" + tunnel.HEMIBTC.hex(),
        "/api/v1/keystones/25",
        "/api/v1/bitcoin/blocks/101",
        f"/api/v1/bitcoin/transactions/{deposit_txid}",
        "/api/v1/provenance/mint/0x" + bytes(mint.transaction.hash).hex(),
        "/api/v1/provenance/block/12",
        "/api/v1/search?q=12",
        "/api/v1/status",
    ]
    small = {url: _count(client, url) for url in urls}
    for _ in range(15):  # Hemi blocks 133..147: the newest rows stay in the same state
        api_dataset.grow(d)
    large = {url: _count(client, url) for url in urls}
    assert large == small
    for url, n in small.items():
        # Tunnel and provenance lists read stored verdicts: priced like any list. One mint's or
        # one block's provenance is judged live.
        live = "/provenance/mint/" in url or "/provenance/block/" in url
        bound = 25 if live else 12
        assert n <= bound, (url, n)
