"""The fuzz suite's two profiles, and a count of the examples each target ran.

- quick (the default, in every test run): a few hundred examples per parser, derandomized so
  CI runs the same inputs every time, no deadline (the machine is shared).
- long (`TUI_CLIENT_FUZZ=long`): `LONG_FACTOR` times as many, random, with Hypothesis' example
  database in `.hypothesis/` so a failure found once is replayed first next time. Over the
  targets of this suite that is well over 100,000 examples.

A target says how many examples it runs in the quick profile with `@examples(n)`; a target whose
single example is slow asks for fewer. `@counted` counts what actually ran (the terminal summary
prints the totals).
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("TUI_CLIENT_FUZZ", "quick").strip().lower() or "quick"
if PROFILE not in ("quick", "long"):
    raise RuntimeError(f"TUI_CLIENT_FUZZ={PROFILE!r}: use 'quick' or 'long'")
LONG_FACTOR = int(os.environ.get("TUI_CLIENT_FUZZ_FACTOR", "15"))

_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.large_base_example, HealthCheck.function_scoped_fixture]

settings.register_profile(
    "quick", max_examples=200, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=_CHECKS,
)
settings.register_profile(
    "long", max_examples=200 * LONG_FACTOR, deadline=None, derandomize=False, print_blob=True,
    suppress_health_check=_CHECKS,
)
settings.load_profile(PROFILE)

RAN: Counter[str] = Counter()
SECONDS: Counter[str] = Counter()


def examples(quick: int) -> Callable:
    """Run `quick` examples in the quick profile, `quick * LONG_FACTOR` in the long one."""
    return settings(max_examples=quick if PROFILE == "quick" else quick * LONG_FACTOR)


def counted(test: Callable) -> Callable:
    """Count the examples `test` runs (put it under @given)."""
    name = test.__name__

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        RAN[name] += 1
        started = time.perf_counter()
        try:
            return test(*args, **kwargs)
        finally:
            SECONDS[name] += time.perf_counter() - started

    return run
