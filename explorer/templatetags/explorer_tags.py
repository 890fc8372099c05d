from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from decimal import Decimal

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

SATS_PER_BTC = 10**8
WEI_PER_ETH = 10**18

# Characters that draw nothing or move other characters: controls (Cc), format characters (Cf:
# bidi embeddings/overrides/isolates U+202A-202E and U+2066-2069, marks U+200E/200F, zero-width
# joiners, soft hyphen...), line/paragraph separators, surrogates, private-use and unassigned
# code points. Strings from the chain (a withdrawal's Bitcoin address, a token's name) are
# attacker-chosen; one U+202E would make "...dCBA" read as "ABCd..." on the page.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@register.filter
def unix_utc(value: int | None) -> str:
    """Chain timestamps are unix seconds; show them unambiguously in UTC."""
    if value is None:
        return ""
    return datetime.fromtimestamp(int(value), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.simple_tag
def when(value: int | None):
    """Absolute UTC time in the text, relative age filled in by static/js/explorer.js."""
    if value is None:
        return "—"
    iso = datetime.fromtimestamp(int(value), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return format_html('<time datetime="{}" data-relative>{}</time>', iso, unix_utc(value))


@register.filter
def hex0x(value) -> str:
    """Raw EVM bytes (hash, address) as 0x-hex; never reversed."""
    if value is None:
        return ""
    return "0x" + bytes(value).hex()


@register.filter
def short(value: str, keep: int = 10) -> str:
    """A long hex string cut in the middle for tables (the full value stays in the title/copy)."""
    text = str(value)
    if len(text) <= 2 * keep + 1:
        return text
    return f"{text[:keep]}…{text[-6:]}"


def _fixed(value: int, unit: int, places: int) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), unit)
    text = f"{whole:,}"
    if frac:
        text += "." + str(frac).rjust(places, "0").rstrip("0")
    return sign + text


@register.filter
def btc(sats) -> str:
    """Satoshis as 'x.y BTC (n sats)': exact integer arithmetic, no floats."""
    if sats is None:
        return "—"
    n = int(Decimal(sats))
    return f"{_fixed(n, SATS_PER_BTC, 8)} BTC ({n:,} sats)"


@register.filter
def eth(wei) -> str:
    """Wei as 'x.y ETH (n wei)'."""
    if wei is None:
        return "—"
    n = int(Decimal(wei))
    return f"{_fixed(n, WEI_PER_ETH, 18)} ETH ({n:,} wei)"


@register.filter
def token_amount(value, decimals) -> str:
    """A token amount scaled by its decimals (raw integer kept in brackets when scaled)."""
    if value is None:
        return "—"
    n = int(Decimal(value))
    if decimals in (None, 0):
        return f"{n:,}"
    return f"{_fixed(n, 10 ** int(decimals), int(decimals))} ({n:,} raw)"


@register.filter
def plural(count, word: str) -> str:
    """'1 block', '2 blocks' (words ending in s/x/h get 'es')."""
    count = int(count)
    if count == 1:
        return f"1 {word}"
    suffix = "es" if word.endswith(("s", "x", "h")) else "s"
    return f"{count:,} {word}{suffix}"


@register.filter
def humanize_key(key) -> str:
    """snake_case evidence keys as words."""
    return str(key).replace("_", " ")


@register.filter
def thousands(value) -> str:
    if value is None:
        return "—"
    return f"{int(value):,}"


@register.filter
def stage_label(stage: str) -> str:
    return {"produced": "produced (no keystone yet)", "keystone produced": "keystone produced, not yet on Bitcoin",
            "published": "published on Bitcoin", "confirming": "confirming on Bitcoin",
            "superfinal": "superfinal"}.get(stage, stage)  # fmt: skip


