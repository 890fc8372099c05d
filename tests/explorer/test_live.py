"""Live pages: a poll with an unchanged data stamp costs one query and swaps nothing (204); a
changed stamp re-renders the region; a region that turned final is answered with 286 and no
polling attributes; a final page never polls; lists show a "new rows" banner instead of moving
rows; the poll interval follows the chain's block time and never undercuts the indexer."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from explorer.queries.live import data_stamp

HX = {"HX-Request": "true"}


def poll_url(html: str, region: str) -> str:
    """The hx-get of the region ``region`` (an element id) in a rendered page."""
    match = re.search(rf'id="{region}"[^>]*? hx-get="([^"]+)" hx-trigger="every (\d+)s"', html)
    assert match, f"{region} does not poll"
    return match.group(1).replace("&amp;", "&")


def test_the_stamp_moves_with_a_cursor_and_with_rows_written_behind_it(db, chains, tunnel):
    from indexer.models import ChainCursor

    blocks = chains.btc_chain(105, start=100)
    first = data_stamp()
    assert data_stamp() == first  # nothing written, nothing changed
    ChainCursor.objects.create(chain="bitcoin", height=105, block_hash=blocks[105].hash_internal)
    second = data_stamp()
    assert second != first
    tunnel.deposit(blocks[101])  # a vault rescan adds a deposit below the cursor
    third = data_stamp()
    assert third != second
    from indexer.core import work

    work.add([work.Work("bitcoin.vault_rescan", "0xaa")])  # verdicts now wait for this item
    fourth = data_stamp()
    assert fourth != third
    item = work.claim(["bitcoin.vault_rescan"])
    work.complete(item)  # ... and no longer: a page rendered while it was open re-renders
    fifth = data_stamp()
    assert fifth != fourth
    from indexer.core import alerts

    alerts.record("hemi", "wrong-chain", "the node serves another chain")  # the cursor stops here
    assert data_stamp() != fifth


def test_an_unchanged_poll_is_a_204_after_one_query_and_a_change_re_renders(client, story):
    from indexer.models import ChainCursor

    story(publish=False)
    html = client.get("/block/12").content.decode()
    url = poll_url(html, "block-live")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=HX)
    assert response.status_code == 204 and response.content == b"" and len(queries) == 1
    assert "no-cache" in response["Cache-Control"]
    ChainCursor.objects.create(chain="hemi", height=30, block_hash=b"\x01" * 32)
    response = client.get(url, headers=HX)
    assert response.status_code == 200
    fresh = response.content.decode()
    assert fresh.lstrip().startswith('<section id="block-live"') and "<html" not in fresh
    assert poll_url(fresh, "block-live") != url  # the new render carries the new stamp


def test_a_region_that_turns_final_answers_286_without_polling_attributes(client, story, chains):
    from indexer.models import ChainCursor

    hemi, btc, _ = story(publish=False)
    html = client.get("/keystone/25").content.decode()
    url = poll_url(html, "keystone-live")
    assert "waiting for a Bitcoin PoP publication" in html
    chains.publish(btc[105], chains.keystone_of(hemi[25]).abbreviate())  # 10 blocks deep: tip 115
    ChainCursor.objects.create(chain="bitcoin", height=115, block_hash=btc[115].hash_internal)
    response = client.get(url, headers=HX)
    assert response.status_code == 286
    body = response.content.decode()
    assert "hx-trigger" not in body and 'data-live="final"' in body and "superfinal" in body


def test_a_page_final_when_served_never_polls(client, story):
    story()  # published at 105, tip 115: superfinal
    for url in ("/keystone/25", "/block/12"):
        html = client.get(url).content.decode()
        assert 'data-live="final"' in html and "hx-trigger" not in html.split("<main")[1], url


def test_lists_show_a_banner_of_new_rows_instead_of_moving_rows(client, chains):
    from tests.explorer.test_hemi_pages import _grow

    chains.hemi_chain(30)
    html = client.get("/blocks").content.decode()
    url = poll_url(html, "new-rows")
    assert "newer_than=30" in url and 'href="/block/30"' in html
    assert client.get(url, headers=HX).status_code == 204  # nothing new yet
    _grow(chains, 31, 33)
    from indexer.models import ChainCursor

    ChainCursor.objects.create(chain="hemi", height=33, block_hash=b"\x02" * 32)
    banner = client.get(url, headers=HX).content.decode()
    assert "3 new blocks since this page loaded" in banner and 'href="/blocks"' in banner
    assert "<tr" not in banner  # the rows are not re-sent: they stay where the reader is
    older = re.search(r'rel="next" href="([^"]+)"', client.get("/blocks?limit=10").content.decode()).group(1)
    assert 'id="new-rows"' not in client.get(older.replace("&amp;", "&")).content.decode()  # deeper pages


@pytest.mark.parametrize(
    ("setting", "follow", "hemi_seconds", "expected"),
    [
        (0.0, 2.0, 12.0, 12),  # Hemi's block time
        (0.0, 2.0, 2.0, 2),  # the devnet's
        (0.0, 5.0, 2.0, 5),  # never faster than the indexer writes
        (30.0, 2.0, 12.0, 30),  # EXPLORER_POLL_SECONDS wins
        (0.5, 2.0, 12.0, 2),  # ... but not below the follow interval either
    ],
)
def test_the_poll_interval_follows_the_block_time_and_never_undercuts_the_indexer(
    settings, monkeypatch, setting, follow, hemi_seconds, expected
):
    from dataclasses import replace

    from explorer.views import live
    from hemiscope import networks

    settings.EXPLORER_POLL_SECONDS = setting
    settings.FOLLOW_INTERVAL_SECONDS = follow
    preset = replace(networks.current(), hemi_block_seconds=hemi_seconds)
    monkeypatch.setattr(networks, "current", lambda: preset)
    assert live.poll_seconds() == expected


def test_the_devnet_file_sets_the_block_times(tmp_path, monkeypatch):
    import json

    from hemiscope import networks

    path = tmp_path / "network.json"
    path.write_text(json.dumps({"block_seconds": 0.5, "btc_block_seconds": 7}))
    monkeypatch.setenv("DEVNET_STATE_FILE", str(path))
    preset = networks.resolve("devnet", tmp_path)
    assert (preset.hemi_block_seconds, preset.bitcoin_block_seconds) == (0.5, 7.0)
    assert networks.resolve("mainnet", tmp_path).hemi_block_seconds == 12.0
