"""Find a test's processes by a marker in their environment (every child inherits it)."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                if "\nState:\tZ" not in (entry / "status").read_text():  # zombies are dead
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_all_with(marker: str) -> None:
    """SIGKILL every process carrying ``marker``, even those that left the process group
    (RQ's work-horse calls setsid, so killing the worker's group alone misses it)."""
    for pid in processes_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
