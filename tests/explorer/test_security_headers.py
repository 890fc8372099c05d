"""Every HTML response carries a Content-Security-Policy without 'unsafe-inline' (and a
Permissions-Policy), and the rendered pages contain no inline script, style or handler.

The routes are read from the URL resolver, so a page added later is requested too: each path
parameter gets a value from the story (a mint's hash, a block number, an address)."""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, get_resolver

from tests.foundation.test_template_lint import violations


def routes(patterns=None, prefix: str = "") -> list[str]:
    out = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            out += routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            out.append(prefix + str(entry.pattern))
    return out


def sample_url(route: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        if converter == "int":
            return values["number"]
        return values.get(name, values["tx_hash"])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route).lstrip("^").rstrip("$")


def assert_csp(response, url: str) -> None:
    policy = response.get("Content-Security-Policy")
    assert policy, f"{url}: no Content-Security-Policy"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, url
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'", url
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'", url
    assert "camera=()" in response["Permissions-Policy"], url


def test_every_html_response_has_a_strict_csp(client, tunnel, story):
    *_, mint = story()
    values = {
        "tx_hash": "0x" + bytes(mint.transaction.hash).hex(),
        "address": "0x" + tunnel.RECIPIENT.hex(),
        "number": "12",
    }
    html_ok = set()
    for route in routes():
        url = sample_url(route, values)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            if not response["Content-Type"].startswith("text/html"):
                continue
            assert_csp(response, url)
            assert violations(response.content.decode()) == [], url
            if response.status_code == 200:
                html_ok.add(url.split("/")[1])
    assert {"", "tunnel", "provenance"} <= html_ok


def test_error_pages_carry_the_policy_too(client, db):
    for url in ("/no-such-page", "/provenance/mint/0x" + "ab" * 32):
        response = client.get(url)
        assert response.status_code == 404
        assert_csp(response, url)


def test_htmx_is_configured_not_to_inject_styles_or_evaluate_code(client, db):
    html = client.get("/").content.decode()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert config is not None
    import json

    assert json.loads(config.group(1)) == {
        "includeIndicatorStyles": False,
        "allowEval": False,
        "allowScriptTags": False,
    }
