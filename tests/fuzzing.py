"""The fuzz convention (see the README's "long-running make targets").

A fuzz target is a hypothesis test marked ``@pytest.mark.fuzz`` whose case count comes from
``HEMISCOPE_FUZZ_EXAMPLES``: a short slice (``DEFAULT_EXAMPLES``) in ``make test``, 100 000 in
``make fuzz``. Decorate it with :data:`FUZZ`::

    @pytest.mark.fuzz
    @FUZZ
    @given(st.binary())
    def test_random_bytes_decode_or_raise_the_named_error(data): ...

Two ways to run the same target (hooks in ``tests/conftest.py``):

* ``make test``: hypothesis's own engine, ``HEMISCOPE_FUZZ_EXAMPLES`` examples, shrinking and
  its example database as usual.
* ``make fuzz`` (``HEMISCOPE_FUZZ_DRIVER=bytes``): the target's ``fuzz_one_input`` is fed
  random byte strings, the way an external fuzzer drives a hypothesis test, until it has run
  ``HEMISCOPE_FUZZ_EXAMPLES`` cases or ``HEMISCOPE_FUZZ_SECONDS`` have passed. The engine costs
  about 2 ms a case (it steers generation and remembers every example); this costs about
  0.2 ms, which is what makes 100 000 cases per target affordable. A failure prints the input
  bytes (hypothesis also saves it to its example database) so it can become a regression test.

Either way each target's cases are counted, a target under ``HEMISCOPE_FUZZ_MIN_CASES`` fails,
and the run ends with a table of cases per target.
"""

from __future__ import annotations

import inspect
import os
import random
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

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


def _env_float(name: str) -> float | None:
    value = os.environ.get(name, "").strip()
    return float(value) if value else None


class FuzzTimeBudgetExceeded(BaseException):
    """Raised between two engine cases once a target used up HEMISCOPE_FUZZ_SECONDS.

    A BaseException, not an Exception: hypothesis must not take it for a failing example (and
    shrink it); it ends the target at once and pytest reports it with the count reached."""


_RESULTS = pytest.StashKey[dict]()
# Random inputs for the byte driver: mostly short, sometimes up to a few kilobytes.
_BUFFER_SIZES = (16, 64, 256, 1024, 4096)


def _is_fuzz_target(item) -> bool:
    return item.get_closest_marker("fuzz") is not None and hasattr(getattr(item, "obj", None), "hypothesis")


def _counting(inner: Callable, record: dict, budget_s: float | None) -> Callable:
    from hypothesis.errors import UnsatisfiedAssumption

    def run_case(*args: Any, **kwargs: Any) -> Any:
        if budget_s is not None and time.monotonic() - record["started"] > budget_s:
            raise FuzzTimeBudgetExceeded(f"time bound of {budget_s:.0f} s reached after {record['cases']} cases")
        try:
            result = inner(*args, **kwargs)
        except UnsatisfiedAssumption:
            record["rejected"] += 1
            raise
        record["cases"] += 1
        return result

    return run_case


def run_counted(item) -> Generator[None, Any, Any]:
    """Body of the ``pytest_runtest_call`` wrapper: count the target's cases around its run."""
    if not _is_fuzz_target(item):
        return (yield)
    handle = item.obj.hypothesis
    record = {"cases": 0, "rejected": 0, "started": time.monotonic()}
    item.config.stash.setdefault(_RESULTS, {})[item.nodeid] = record
    inner = handle.inner_test
    driver = os.environ.get("HEMISCOPE_FUZZ_DRIVER") == "bytes"  # the driver bounds time itself
    handle.inner_test = _counting(inner, record, None if driver else _env_float("HEMISCOPE_FUZZ_SECONDS"))
    try:
        result = yield
    finally:
        handle.inner_test = inner
        record["seconds"] = time.monotonic() - record["started"]
        # Also as each target ends, so a long run that is stopped still says what it reached.
        reporter = item.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and os.environ.get("HEMISCOPE_FUZZ_DRIVER") == "bytes":
            reporter.write_line(f"\n{_line(item.nodeid, record)}")
    minimum = _env_float("HEMISCOPE_FUZZ_MIN_CASES")
    if minimum is not None and record["cases"] < minimum:
        pytest.fail(f"fuzz target ran {record['cases']} cases, fewer than HEMISCOPE_FUZZ_MIN_CASES={minimum:.0f}")
    return result


def _fuzz_target(pyfuncitem) -> Callable[[bytes], Any]:
    """The item's test as a ``fuzz_one_input`` target, its pytest fixtures bound.

    ``fuzz_one_input`` passes only the @given arguments, and refuses a test whose signature
    still has other parameters; so the same strategies are applied again to a function that
    takes only them and calls the counted inner test with the fixture values added. No example
    database: the driver reports a failing input itself.
    """
    handle = pyfuncitem.obj.hypothesis
    strategies = dict(handle._given_kwargs)  # name -> strategy, as @given resolved them
    fixtures = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    counted = handle.inner_test

    def bound(**drawn: Any) -> Any:
        return counted(**fixtures, **drawn)

    bound.__name__ = bound.__qualname__ = pyfuncitem.obj.__name__
    bound.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in strategies]
    )
    test = settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))(given(**strategies)(bound))
    return test.hypothesis.fuzz_one_input


def drive_with_bytes(pyfuncitem) -> bool | None:
    """``pytest_pyfunc_call`` under ``HEMISCOPE_FUZZ_DRIVER=bytes``: run the target on random
    byte strings through ``fuzz_one_input``. Returns None (pytest calls the test normally) for
    anything else."""
    if os.environ.get("HEMISCOPE_FUZZ_DRIVER") != "bytes" or not _is_fuzz_target(pyfuncitem):
        return None
    record = pyfuncitem.config.stash[_RESULTS][pyfuncitem.nodeid]
    target = _fuzz_target(pyfuncitem)
    seed = os.environ.get("HEMISCOPE_FUZZ_SEED") or str(random.SystemRandom().getrandbits(32))
    rng = random.Random(f"{seed}:{pyfuncitem.nodeid}")
    wanted = fuzz_examples()
    budget = _env_float("HEMISCOPE_FUZZ_SECONDS")
    record["seed"] = seed
    while record["cases"] < wanted:
        if budget is not None and time.monotonic() - record["started"] > budget:
            pytest.fail(f"time bound of {budget:.0f} s reached after {record['cases']} cases (seed {seed})")
        buffer = rng.randbytes(rng.randrange(rng.choice(_BUFFER_SIZES)))
        try:
            target(buffer)
        except BaseException as exc:
            exc.add_note(f"fuzz input (seed {seed}): bytes.fromhex({buffer.hex()!r})")
            raise
    return True


def report(terminalreporter, config) -> None:
    results = config.stash.get(_RESULTS, {})
    if not results:
        return
    terminalreporter.section("fuzz targets: cases run")
    for nodeid, record in sorted(results.items()):
        terminalreporter.write_line(_line(nodeid, record))


def _line(nodeid: str, record: dict) -> str:
    extra = f"  ({record['rejected']} rejected)" if record["rejected"] else ""
    seed = f"  seed {record['seed']}" if "seed" in record else ""
    return f"{record['cases']:>9} cases {record.get('seconds', 0.0):8.1f} s  {nodeid}{seed}{extra}"


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
