"""The report archive: a plain ustar file whose every byte is fixed by its members' names and
contents (pure, no Django; the offline verifier reads it with ``read_members``).

Layout: ``manifest.jsonl`` first, then ``bundles/<mint tx hash>.json`` in manifest order, then
two zero blocks. Each header has mode 0644, uid/gid 0, empty owner names and mtime 0, so the same
members always give the same bytes; the reader rebuilds every header from the name and size it
announces and compares byte for byte, and demands zero padding, so changing any byte of the
archive - header, padding or content - is noticed.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import BinaryIO

BLOCK = 512
END = b"\0" * (2 * BLOCK)
MANIFEST = "manifest.jsonl"


class ArchiveError(ValueError):
    """The bytes are not a canonical report archive."""


def header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(format=tarfile.USTAR_FORMAT, encoding="ascii", errors="strict")


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def is_archive(head: bytes) -> bool:
    """A ustar header: what a report archive starts with (a bundle starts with ``{``)."""
    return len(head) >= BLOCK and head[257:263] == b"ustar\0"


class Member:
    """One member being read: ``read(n)`` never reads past its content."""

    def __init__(self, stream: BinaryIO, name: str, size: int):
        self.name, self.size = name, size
        self._stream, self._left = stream, size

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._stream.read(n)
        if len(data) != n:
            raise ArchiveError(f"{self.name}: the archive ends inside this member")
        self._left -= n
        return data

    def skip_rest(self) -> None:
        while self._left:
            self.read(min(self._left, 1 << 20))


def read_members(stream: BinaryIO) -> Iterator[Member]:
    """Yield each member in order; the caller reads (or skips) it before asking for the next.

    Raises ArchiveError for a header that is not exactly what ``header`` writes, non-zero
    padding, or anything but end-of-file after the two closing zero blocks.
    """
    while True:
        raw = stream.read(BLOCK)
        if raw == b"\0" * BLOCK:
            if stream.read(BLOCK) != b"\0" * BLOCK or stream.read(1) != b"":
                raise ArchiveError("bytes after the end of the archive, or a truncated end marker")
            return
        if len(raw) != BLOCK:
            raise ArchiveError("the archive ends inside a header")
        try:
            info = tarfile.TarInfo.frombuf(raw, "ascii", "strict")
            expected = header(info.name, info.size)
        except (tarfile.TarError, UnicodeError, ValueError) as exc:
            raise ArchiveError(f"not a canonical member header: {exc}") from None
        if raw != expected:
            raise ArchiveError(f"member header of {info.name!r} differs from the canonical header")
        member = Member(stream, info.name, info.size)
        yield member
        member.skip_rest()
        pad = stream.read(-info.size % BLOCK)
        if pad != padding(info.size):
            raise ArchiveError(f"padding after {info.name!r} is not zeros")
