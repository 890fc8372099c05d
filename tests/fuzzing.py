"""The fuzz convention (see the README's "long-running make targets").

A fuzz target is a hypothesis test marked ``@pytest.mark.fuzz`` whose example count comes from
``HEMISCOPE_FUZZ_EXAMPLES``: a short slice (``DEFAULT_EXAMPLES``) in ``make test``, 100 000 in
``make fuzz``. Decorate it with :data:`FUZZ`::

    @pytest.mark.fuzz
    @FUZZ
    @given(st.binary())
    def test_random_bytes_decode_or_raise_the_named_error(data): ...

``tests/conftest.py`` counts the cases each fuzz target ran, stops a target that exceeds
``HEMISCOPE_FUZZ_SECONDS`` (with how many cases it managed), fails a target that ran fewer
than ``HEMISCOPE_FUZZ_MIN_CASES`` (``make fuzz`` sets it to the example count), and prints a
table of cases per target at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings

DEFAULT_EXAMPLES = 200


def fuzz_examples() -> int:
    value = os.environ.get("HEMISCOPE_FUZZ_EXAMPLES", "").strip()
    return int(value) if value else DEFAULT_EXAMPLES


FUZZ_EXAMPLES = fuzz_examples()

# No deadline (a slow case is not a bug here) and no health checks about generation speed or
# size: the targets are meant to generate big, slow, often-rejected inputs.
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def only_raises(fn: Callable[..., Any], allowed: type[BaseException] | tuple[type[BaseException], ...], *args: Any):
    """Call ``fn``; return its result, or None if it raised one of the ``allowed`` (named)
    errors. Any other exception propagates and fails the target."""
    try:
        return fn(*args)
    except allowed:
        return None


class ByteSource:
    """Structured values read from one fuzzed byte string (libFuzzer's FuzzedDataProvider idea).

    Hypothesis spends most of a case generating when a target draws many small values; drawing
    one ``st.binary()`` and reading the structure out of it here is an order of magnitude
    cheaper, and hypothesis still shrinks the bytes. An exhausted source reads as zeros.
    """

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.calls = 0

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def uint(self, nbytes: int = 1) -> int:
        return int.from_bytes(self.take(nbytes).ljust(nbytes, b"\x00"), "big")

    def below(self, n: int) -> int:
        """An integer in [0, n)."""
        return self.uint(max(1, (max(n - 1, 1).bit_length() + 7) // 8)) % n if n > 1 else 0

    def flag(self) -> bool:
        return bool(self.uint() & 1)

    def pick(self, options):
        return options[self.below(len(options))]

    def blob(self, max_len: int, min_len: int = 0) -> bytes:
        """Bytes of a length in [min_len, max_len]; padded with a fixed pattern when exhausted."""
        size = min_len + self.below(max_len - min_len + 1)
        out = self.take(size)
        self.calls += 1  # varies the padding, so padded blobs are not all equal
        return out + bytes((self.calls * 7 + i) & 0xFF for i in range(size - len(out)))

    def mutate(self, raw: bytes, rounds: int = 4) -> bytes:
        """Flip, overwrite with boundary bytes, insert, delete or truncate, 1..rounds times."""
        out = bytearray(raw)
        for _ in range(1 + self.below(rounds)):
            pos = self.below(len(out)) if out else 0
            kind = self.below(5)
            if kind == 0 and out:
                out[pos] ^= 1 << self.below(8)
            elif kind == 1 and out:
                out[pos] = self.pick((0x00, 0x01, 0x7F, 0x80, 0xB7, 0xB8, 0xC0, 0xF7, 0xF8, 0xFC, 0xFD, 0xFE, 0xFF))
            elif kind == 2:
                out[pos:pos] = self.blob(8, 1)
            elif kind == 3 and out:
                del out[pos : pos + 1 + self.below(8)]
            else:
                del out[pos:]
        return bytes(out)
