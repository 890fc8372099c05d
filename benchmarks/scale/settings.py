"""Production settings plus two measuring aids, for ``make bench-scale`` only.

* ``/bench/floor``: a do-nothing JSON view behind the same middleware as every page - the
  framework floor each endpoint's p99 is compared with;
* ``Server-Timing: app;dur=<ms>`` on every answer, measured around the whole middleware stack
  (outermost), so the load client reports server-side latency beside its own.

Everything else is ``hemiscope.settings`` exactly as production reads it from the environment.
"""

from __future__ import annotations

from hemiscope.settings import *  # noqa: F403 - this module is those settings plus two aids
from hemiscope.settings import MIDDLEWARE

ROOT_URLCONF = "benchmarks.scale.urls"
MIDDLEWARE = ["benchmarks.scale.timing.ServerTimingMiddleware", *MIDDLEWARE]
