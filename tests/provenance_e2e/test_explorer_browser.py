"""The explorer in a real browser (Debian's Chromium driven by Playwright) on devnet data
indexed by the real Celery worker: every page type at desktop and phone widths, search, and
the trail from the home page to the mint and its block by clicking only. Any console error
(CSP violations included: the pages are served under a strict policy here), page error or
failed request fails the test. Screenshots land in var/screenshots/ for people to look at."""

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
        self.page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        self.page.on("response", self._status)

    def _with_csp(self, route):
        response = route.fetch(max_redirects=0)  # let the browser see redirects itself
        headers = dict(response.headers)
        if headers.get("content-type", "").startswith("text/html"):
            headers["content-security-policy"] = CSP
        route.fulfill(response=response, headers=headers)

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
    }


def test_the_explorer_in_a_real_browser(browser, live_server, story):
    """One test, because a transactional test empties the tables after it and the indexed
    devnet story is what every step reads."""
    for width in WIDTHS:
        every_page_type_renders_cleanly(browser, live_server, story, width)
    search_box_finds_the_mint_block_address_and_token(browser, live_server, story)
    from_the_home_page_to_the_mint_and_its_block_by_clicking_only(browser, live_server, story)
    the_api_docs_render_under_the_strict_policy(browser, live_server, story)


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
        ]:
            page = w.visit("/")
            page.fill("#search-q", q)
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
