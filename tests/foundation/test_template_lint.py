"""Templates comply with a Content-Security-Policy without 'unsafe-inline': no inline script,
no inline style, no event-handler attributes (htmx's ``hx-on`` included), no ``javascript:``
URLs. Script and style live in files under static/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

RULES = [
    # A <script> element is only allowed as <script src="..."></script>.
    ("inline <script>", re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)),
    ("<script src> with a body", re.compile(r"<script\b[^>]*\bsrc\s*=[^>]*>\s*[^<\s]", re.IGNORECASE)),
    ("<style> element", re.compile(r"<style\b", re.IGNORECASE)),
    ("style= attribute", re.compile(r"\sstyle\s*=", re.IGNORECASE)),
    ("on*= event handler", re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)),
    ("hx-on handler", re.compile(r"\s(data-)?hx-on\b", re.IGNORECASE)),
    ("javascript: URL", re.compile(r"javascript\s*:", re.IGNORECASE)),
]


def violations(text: str) -> list[str]:
    # Template comments may mention anything.
    text = re.sub(r"{#.*?#}", "", text, flags=re.DOTALL)
    text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.DOTALL)
    return [name for name, pattern in RULES if pattern.search(text)]


def template_files() -> list[Path]:
    from django.conf import settings

    roots = [Path(d) for engine in settings.TEMPLATES for d in engine.get("DIRS", [])]
    roots += [p for p in REPO.glob("*/templates") if p.is_dir()]
    roots += [p for p in REPO.glob("*/*/templates") if p.is_dir() and "node_modules" not in p.parts]
    return sorted({f for root in roots for f in root.rglob("*.html")})


def test_templates_exist_to_check():
    names = {f.name for f in template_files()}
    assert {"base.html", "home.html", "tunnel.html", "provenance.html", "429.html"} <= names


@pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_template_has_no_inline_script_style_or_handlers(path):
    assert violations(path.read_text()) == []


@pytest.mark.parametrize(
    ("snippet", "rule"),
    [
        ("<script>alert(1)</script>", "inline <script>"),
        ('<script type="module">x()</script>', "inline <script>"),
        ('<script src="/s.js">x()</script>', "<script src> with a body"),
        ("<style>p{}</style>", "<style> element"),
        ('<p style="color:red">', "style= attribute"),
        ('<a href="#" onclick="go()">', "on*= event handler"),
        ('<body onload="x()">', "on*= event handler"),
        ('<button hx-on:click="x()">', "hx-on handler"),
        ('<button data-hx-on::after-request="x()">', "hx-on handler"),
        ('<a href="javascript:void(0)">', "javascript: URL"),
    ],
)
def test_the_lint_catches_each_kind_of_inline_code(snippet, rule):
    assert rule in violations(f"<div>{snippet}</div>")


def test_the_lint_allows_what_the_policy_allows():
    ok = (
        '{% load static %}<script src="{% static \'js/app.js\' %}" defer></script>'
        '<link rel="stylesheet" href="/s.css"><button hx-get="/x" hx-trigger="every 5s">go</button>'
        '{# <script>commented out</script> #}<p data-online="yes">'
    )
    assert violations(ok) == []
