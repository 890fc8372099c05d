"""Verdicts: the vocabulary every provenance link is judged in."""

from __future__ import annotations

from dataclasses import dataclass, field

VERIFIED = "verified"
PENDING = "pending"
FAILED = "failed"


@dataclass(frozen=True)
class Check:
    """One rule applied to one link, with what was expected and what was found."""

    name: str
    verdict: str
    detail: str
    expected: str | None = None
    found: str | None = None


@dataclass(frozen=True)
class Link:
    """One link of the trust chain (e.g. "Bitcoin lock") with its checks and overall verdict."""

    name: str
    checks: tuple[Check, ...] = field(default_factory=tuple)
    evidence: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        verdicts = {c.verdict for c in self.checks}
        if FAILED in verdicts:
            return FAILED
        if PENDING in verdicts or not self.checks:
            return PENDING
        return VERIFIED

    @property
    def reason(self) -> str | None:
        """The first failed check's detail, else the first pending one's."""
        for wanted in (FAILED, PENDING):
            for check in self.checks:
                if check.verdict == wanted:
                    return check.detail
        return None


def overall(links: list[Link]) -> str:
    verdicts = [link.verdict for link in links]
    if FAILED in verdicts:
        return FAILED
    if PENDING in verdicts:
        return PENDING
    return VERIFIED
