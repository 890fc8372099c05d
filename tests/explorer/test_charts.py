"""/charts: server-rendered SVG readable without JavaScript and allowed by a strict CSP (no
style attributes, no scripts), each chart's numbers as a table and a CSV that match the rows."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from explorer import charts


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Chart numbers are cached per pair of cursor hashes, and tests here build the same hashes."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hemibtc_preset(monkeypatch, tunnel):
    from dataclasses import replace

    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)


def _cursors(btc_block, hemi_block) -> None:
    """Both chains indexed up to these blocks (what the indexers' cursors say)."""
    from indexer.models import ChainCursor

    ChainCursor.objects.update_or_create(
        chain="bitcoin", defaults={"height": btc_block.height, "block_hash": btc_block.hash_internal}
    )
    ChainCursor.objects.update_or_create(
        chain="hemi", defaults={"height": hemi_block.number, "block_hash": hemi_block.hash}
    )


def _live(span: str) -> dict:
    """Every chart's numbers computed now, bypassing the cache."""
    from explorer.queries import charts as data
    from explorer.queries import reserve_history

    return {"latency": data.anchoring_latency(), "pops": data.pop_per_block(), "flows": data.tunnel_flows(span),
            "reserves": reserve_history.history(span)}  # fmt: skip


def _shown(response) -> dict:
    """The numbers a page drew (from the context of the HTML rendered for this request)."""
    ctx = response.context
    return {"latency": ctx["latency"], "pops": ctx["pops"], "flows": ctx["flows"], "reserves": ctx["points"]}


def _main(response) -> str:
    return response.content.decode().split("<main", 1)[1].split("</main>", 1)[0]


def test_chart_numbers_are_cached_until_a_chain_moves(client, story, tunnel, hemibtc_preset):
    hemi, btc, _ = story()
    _cursors(btc[115], hemi[30])
    with CaptureQueriesContext(connection) as computed:
        first = client.get("/charts?span=1y")
    assert first.status_code == 200 and _shown(first) == _live("1y")
    assert sum(b.mints for b in first.context["flows"]) == 1
    # A second mint arrives without the cursors moving (the indexers write both in one
    # transaction, so this only happens in a test): the page is still the cached one, read
    # with the cursors alone.
    second_deposit = tunnel.deposit(btc[102], label="second deposit")
    tunnel.mint(hemi[14], second_deposit.transaction.txid_internal)
    with CaptureQueriesContext(connection) as cached:
        again = client.get("/charts?span=1y")
    assert _main(again) == _main(first)
    assert len(cached) <= 1 < len(computed)
    # The Hemi cursor moves (a new block): recomputed, the new mint shows.
    _cursors(btc[115], hemi[29])
    moved = client.get("/charts?span=1y")
    assert sum(b.mints for b in moved.context["flows"]) == 2
    assert _shown(moved) == _live("1y")
    assert _main(moved) != _main(first)


def test_the_beat_task_fills_the_cache_the_pages_read(client, story, hemibtc_preset):
    from django.core.cache import cache

    from explorer import reserves
    from explorer.tasks import refresh_charts

    hemi, btc, _ = story()
    _cursors(btc[115], hemi[30])
    assert refresh_charts() == ["flows", "latency", "pops", "reserves"]
    reserves.refresh()  # the reserve verdict's own beat task (explorer.tasks.refresh_reserves)
    with CaptureQueriesContext(connection) as charts_queries:
        charts_page = client.get("/charts")
    with CaptureQueriesContext(connection) as reserves_queries:
        reserves_page = client.get("/reserves")
    assert charts_page.status_code == 200 and reserves_page.status_code == 200
    assert len(charts_queries) <= 1 and len(reserves_queries) <= 2
    assert reserves_page.context["result"] == reserves.reconcile()
    # What the task stored is what the pages draw when they compute everything themselves.
    cache.clear()
    assert _main(client.get("/charts")) == _main(charts_page)
    assert _main(client.get("/reserves")) == _main(reserves_page)
    assert "hemiBTC total supply" in _main(charts_page) and "<svg" in _main(reserves_page)


def test_axis_maximum_is_a_round_number_at_or_above_the_data():
    assert [charts.nice_ceiling(v) for v in (0, 0.3, 1, 7, 11, 26, 999)] == [1, 0.5, 1, 10, 20, 50, 1000]


def test_svg_bars_carry_classes_and_titles_and_escape_labels():
    svg = str(charts.bar_chart("t", "Title <x>", "desc", ["a&b", "c"], [charts.Series("n<1>", "s1", [3, 0])],
                               y_unit="u", x_title="x"))  # fmt: skip
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    assert svg.count("<rect") == 1 and "a&amp;b: n&lt;1&gt; 3" in svg and "Title &lt;x&gt;" in svg
    assert "style" not in svg and "<script" not in svg


def test_a_line_breaks_where_a_value_is_missing():
    svg = str(charts.line_chart("l", "T", "d", ["1", "2", "3", "4"], [charts.Series("s", "s1", [1, None, 2, 3])],
                                y_unit="u", x_title="x"))  # fmt: skip
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 3


def test_the_page_draws_each_chart_including_reserves_vs_supply(client, story, monkeypatch, tunnel):
    from dataclasses import replace

    from hemiscope import networks

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)
    from django.utils import timezone

    from indexer.bitcoin.models import BitcoinBlock

    story()
    BitcoinBlock.objects.update(scanned_at=timezone.now())  # bodies scanned: PoP counts are known
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/charts?span=1y")
    assert response.status_code == 200 and len(queries) <= 26
    html = response.content.decode()
    assert html.count('<svg class="chart"') == 4  # the story's mint puts hemiBTC supply on the reserves chart
    assert "Reserves vs supply" in html and "hemiBTC total supply" in html
    assert 'style="' not in html.split("<main")[1] and "<script" not in html.split("<main")[1]
    for name in ("anchoring-latency", "pop-per-block", "tunnel-flows", "reserves-vs-supply"):
        assert f"/charts/{name}.csv" in html


