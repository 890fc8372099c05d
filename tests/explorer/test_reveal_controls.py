"""Hostile text from the chain (a withdrawal's Bitcoin address, a token's name) on the pages:
invisible and reordering characters are shown as escapes, checked on the rendered HTML."""

from __future__ import annotations

import unicodedata

import pytest
from django.template import Context, Template

from explorer.templatetags.explorer_tags import reveal_controls

HIDDEN = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)] + [
    "\x00",
    "\x1b",
    "\n",
    "\u200b",  # zero-width space (Cf)
    "\u2028",  # line separator (Zl)
    "\ufeff",  # byte-order mark (Cf)
    "\U000e0041",  # tag latin capital A (Cf)
]


@pytest.mark.parametrize("char", HIDDEN, ids=[f"U+{ord(c):04X}" for c in HIDDEN])
def test_every_hidden_character_is_shown_as_its_escape(char):
    html = str(reveal_controls(f"bc1q{char}<b>&"))
    assert char not in html
    code = f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}"
    assert f'<span class="hidden-char" title="U+{ord(char):04X} ' in html
    assert f">{code}</span>" in html
    assert html.startswith("bc1q") and html.endswith("&lt;b&gt;&amp;")


def test_ordinary_text_is_only_html_escaped():
    assert str(reveal_controls("Hemi <BTC> \u00e9\u05d0 space")) == "Hemi &lt;BTC&gt; \u00e9\u05d0 space"
    assert str(reveal_controls(None)) == ""
    rendered = Template("{% load explorer_tags %}{{ v|reveal_controls }}").render(Context({"v": '"\u202e'}))
    assert rendered.startswith("&quot;<span") and "\u202e" not in rendered


def test_what_is_left_alone_renders_as_itself():
    """Across the Basic Multilingual Plane: a character is escaped exactly when it is not printable
    (spaces other than U+0020 excepted: they show as a gap), everything else is only HTML-escaped."""
    for code in range(0x10000):
        char = chr(code)
        escaped = "hidden-char" in str(reveal_controls(char))
        visible = char.isprintable() or unicodedata.category(char) == "Zs"
        assert escaped != visible, f"U+{code:04X} {unicodedata.category(char)}"


def test_the_tunnel_page_escapes_a_hostile_withdrawal_address(withdrawals, client):
    hostile = "bcrt1q\u202eqqqq\u2066evil\u2069\u200f"
    withdrawals.initiate(address=hostile)
    for response in (client.get("/tunnel"), client.get("/tunnel", headers={"HX-Request": "true"})):
        html = response.content.decode()
        assert response.status_code == 200
        for char in "\u202e\u2066\u2069\u200f":
            assert char not in html
        assert (
            'bcrt1q<span class="hidden-char" title="U+202E RIGHT-TO-LEFT OVERRIDE">\\u202e</span>qqqq'
            '<span class="hidden-char" title="U+2066 LEFT-TO-RIGHT ISOLATE">\\u2066</span>evil'
        ) in html
