"""How sending scales with worker processes on PostgreSQL, and what stops it: the rate with
1, 2 and 4 processes, and where the machine's CPU went meanwhile (from /proc)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import progress
from bench.reliability.stack import Stack
from bench.stats import Figure
from bench.wire import CountingHandler, until, wait_for_workers

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Scale:
    workers: int
    rate: Figure
    #: share of both cores busy during the bursts
    machine_busy: float
    #: cores' worth of CPU per part: workers, the SMTP sink, PostgreSQL, the rest
    cores: dict[str, float]


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _postgres_cpu() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += _cpu(int(entry.name))
            except OSError:
                continue
    return total


def _machine() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def scale(workers: int, *, count: int, reps: int) -> Scale:
    stack = Stack("postgres", sink_handler=CountingHandler(), WORKERS=str(workers))
    try:
        stack.start("tick")
        pool = stack.start("worker")
        wait_for_workers(stack, workers)
        children = stack.worker_pids(pool)
        rates, seconds = [], 0.0
        spent = [0.0, 0.0, 0.0, 0, 0]  # workers, sink, PostgreSQL, machine busy, machine all

        def snapshot() -> tuple[float, float, float, int, int]:
            busy, total = _machine()
            own = _cpu(os.getpid())
            return sum(_cpu(p) for p in children), own, _postgres_cpu(), busy, total

        for rep in range(reps):
            stack.seed(count)  # (the seeding's CPU is outside the snapshots)
            start, before = time.monotonic(), snapshot()
            last = until(stack, (rep + 1) * count)
            after = snapshot()
            rates.append(count / (last - start))
            seconds += time.monotonic() - start
            for i in range(5):
                spent[i] += after[i] - before[i]
        busy = spent[3] / max(1, spent[4])
        cores = {
            "workers": spent[0] / seconds,
            "SMTP sink": spent[1] / seconds,
            "PostgreSQL": spent[2] / seconds,
        }
        progress(f"  {workers} worker processes: {Figure.of(rates).show()}, {busy:.0%} busy")
        return Scale(workers, Figure.of(rates), busy, cores)
    finally:
        stack.close()
