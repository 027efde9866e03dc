"""What every benchmark shares: a bounded throughput loop and progress on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def per_second(fn: Callable[[], object], *, seconds: float = 1.5, limit: int = 200_000) -> float:
    fn()
    count, start = 0, time.perf_counter()
    while count < limit and time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)
