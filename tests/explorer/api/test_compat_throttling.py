"""The anonymous throttle covers the compatible dialects too, each answering in its own error
shape, and Esplora's raw-block endpoint has its own lower rate (it reads the Bitcoin source)."""

from __future__ import annotations

import pytest

from tests.foundation.test_throttling import fresh_address


@pytest.fixture
def three_per_minute(settings):
    settings.THROTTLE_ANON_RATE = "3/min"
    settings.NUM_PROXIES = 0


@pytest.mark.parametrize(
    ("url", "shape"),
    [
        ("/api?module=block&action=eth_block_number", "etherscan"),
        ("/api/v2/stats", "blockscout"),
        ("/esplora/api/blocks/tip/height", "esplora"),
        ("/esplora/api/no/such/path", "esplora"),  # a plain Django view: the middleware counts it
    ],
)
def test_the_fourth_rapid_request_is_a_429_in_the_dialects_shape(client, chains, three_per_minute, url, shape):
    chains.hemi_chain(3)
    chains.btc_chain(3)
    address = fresh_address()
    for _ in range(3):
        assert client.get(url, REMOTE_ADDR=address).status_code != 429
    response = client.get(url, REMOTE_ADDR=address)
    assert response.status_code == 429 and 1 <= int(response["Retry-After"]) <= 60
    if shape == "etherscan":
        assert response.json() == {"status": "0", "message": "NOTOK", "result": "Max rate limit reached"}
    elif shape == "blockscout":
        assert response.json() == {"message": "Too Many Requests"}
    elif url.endswith("tip/height"):
        assert response["Content-Type"].startswith("text/plain") and response.content == b"Too many requests"
    else:
        assert response["Content-Type"] == "application/json"  # never the HTML 429 page


def test_raw_blocks_have_their_own_lower_rate(client, chains, settings):
    settings.ESPLORA_RAW_BLOCK_RATE = "1/min"
    btc = chains.btc_chain(3)
    address = fresh_address()
    url = f"/esplora/api/block/{btc[2].hash_display}/raw"
    first = client.get(url, REMOTE_ADDR=address)
    # No Bitcoin source answers in this test: the first is the endpoint's own 502, never a 500.
    assert first.status_code == 502 and first["Content-Type"].startswith("text/plain")
    assert client.get(url, REMOTE_ADDR=address).status_code == 429
    assert client.get("/esplora/api/blocks/tip/height", REMOTE_ADDR=address).status_code == 200
    # Only indexed blocks are ever asked of the source: anything else is a 404 before it.
    assert client.get(f"/esplora/api/block/{'ab' * 32}/raw", REMOTE_ADDR=fresh_address()).status_code == 404
