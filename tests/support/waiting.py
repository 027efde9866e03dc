"""Wait for a condition with a deadline, never for a fixed time: on a loaded machine a fixed
sleep can end before anything happened, and the test then proves nothing."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def wait_for(
    check: Callable[[], object], timeout: float, what: str, *, every: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def some_thread_is_in(function: str, module_file: str) -> bool:
    """Whether any thread of this process is running ``function`` of ``module_file`` now."""
    for frame in sys._current_frames().values():
        walker = frame
        while walker is not None:
            code = walker.f_code
            if code.co_name == function and code.co_filename.endswith(module_file):
                return True
            walker = walker.f_back
    return False
