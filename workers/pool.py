"""``coursemail worker`` on a machine with more than one core: ``WORKERS`` worker processes,
watched over.

Each child is a warm, non-forking worker (``workers.rq_worker``). A child that dies — an
out-of-memory kill, a crash in a C library — is started again after a short pause that grows
while it keeps dying; whatever it held goes stale and the tick takes it back
(``CLAIM_TIMEOUT``). SIGTERM or SIGINT is passed to every child, which finishes its batch;
the pool leaves once they all have.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

log = logging.getLogger("coursemail.worker")

#: Seconds to wait before starting a child again; doubled while it keeps dying at once.
RESTART_PAUSE = 1.0
MAX_RESTART_PAUSE = 30.0
#: A child that ran this long before dying was healthy: its next restart is quick again.
HEALTHY_AFTER = 60.0
#: prctl's option: the signal a child gets when its parent dies (linux/prctl.h).
PR_SET_PDEATHSIG = 1
#: How long children get to finish their batch after SIGTERM before they are killed.
STOP_GRACE = 30.0


def _stop_with_parent() -> None:
    """In the child, before it runs: a SIGTERM when the pool dies, even by SIGKILL, so no
    worker outlives it unwatched (Linux's PR_SET_PDEATHSIG; elsewhere, nothing)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def child_command() -> list[str]:
    return [sys.executable, "-m", "workers.cli", "worker", "--single"]


class Pool:
    def __init__(self, count: int, command: list[str] | None = None) -> None:
        self.count = count
        self.command = command or child_command()
        self.children: list[subprocess.Popen[bytes] | None] = [None] * count
        self.started = [0.0] * count
        self.pause = [RESTART_PAUSE] * count
        self.stop = threading.Event()

    def run(self) -> int:
        """Start the children and keep them running until asked to stop."""
        log.info("starting %d worker processes", self.count)
        for slot in range(self.count):
            self._start(slot)
        while not self.stop.wait(0.5):
            for slot, child in enumerate(self.children):
                if child is not None and child.poll() is not None:
                    self._restart(slot, child.returncode)
        return self._stop_all()

    def _start(self, slot: int) -> None:
        self.children[slot] = subprocess.Popen(self.command, preexec_fn=_stop_with_parent)
        self.started[slot] = time.monotonic()

    def _restart(self, slot: int, code: int) -> None:
        lived = time.monotonic() - self.started[slot]
        if lived >= HEALTHY_AFTER:
            self.pause[slot] = RESTART_PAUSE
        log.warning(
            "worker process %d stopped (exit code %s) after %.0fs; starting another in %.0fs",
            slot + 1,
            code,
            lived,
            self.pause[slot],
        )
        if self.stop.wait(self.pause[slot]):
            self.children[slot] = None
            return
        self.pause[slot] = min(self.pause[slot] * 2, MAX_RESTART_PAUSE)
        self._start(slot)

    def _stop_all(self) -> int:
        live = [c for c in self.children if c is not None and c.poll() is None]
        for child in live:
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in live:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not stop in time; killing it", child.pid)
                child.kill()
                child.wait()
        log.info("all worker processes stopped")
        return 0

    def stop_on_signals(self) -> None:
        def _stop(_signum: int, _frame: FrameType | None) -> None:
            self.stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