def _rows(response) -> list[dict]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_csv_numbers_are_the_rows_behind_each_chart(client, story):
    hemi, btc, mint = story()
    latency = _rows(client.get("/charts/anchoring-latency.csv"))
    assert [r["keystone"] for r in latency] == ["25"]
    # keystone 25's block at 1_700_000_050; published at height 105 (time 1_700_063_000), superfinal at 115
    assert latency[0]["publication_height"] == "105"
    assert int(latency[0]["seconds_to_publication"]) == btc[105].time - hemi[25].timestamp
    assert int(latency[0]["seconds_to_superfinal"]) == btc[115].time - hemi[25].timestamp
    pops = {int(r["height"]): int(r["pop_outputs"]) for r in _rows(client.get("/charts/pop-per-block.csv"))}
    assert pops == {}  # the synthetic blocks were never scanned: only scanned bodies count
    flows = _rows(client.get("/charts/tunnel-flows.csv?span=1y"))
    assert sum(int(r["mints"]) for r in flows) == 1 and sum(int(r["deposits"]) for r in flows) == 1
    assert sum(int(r["minted_sats"]) for r in flows) == int(mint.net_sats)


def test_withdrawals_count_by_their_hemi_block_time(client, withdrawals):
    withdrawals.initiate(index=1)
    withdrawals.initiate(index=2)
    flows = _rows(client.get("/charts/tunnel-flows.csv?span=1y"))
    assert sum(int(r["withdrawals"]) for r in flows) == 2 and sum(int(r["withdrawal_sats"]) for r in flows) == 2 * 10**7


def test_pop_counts_per_scanned_block(client, chains):
    from django.utils import timezone

    from indexer.bitcoin.models import BitcoinBlock

    blocks = chains.btc_chain(103, start=100)
    hemi = chains.hemi_chain(25)
    abrev = chains.keystone_of(hemi[25]).abbreviate()
    for i in range(3):
        chains.publish(blocks[102], abrev, tx_index=i + 1, first=i == 0)
    BitcoinBlock.objects.update(scanned_at=timezone.now())
    pops = {int(r["height"]): int(r["pop_outputs"]) for r in _rows(client.get("/charts/pop-per-block.csv"))}
    assert pops == {100: 0, 101: 0, 102: 3, 103: 0}


@pytest.mark.parametrize("url", ["/charts?span=2w", "/charts/tunnel-flows.csv?span=x"])
def test_a_bad_span_is_a_400_naming_it(client, db, url):
    response = client.get(url)
    assert response.status_code == 400 and "span: one of" in response.content.decode()


def test_an_unknown_chart_is_a_404(client, db):
    assert client.get("/charts/nope.csv").status_code == 404


def test_empty_tables_say_so_instead_of_drawing_nothing(client, db):
    html = client.get("/charts").content.decode()
    assert "No keystones indexed yet." in html and not re.search(r"<svg", html.split("<main")[1])


def test_gridlines_sit_at_round_numbers_around_negative_values_too():
    svg = str(charts.line_chart("n", "T", "d", ["a", "b"], [charts.Series("s", "s1", [-5, 0.5])],
                                y_unit="u", x_title="x"))  # fmt: skip
    ticks = re.findall(r'<text class="tick" x="58" y="[\d.]+" text-anchor="end">([^<]+)</text>', svg)
    assert ticks == ["-6", "-4", "-2", "0", "2"]
