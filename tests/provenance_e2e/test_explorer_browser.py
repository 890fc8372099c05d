"""The explorer in a real browser (Debian's Chromium driven by Playwright) on devnet data
indexed by the real Celery worker: every page type at desktop and phone widths, search, the
mint's whole trail across both chains by clicking only (desktop and phone), and live pages:
a new Hemi block and a new PoP publication appear on open pages at the first poll after they
are indexed, and a page that turns final stops polling. Any console error (CSP violations
included: the pages are served under a strict policy here), page error or failed request fails
the test. Screenshots land in var/screenshots/ for people to look at."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
# What the hardening work will send: nothing inline, nothing from elsewhere.
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'"
WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; Django then refuses
    # ORM calls here (fixtures, teardown) unless told the thread is really synchronous.
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                yield b
            finally:
                b.close()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


class Watched:
    """A browser context whose pages record every console error, page error and failed request."""

    def __init__(self, browser, base: str, viewport: dict):
        self.problems: list[str] = []
        self.allowed_status: set[str] = set()
        self.context = browser.new_context(viewport=viewport, base_url=base)
        self.context.route("**/*", self._with_csp)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._status)

    def _with_csp(self, route):
        response = route.fetch(max_redirects=0)  # let the browser see redirects itself
        headers = dict(response.headers)
        if headers.get("content-type", "").startswith("text/html"):
            headers["content-security-policy"] = CSP
        route.fulfill(response=response, headers=headers)

    def _failed(self, request):
        # A poll still in flight when the page navigates away (or closes) is cancelled by the
        # browser itself: not a failed request. Anything else is.
        if request.failure == "net::ERR_ABORTED" and request.resource_type in ("xhr", "fetch"):
            return
        self.problems.append(f"request failed: {request.url} {request.failure}")

    def _console(self, message):
        if message.type != "error":
            return
        path = re.sub(r"^https?://[^/]+", "", message.location.get("url", ""))
        if message.text.startswith("Failed to load resource") and path in self.allowed_status:
            return  # the deliberate 400/404 navigations below
        self.problems.append(f"console: {message.text} at {path}")

    def _status(self, response):
        path = re.sub(r"^https?://[^/]+", "", response.url)
        if response.status >= 400 and path not in self.allowed_status:
            self.problems.append(f"HTTP {response.status}: {path}")

    def visit(self, path: str, *, status: int = 200):
        if status != 200:
            self.allowed_status.add(path)
        response = self.page.goto(path)
        assert response is not None and response.status == status, (path, response and response.status)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def no_overflow(self, name: str):
        overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name}: page is {overflow}px wider than the viewport"


def pages(story) -> dict[str, str]:
    return {
        "home": "/",
        "blocks": "/blocks",
        "block": f"/block/{story['mint_block']}",
        "tx": f"/tx/{story['mint_tx']}",
        "address": f"/address/{story['recipient']}",
        "tokens": "/tokens",
        "token": f"/token/{story['hemibtc']}",
        "keystones": "/keystones",
        "keystone": f"/keystone/{story['keystone']}",
        "tunnel": "/tunnel",
        "provenance": f"/provenance/mint/{story['mint_tx']}",
        "btc-blocks": "/btc/blocks",
        "btc-block": f"/btc/block/{story['deposit_block']}",
        "btc-tx-deposit": f"/btc/tx/{story['deposit_txid']}",
        "btc-tx-pop": f"/btc/tx/{story['pop_txid']}",
        "status": "/status",
        "charts": "/charts",
        "reserves": "/reserves",
        "reserve-rows": "/reserves/rows/held",
    }


def test_the_explorer_in_a_real_browser(browser, live_server, story, devnet):
    """One test, because a transactional test empties the tables after it and the indexed
    devnet story is what every step reads."""
    for width in WIDTHS:
        every_page_type_renders_cleanly(browser, live_server, story, width)
    search_box_finds_the_mint_block_address_and_token(browser, live_server, story)
    from_the_home_page_to_the_mint_and_its_block_by_clicking_only(browser, live_server, story)
    the_api_docs_render_under_the_strict_policy(browser, live_server, story)
    for width in WIDTHS:
        the_mint_trail_across_both_chains_by_clicking_only(browser, live_server, story, width)
    live_pages_show_a_new_block_and_a_new_publication_then_stop_when_final(browser, live_server, devnet)


def every_page_type_renders_cleanly(browser, live_server, story, width):
    SHOTS.mkdir(parents=True, exist_ok=True)
    w = Watched(browser, live_server.url, WIDTHS[width])
    try:
        for name, path in pages(story).items():
            page = w.visit(path)
            assert page.locator("h1").count() >= 1, name
            assert page.locator("#search-q").is_visible(), name
            w.no_overflow(f"{width} {name}")
            page.screenshot(path=str(SHOTS / f"{width}-{name}.png"), full_page=True)
        page = w.visit("/no/such/page", status=404)
        assert "Not found" in page.content()
        page.screenshot(path=str(SHOTS / f"{width}-404.png"))
        page = w.visit("/search?q=0x1234", status=400)
        assert "40 hex digits" in page.content()
        assert not w.problems, w.problems
    finally:
        w.context.close()


def search_box_finds_the_mint_block_address_and_token(browser, live_server, story):
    w = Watched(browser, live_server.url, WIDTHS["desktop"])
    try:
        for q, lands, shows in [
            (story["mint_tx"], "/tx/", story["mint_tx"]),
            (str(story["mint_block"]), f"/block/{story['mint_block']}", f"Hemi block {story['mint_block']}"),
            (story["recipient"], "/address/", story["recipient"]),
            (story["hemibtc"], "/token/", story["hemibtc"]),
            (story["deposit_txid"], f"/btc/tx/{story['deposit_txid']}", story["deposit_txid"]),
            (story["deposit_block"], f"/btc/block/{story['deposit_block']}", story["deposit_block"]),
            (story["keystone_id"], f"/keystone/{story['anchoring_keystone']}", story["keystone_id"]),
            (story["pop_txid"], f"/btc/tx/{story['pop_txid']}", story["pop_txid"]),
            (f"btc:{story['deposit_height']}", f"/btc/block/{story['deposit_block']}", story["deposit_block"]),
        ]:
            # The box is on every page: each search starts where the last one landed.
            page = w.page if w.page.url.startswith("http") else w.visit("/")
            page.fill("#search-q", q)
            with page.expect_navigation():
                page.press("#search-q", "Enter")
            page.wait_for_url(re.compile(re.escape(lands)))
            page.wait_for_load_state("networkidle")
            assert lands in page.url and shows in page.content(), (q, page.url, page.locator("main").inner_text()[:600])
        assert not w.problems, w.problems
    finally:
        w.context.close()


def from_the_home_page_to_the_mint_and_its_block_by_clicking_only(browser, live_server, story):
    w = Watched(browser, live_server.url, WIDTHS["phone"])
    try:
        page = w.visit("/")
        page.locator("#mints a[href^='/provenance/mint/']").first.click()
        page.wait_for_url(re.compile("/provenance/mint/"))
        page.wait_for_load_state("networkidle")
        assert "/provenance/mint/" in page.url and "verified" in page.content()
        page.locator("nav.crumbs a", has_text="Hemi block").click()
        page.wait_for_url(re.compile(f"/block/{story['mint_block']}$"))
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").inner_text() == f"Hemi block {story['mint_block']}"
        page.locator(f"#block-txs a[href='/tx/{story['mint_tx']}']").click()
        page.wait_for_url(re.compile("/tx/"))
        page.wait_for_load_state("networkidle")
        assert story["mint_tx"] in page.content() and "DepositConfirmed" in page.content()
        assert not w.problems, w.problems
    finally:
        w.context.close()


def the_api_docs_render_under_the_strict_policy(browser, live_server, story):
    """Swagger UI at /api/docs/ (vendored assets, split init script) renders every operation
    and can call one, with no CSP violation or other console error."""
    w = Watched(browser, live_server.url, WIDTHS["desktop"])
    try:
        page = w.visit("/api/docs/")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        assert page.locator(".opblock").count() >= 30
        block = page.locator(".opblock", has_text="/api/v1/blocks/{ident}/finality").first
        block.locator(".opblock-summary").click()
        page.locator(".try-out__btn").first.click()
        page.locator("input[placeholder='ident']").fill(str(story["mint_block"]))
        page.locator(".execute").first.click()
        page.wait_for_selector(".live-responses-table .response-col_status", timeout=30_000)
        assert "super_finality" in page.locator(".live-responses-table").inner_text()
        page.screenshot(path=str(SHOTS / "api-docs.png"))
        assert not w.problems, w.problems
    finally:
        w.context.close()


# The hops of a mint's trail, in order, and what each hop's page must show.
TRAIL = ["deposit", "deposit-block", "relay", "mint", "block", "keystone", "pop", "pop-block", "superfinal"]


def _follow(page, link):
    with page.expect_navigation():
        link.click()
    page.wait_for_load_state("networkidle")


def _current_hop(page) -> str:
    return page.locator("nav.trail li.current").get_attribute("data-hop")


def the_mint_trail_across_both_chains_by_clicking_only(browser, live_server, story, width):
    """From the home page to the mint, then hop by hop along its trail: Bitcoin deposit ->
    its block -> the hVM relay -> the mint -> its Hemi block -> its keystone -> the PoP tx ->
    its Bitcoin block -> the block that makes it superfinal; and back again, one click a hop."""
    w = Watched(browser, live_server.url, WIDTHS[width])
    try:
        page = w.visit("/")
        _follow(page, page.locator("#mints a[href^='/provenance/mint/']").first)
        assert "/provenance/mint/" in page.url and page.locator("nav.trail").count() == 1
        page.screenshot(path=str(SHOTS / f"{width}-trail-start.png"))
        seen = {}
        for key in TRAIL:
            _follow(page, page.locator("nav.trail a[rel=next]"))
            assert _current_hop(page) == key, (key, page.url)
            seen[key] = page.url
            main = page.locator("main").inner_text()
            if key == "deposit":
                assert story["deposit_txid"] in main and "Tunnel deposit" in main
                # the Bitcoin side links straight on to its block and to the mint it funded
                assert page.locator(f"main a[href='/btc/block/{story['deposit_block']}']").count() >= 1
                assert page.locator(f"main a[href='/tx/{story['mint_tx']}']").count() >= 1
            elif key == "deposit-block":
                assert f"Bitcoin block {story['deposit_height']}" in main and "Relayed to Hemi (hVM)" in main
                assert page.locator(f"#deposits a[href='/btc/tx/{story['deposit_txid']}']").count() == 1
            elif key == "relay":
                assert "Bitcoin headers relayed to the hVM" in main
                # back to the deposit's block, and on to the mint the deposit funded
                assert page.locator(f"#relayed a[href='/btc/block/{story['deposit_block']}']").count() == 1
                assert page.locator(f"#relayed a[href='/tx/{story['mint_tx']}']").count() == 1
            elif key == "mint":
                assert story["mint_tx"] in main and "DepositConfirmed" in main
            elif key == "block":
                assert page.locator("h1").inner_text() == f"Hemi block {story['mint_block']}"
            elif key == "keystone":
                assert page.locator("h1").inner_text() == f"Keystone {story['keystone']}"
            elif key == "pop":
                assert "Proof-of-Proof" in main and "our keystone" in main
            elif key == "pop-block":
                assert "PoP outputs" in main
            elif key == "superfinal":
                assert "superfinal" in page.locator("#btc-block-live").inner_text()
            w.no_overflow(f"{width} trail {key}")
            if key in ("deposit", "pop", "superfinal"):
                page.screenshot(path=str(SHOTS / f"{width}-trail-{key}.png"), full_page=True)
        assert page.locator("nav.trail a[rel=next]").count() == 0  # superfinality ends the trail
        # and back to the deposit (at phone width two hops back: the same links, narrower)
        for key in reversed(TRAIL[:-1] if width == "desktop" else TRAIL[-3:-1]):
            _follow(page, page.locator("nav.trail a[rel=prev]"))
            assert _current_hop(page) == key and page.url == seen[key], (key, page.url)
        if width == "desktop":
            assert page.locator("nav.trail a[rel=prev]").count() == 0  # the deposit starts it
        assert not w.problems, w.problems
    finally:
        w.context.close()


# --- Live pages --------------------------------------------------------------------------------


def _index(devnet):
    from tests.provenance_e2e.test_provenance_devnet import index_both_chains

    index_both_chains(devnet)


def _tick(devnet, n: int = 1):
    for _ in range(n):
        devnet.driver.tick()


def _is_poll(url: str, path: str) -> bool:
    return url.split("?")[0].endswith(path) and "since=" in url


def _first_poll_after(page, path: str) -> None:
    """Wait for the first poll of ``path`` SENT from now on and for its answer to be swapped
    in. A change indexed before this call must show after it, whether this poll or one still
    in flight brought it: that is "within one poll interval"."""
    with page.expect_request(lambda r: _is_poll(r.url, path), timeout=30_000) as poll:
        pass
    assert poll.value.response() is not None
    page.wait_for_timeout(300)  # htmx swaps and settles just after the response


def _watch(w, page):
    page.on("console", w._console)
    page.on("pageerror", lambda e: w.problems.append(f"page error: {e}"))
    page.on("requestfailed", w._failed)
    page.on("response", w._status)


def live_pages_show_a_new_block_and_a_new_publication_then_stop_when_final(browser, live_server, devnet):
    from indexer.keystone import KEYSTONE_PERIOD

    w = Watched(browser, live_server.url, WIDTHS["desktop"])
    hemi_tip = devnet.net.w3.eth.block_number  # indexed: the story caught up with both nodes
    try:
        with devnet.driver.paused("pop-miner"):
            # A new Hemi block: the home page's latest blocks show it, the block list a banner.
            home = w.visit("/")
            blocks = w.context.new_page()
            _watch(w, blocks)
            blocks.goto("/blocks")
            blocks.wait_for_load_state("networkidle")
            assert home.locator(f"#summary a[href='/block/{hemi_tip + 1}']").count() == 0
            assert blocks.locator("#new-rows a").count() == 0
            _tick(devnet)
            _index(devnet)
            assert devnet.net.w3.eth.block_number == hemi_tip + 1
            _first_poll_after(home, "/")
            assert home.locator(f"#summary a[href='/block/{hemi_tip + 1}']").count() >= 1
            _first_poll_after(blocks, "/blocks")
            assert "1 new block since this page loaded" in blocks.locator("#new-rows").inner_text()
            # ... and the rows the reader is looking at stay where they were
            assert blocks.locator("#blocks tbody tr").first.locator(f"a[href='/block/{hemi_tip}']").count() == 1
            blocks.screenshot(path=str(SHOTS / "desktop-live-new-blocks-banner.png"))
            blocks.close()

            # A keystone produced while no PoP miner publishes: its page waits, live.
            keystone = (hemi_tip + 1) // KEYSTONE_PERIOD * KEYSTONE_PERIOD + KEYSTONE_PERIOD
            while devnet.net.w3.eth.block_number < keystone:
                _tick(devnet)
            _index(devnet)
            page = w.visit(f"/keystone/{keystone}")
            assert "Not published on Bitcoin yet" in page.locator("#keystone-live").inner_text()
            assert page.locator("#keystone-live").get_attribute("hx-trigger") is not None
        answers = []
        page.on("response", lambda r: answers.append(r.status) if _is_poll(r.url, f"/keystone/{keystone}") else None)
        # The PoP miner publishes (broadcast in one tick, mined in the next).
        _tick(devnet, 2)
        _index(devnet)
        _first_poll_after(page, f"/keystone/{keystone}")
        region = page.locator("#keystone-live")
        assert "Not published on Bitcoin yet" not in region.inner_text()
        assert region.locator("a[href^='/btc/tx/']").count() >= 1
        page.screenshot(path=str(SHOTS / "desktop-live-new-publication.png"), full_page=True)

        # Ten Bitcoin blocks on top: superfinal, nothing left to change: 286, and no more polls.
        _tick(devnet, 11)
        _index(devnet)
        page.wait_for_selector("#keystone-live:not([hx-trigger])", timeout=30_000)
        assert 286 in answers and answers[-1] == 286, answers
        assert page.locator("[data-live=final]").count() == 1
        polls = len(answers)
        page.wait_for_timeout(2 * 1000 * _poll_seconds() + 500)  # two intervals, no poll
        assert len(answers) == polls, answers
        assert not w.problems, w.problems
    finally:
        w.context.close()


def _poll_seconds() -> int:
    from explorer.views.live import poll_seconds

    return poll_seconds()
