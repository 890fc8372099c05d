from __future__ import annotations

from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def unix_utc(value: int | None) -> str:
    """Chain timestamps are unix seconds; show them unambiguously in UTC."""
    if value is None:
        return ""
    return datetime.fromtimestamp(int(value), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
