"""What a report was asked for: a scope, its selectors, optional pinned chain positions.

The same request, however it arrives (command line, API, page button), normalizes to the same
``Request``: ids lower-case 0x-hex, times ISO-8601 UTC to the second. ``key`` names it, so
identical requests reuse one job.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from explorer.params import BadParameter, parse_address, parse_evm_hash

SCOPES = ("mint", "token", "address", "blocks", "time", "tunnel")
FORMATS = ("json", "csv", "pdf")
# Postgres bigint; a block number or height past this is a typo, refused before any query.
_MAX_NUMBER = 2**63 - 1


class ReportRequestError(ValueError):
    """A report request that cannot be built; the message names the offending selector."""


@dataclass(frozen=True)
class Request:
    scope: str
    id: str | None = None  # 0x-hex: mint tx hash, token or address
    from_block: int | None = None
    to_block: int | None = None
    since: str | None = None  # ISO-8601 UTC, "2026-12-06T10:00:00Z"
    until: str | None = None
    at_btc_height: int | None = None
    at_hemi_block: int | None = None

    def as_dict(self) -> dict:
        """The selectors that are set (the manifest's and the job's record of the request)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def selectors(self) -> dict:
        """``as_dict`` without the pins: what a report records as its request. The positions it
        was judged at are recorded on their own, so a report pinned at the tips and one asked
        for unpinned at that moment are the same bytes."""
        return {k: v for k, v in self.as_dict().items() if k not in ("at_btc_height", "at_hemi_block")}

    def key(self, fmt: str) -> str:
        text = json.dumps({"format": fmt, **self.as_dict()}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def since_unix(self) -> int:
        return int(datetime.fromisoformat(self.since).timestamp())

    @property
    def until_unix(self) -> int:
        return int(datetime.fromisoformat(self.until).timestamp())

    def slug(self) -> str:
        """A short file-name part: scope and its main selector."""
        if self.id:
            return f"{self.scope}-{self.id[:12]}"
        if self.scope == "blocks":
            return f"blocks-{self.from_block}-{self.to_block}"
        return self.scope


def _number(value, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ReportRequestError(f"{what} must be a whole number, got {str(value)[:40]!r}") from None
    if not 0 <= number <= _MAX_NUMBER:
        raise ReportRequestError(f"{what} must be between 0 and {_MAX_NUMBER}")
    return number


def _time(value, what: str) -> str:
    if not value:
        raise ReportRequestError(f"scope time needs {what} (ISO-8601, e.g. 2026-12-06T10:00:00Z)")
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ReportRequestError(f"{what} must be an ISO-8601 time, got {str(value)[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # a bare time is read as UTC, and said so in the record
    return parsed.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def make_request(
    scope,
    *,
    id=None,
    from_block=None,
    to_block=None,
    since=None,
    until=None,
    at_btc_height=None,
    at_hemi_block=None,
) -> Request:
    """Validate and normalize; ReportRequestError names what is wrong. Selectors a scope does
    not use are refused rather than ignored (two requests that differ only in an ignored
    selector would otherwise be two jobs producing the same file)."""
    if scope not in SCOPES:
        raise ReportRequestError(f"scope must be one of {', '.join(SCOPES)}")
    given = {"id": id, "from": from_block, "to": to_block, "since": since, "until": until}
    wanted = {
        "mint": {"id"},
        "token": {"id"},
        "address": {"id"},
        "blocks": {"from", "to"},
        "time": {"since", "until"},
        "tunnel": set(),
    }[scope]
    extra = sorted(k for k, v in given.items() if v not in (None, "") and k not in wanted)
    if extra:
        raise ReportRequestError(f"scope {scope} takes no {', '.join(extra)}")
    fields: dict = {
        "at_btc_height": _number(at_btc_height, "at_btc_height"),
        "at_hemi_block": _number(at_hemi_block, "at_hemi_block"),
    }
    try:
        if scope == "mint":
            fields["id"] = "0x" + parse_evm_hash(str(id or "")).hex()
        elif scope in ("token", "address"):
            fields["id"] = "0x" + parse_address(str(id or "")).hex()
    except BadParameter as exc:
        raise ReportRequestError(f"id: {exc}") from None
    if scope == "blocks":
        low, high = _number(from_block, "from"), _number(to_block, "to")
        if low is None or high is None:
            raise ReportRequestError("scope blocks needs from and to (Hemi block numbers)")
        if low > high:
            raise ReportRequestError("from must not be above to")
        fields.update(from_block=low, to_block=high)
    if scope == "time":
        fields.update(since=_time(since, "since"), until=_time(until, "until"))
        if fields["since"] > fields["until"]:
            raise ReportRequestError("since must not be after until")
    return Request(scope, **fields)


def parse_format(value) -> str:
    if value not in FORMATS:
        raise ReportRequestError(f"format must be one of {', '.join(FORMATS)}")
    return value