# How the provenance evidence keys are shown: a label and what the value links to.
_EVIDENCE = {
    "deposit_txid": ("Bitcoin deposit txid", "btc_txid"),
    "mint_tx": ("mint transaction", "hemi_tx"),
    "deposit_block": ("Bitcoin deposit block", "btc_hash"),
    "deposit_height": ("Bitcoin deposit height", "btc_height"),
    "vout": ("deposit output index (vout)", "text"),
    "custody_script": ("vault custody script (hex)", "hex"),
    "mint_block": ("mint in Hemi block", "hemi_block"),
    "relayed_in_block": ("deposit header relayed in Hemi block", "hemi_block"),
    "relay_tx": ("relay (hVM update) transaction", "hemi_tx"),
    "number": ("Hemi block", "hemi_block"),
    "hash": ("Hemi block hash", "hemi_block_hash"),
    "keystone": ("keystone covering the block", "keystone"),
    "anchoring_keystone": ("keystone whose publication anchors it", "keystone"),
    "publication_height": ("first publication at Bitcoin height", "btc_height"),
    "confirmations": ("Bitcoin confirmations of that publication", "text"),
    "btc_finality": ("legacy btc_finality (op-node v1: confirmations - 8; -9 = unpublished)", "text"),
    "uuid": ("withdrawal uuid", "text"),
    "vault_index": ("vault index", "text"),
    "withdrawal_index": ("vault withdrawal index", "text"),
    "btc_address": ("Bitcoin address", "hostile"),
    "payout_txid": ("Bitcoin payout txid", "btc_txid"),
    "payout_height": ("Bitcoin payout height", "btc_height"),
    "finalize_tx": ("finalize transaction", "hemi_tx"),
}


@register.filter
def evidence_rows(evidence: dict) -> list[tuple[str, object, str]]:
    """(label, value, kind) per evidence item; None values are shown as 'not yet'."""
    rows = []
    for key, value in (evidence or {}).items():
        label, kind = _EVIDENCE.get(key, (str(key).replace("_", " "), "text"))
        rows.append((label, value, "none" if value is None else kind))
    return rows


@register.filter
def btc_display(value) -> str:
    """A Bitcoin hash stored in internal order, as the display-order hex explorers print."""
    if value is None:
        return ""
    return bytes(value)[::-1].hex()


def _escape_code_point(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


@register.filter(needs_autoescape=True)
def reveal_controls(value: object, autoescape: bool = True) -> SafeString:
    """Untrusted text with every invisible or reordering character shown as its escape.

    ``{{ w.btc_address|reveal_controls }}``: ordinary characters are HTML-escaped as usual;
    each hidden one becomes ``<span class="hidden-char" title="U+202E RIGHT-TO-LEFT OVERRIDE">
    \\u202e</span>``, so what the reader sees is what the chain holds, in order.
    """
    if value is None:
        return SafeString("")
    text = str(value)
    escape = conditional_escape if autoescape else str
    if text.isprintable():  # no control, format or separator character at all: the common case
        return mark_safe(escape(text))  # noqa: S308 - escaped
    parts = []
    for char in text:
        if unicodedata.category(char) in _HIDDEN_CATEGORIES:
            title = f"U+{ord(char):04X} {unicodedata.name(char, 'control character')}"
            parts.append(format_html('<span class="hidden-char" title="{}">{}</span>', title, _escape_code_point(char)))
        else:
            parts.append(escape(char))
    return mark_safe("".join(parts))  # noqa: S308 - every part is escaped above


@register.simple_tag
def live_attrs(live) -> str:
    """The htmx polling attributes of a live region (explorer/views/live.py); nothing once it
    is final, or when the page is not live (a deeper page of a list)."""
    if not live or live.final:
        return ""
    return format_html(' hx-get="{}" hx-trigger="every {}s" hx-swap="outerHTML"', live.url, live.seconds)


@register.filter
def hex256(value) -> str:
    """A 256-bit integer (a target, chainwork) as 64 hex digits, the way Bitcoin tools print it."""
    if value is None:
        return "—"
    return f"{int(value):064x}"


@register.filter
def internal_hex(value) -> str:
    """Raw bytes of a Bitcoin hash stored in internal order, as hex (no reversal)."""
    if value is None:
        return ""
    return bytes(value).hex()


@register.filter
def duration(seconds) -> str:
    """A span in seconds as a reader says it: '45 s', '12 min', '3 h 20 min', '2 days 4 h'."""
    if seconds is None:
        return "—"
    s = max(0, round(float(seconds)))
    if s < 60:
        return f"{s} s"
    minutes = s // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


@register.filter
def rate(blocks_per_second) -> str:
    if blocks_per_second is None:
        return "—"
    value = float(blocks_per_second)
    return f"{value:,.1f} blocks/s" if value >= 1 else f"{value * 60:,.1f} blocks/min"
