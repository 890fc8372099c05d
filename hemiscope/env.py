"""Strict environment readers for settings.

Every helper raises ``ImproperlyConfigured`` naming the variable, so a typo in a deployment
fails at start-up instead of silently falling back to a default.
"""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | object | None = _MISSING) -> str | None:
    value = _raw(name)
    if value is not None:
        return value
    if default is _MISSING:
        raise ImproperlyConfigured(f"{name} is not set")
    return default  # type: ignore[return-value]


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false/1/0), got {value!r}")


def env_int(name: str, default: int | object | None = _MISSING, *, minimum: int | None = None) -> int | None:
    value = _raw(name)
    if value is None:
        if default is _MISSING:
            raise ImproperlyConfigured(f"{name} is not set")
        return default  # type: ignore[return-value]
    try:
        number = int(value, 0)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {'/'.join(schemes)}, got {value!r}")
    return value


def env_url(name: str, default: str | object | None = _MISSING, *, schemes: tuple[str, ...]) -> str | None:
    value = env_str(name, default)
    if value is None:
        return None
    return check_url(name, value, schemes)


def env_address(name: str, default: str | None) -> str | None:
    """An EVM address (0x + 40 hex), returned lower-case."""
    value = _raw(name)
    if value is None:
        return default.lower() if default else None
    body = value[2:] if value.lower().startswith("0x") else ""
    if len(body) != 40 or any(c not in "0123456789abcdefABCDEF" for c in body):
        raise ImproperlyConfigured(f"{name} must be a 0x-prefixed 20-byte hex address, got {value!r}")
    return value.lower()


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    value = _raw(name) or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


_RATE = re.compile(r"^(\d+)/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A request rate ``N/period`` (s, min, hour, day) as Django REST framework parses it."""
    value = (_raw(name) or default).replace(" ", "")
    match = _RATE.match(value)
    if match is None or int(match.group(1)) < 1:
        raise ImproperlyConfigured(
            f"{name} must be a rate like 120/min (N >= 1 per s, min, hour or day), got {value!r}"
        )
    return value


def env_networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated IP addresses or networks (``10.0.0.0/8``), normalised to networks."""
    out = []
    for item in env_list(name, default):
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(f"{name} must list IP addresses or networks, got {item!r}") from None
    return out
