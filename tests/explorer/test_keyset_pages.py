"""Keyset pages: the cursor codec refuses anything it did not issue (a 400 naming the
parameter, never a 500), and every list walks page after page without gaps or duplicates
while new blocks arrive at its head."""

from __future__ import annotations

import re

import pytest

from explorer.queries import cursor
from tests.explorer.test_hemi_pages import _grow


def test_a_cursor_round_trips_and_is_bound_to_its_list():
    token = cursor.encode("blocks", (1234,))
    assert cursor.decode("blocks", token, 1) == (1234,)
    with pytest.raises(cursor.BadCursor, match=r"^cursor: issued for another list"):
        cursor.decode("keystones", token, 1)


@pytest.mark.parametrize(
    "bad",
    [
        "abc",
        "a.b",
        "!!!.???",
        "x" * 600,
        cursor.encode("blocks", (1,))[:-2] + "AA",
        cursor.encode("blocks", (1, 2)),
        "eyJ.e30",
        cursor.encode("blocks", (1,)).replace(".", ""),
    ],
)
def test_anything_else_is_a_bad_cursor(bad):
    with pytest.raises(cursor.BadCursor, match=r"^cursor: "):
        cursor.decode("blocks", bad, 1)


def test_pages_answer_a_bad_cursor_or_limit_with_a_400_that_names_it(client, db):
    for url, name in [
        ("/blocks?cursor=nope", "cursor"),
        ("/keystones?cursor=" + cursor.encode("blocks", (5,)), "cursor"),
        ("/tokens?limit=0", "limit"),
        ("/blocks?limit=101", "limit"),
        ("/tunnel?withdrawals_cursor=zz.zz", "withdrawals_cursor"),
        ("/api/v1/tunnel/withdrawals?cursor=zz", "cursor"),
    ]:
        response = client.get(url)
        assert response.status_code == 400, url
        assert f"{name}: " in response.content.decode(), url


def walk(client, url: str, between=None) -> list[str]:
    """Follow 'Older' links to the end; return the row keys each page showed, in order."""
    seen, pages = [], 0
    while url:
        html = client.get(url).content.decode()
        seen += re.findall(r'<tr>\s*<td><a href="/block/(\d+)">', html)
        more = (
            re.search(r'rel="next" href="([^"]+)"', html.split('aria-label="More rows"')[-1])
            if ('aria-label="More rows"' in html)
            else None
        )
        url = more.group(1).replace("&amp;", "&") if more else None
        pages += 1
        if between:
            between(pages)
    assert pages >= 3
    return seen


def test_the_blocks_list_walks_every_block_once_while_blocks_arrive(client, chains):
    chains.hemi_chain(40)
    arrived = iter(range(41, 200))

    def more_blocks(_page):
        n = next(arrived)
        _grow(chains, n, n)

    html = client.get("/blocks?limit=10").content.decode()
    first = re.findall(r'<tr>\s*<td><a href="/block/(\d+)">', html)
    nxt = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    rest = walk(client, nxt, between=more_blocks)
    numbers = [int(n) for n in first + rest]
    assert numbers == list(range(40, -1, -1))  # no gap, no duplicate, newest first


def test_mint_and_withdrawal_lists_walk_every_row(client, chains, tunnel, withdrawals):
    from explorer.queries import tunnel as tunnel_queries
    from explorer.queries.cursor import PageRequest

    hemi = withdrawals.hemi
    btc = withdrawals.btc
    for i in range(60):
        tunnel.mint(hemi[1 + i % 20], tunnel.deposit(btc[101], label=f"d{i}").transaction.txid_internal)
        withdrawals.initiate(index=i)
    from indexer.hemi.models import DepositConfirmation, WithdrawalInitiation

    for query, list_name, model in [
        (tunnel_queries.mints, tunnel_queries.MINTS, DepositConfirmation),
        (tunnel_queries.withdrawals, tunnel_queries.WITHDRAWALS, WithdrawalInitiation),
    ]:
        present = sorted(model.objects.values_list("id", flat=True), reverse=True)
        ids, req = [], PageRequest(list_name, None, 25)
        pages = 0
        while True:
            page = query(req)
            ids += [row.id for row in page.items]
            pages += 1
            if i_more := page.next_cursor:
                # a new row arriving between pages lands before page one, never inside the walk
                tunnel.mint(
                    hemi[20], tunnel.deposit(btc[102], label=f"late{pages}{list_name}").transaction.txid_internal
                )
                withdrawals.initiate(index=1000 + pages)
                req = PageRequest(list_name, cursor.decode(list_name, i_more, 1), 25)
            else:
                break
        assert pages >= 3 and ids == present  # every row present at the start, once, newest first


def test_tunnel_page_rows_are_keyset_paged_with_a_query_count_bounded_by_the_page_size(
    client, chains, tunnel, withdrawals, django_assert_max_num_queries
):
    hemi, btc = withdrawals.hemi, withdrawals.btc
    for i in range(30):
        tunnel.mint(hemi[1 + i % 20], tunnel.deposit(btc[101], label=f"d{i}").transaction.txid_internal)
    with django_assert_max_num_queries(25 * 20 + 20):
        html = client.get("/tunnel").content.decode()
    older = re.search(r'rel="next" href="(/tunnel\?cursor=[^"#]+)', html).group(1)
    second = client.get(older.replace("&amp;", "&"))
    assert second.status_code == 200 and second.content.decode().count("/provenance/mint/0x") == 5


def test_every_api_list_walks_three_pages_without_gap_or_duplicate_while_blocks_arrive(
    client, chains, tunnel, monkeypatch
):
    """Follow each list's ``next`` link at limit=2 for four pages; a new Hemi and Bitcoin block
    (with one of every row kind) arrives between pages. The rows walked are exactly the rows
    present at the start, in order, each once."""
    from dataclasses import replace

    from hemiscope import networks
    from tests.explorer import api_dataset

    preset = replace(networks.current(), hemibtc_address="0x" + tunnel.HEMIBTC.hex())
    monkeypatch.setattr(networks, "current", lambda: preset)
    d = api_dataset.build(chains, tunnel)
    for url, key, _ascending in api_dataset.lists(d):
        before = _all_keys(client, url, key)
        seen, pages, link = [], 0, url + ("&" if "?" in url else "?") + "limit=2"
        while link and pages < 4:
            body = client.get(link).json()
            seen += [key(item) for item in body["items"]]
            link, pages = body["next"], pages + 1
            api_dataset.grow(d)
        assert pages >= 3, (url, pages)
        # Newest-first lists: arrivals land before page one. Oldest-first: after the rows
        # present at the start, so the first rows walked are still exactly those.
        assert seen == before[: len(seen)] and len(seen) == len(set(seen)), (url, seen, before)


def _all_keys(client, url: str, key) -> list:
    keys, link = [], url
    while link:
        body = client.get(link).json()
        keys += [key(item) for item in body["items"]]
        link = body["next"]
    return keys
