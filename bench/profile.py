"""Where a live worker's time goes, sampled from outside with py-spy (it changes nothing in
the process it watches), summed into the stages of sending one batch."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

#: A frame's function name -> the stage it belongs to; the deepest match wins.
STAGES = (
    ("Batch.__init__", "load the batch (one query)"),
    ("outgoing_for", "compose the bytes"),
    ("_record_unrecorded", "take in hand + record (database)"),
    ("take", "take in hand + record (database)"),
    ("Engine.begin", "take in hand + record (database)"),
    ("Batch.finish", "take in hand + record (database)"),
    ("_deliver", "SMTP (mostly waiting for the server)"),
)


@dataclass(frozen=True)
class Profile:
    samples: int
    #: stage -> share of the samples taken inside a send job's connection threads
    shares: dict[str, float]
    #: share of all the worker's main-thread samples spent waiting for a job
    idle: float

    def lines(self) -> list[str]:
        parts = [f"{stage}: {share:.0%}" for stage, share in self.shares.items()]
        return [
            f"py-spy, {self.samples:,} samples of one worker process (wall time, idle "
            f"included), per connection thread: " + "; ".join(parts) + ". "
            f"Its main thread waited for work {self.idle:.0%} of the time."
        ]


class Recording:
    def __init__(self, pid: int, seconds: int) -> None:
        self.out = Path(tempfile.mkstemp(prefix="cm-spy-", suffix=".txt")[1])
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        command = [
            spy,
            "record",
            "--idle",
            "--nonblocking",
            "--pid",
            str(pid),
            "-d",
            str(seconds),
            "-f",
            "raw",
            "-o",
            str(self.out),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def result(self) -> Profile | None:
        self.process.wait(60)
        try:
            return summarise(self.out.read_text())
        except OSError:
            return None  # py-spy could not attach (ptrace not allowed): said in the report
        finally:
            self.out.unlink(missing_ok=True)


def record(pid: int, *, seconds: int) -> Recording:
    return Recording(pid, seconds)


def summarise(raw: str) -> Profile | None:
    stages: Counter[str] = Counter()
    waiting = main = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        names = [frame.split(" (")[0] for frame in stack.split(";")]
        n = int(count)
        if "_send_part" in names:
            stages[_stage(names)] += n
        if "BaseWorker.work" in names:
            main += n
            if "perform_job" not in " ".join(names):
                waiting += n
    total = sum(stages.values())
    if not total:
        return None
    shares = {stage: count / total for stage, count in stages.most_common()}
    return Profile(samples=total, shares=shares, idle=waiting / main if main else 0.0)


def _stage(names: list[str]) -> str:
    found = "other (heartbeat, logging, RQ)"
    for name in names:
        for marker, stage in STAGES:
            if name == marker or name.endswith("." + marker):
                found = stage
    return found


#: The stages of one sign-up POST in a gunicorn worker (CPU samples, not waiting).
SIGNUP_STAGES = (
    ("Flask.full_dispatch_request", "Flask around the view"),
    ("CSRFProtect.protect", "CSRF and the form"),
    ("SignupForm.from_request", "CSRF and the form"),
    ("SignupForm.validate", "CSRF and the form"),
    ("Limiter._check_request_limit", "rate limits (Redis)"),
    ("submit", "the view's own code"),
    ("sign_up", "the write: reader, consent, claimed confirmation (ORM)"),
    ("record_consent", "the write: reader, consent, claimed confirmation (ORM)"),
    ("Session.commit", "the write: reader, consent, claimed confirmation (ORM)"),
    ("Session.flush", "the write: reader, consent, claimed confirmation (ORM)"),
    ("_GeneratorContextManager.__exit__", "the write: reader, consent, claimed confirmation (ORM)"),
    ("enqueue_or_release", "the enqueue (RQ, Redis)"),
)


def shares(raw: str, *, within: str, stages: tuple[tuple[str, str], ...]) -> dict[str, float]:
    """The share of the samples under ``within`` that each stage took (deepest match wins)."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        names = [frame.split(" (")[0] for frame in stack.split(";")]
        if count.isdigit() and within in names:
            found = "gunicorn and the request around Flask"
            for name in names:
                for marker, stage in stages:
                    if name == marker:
                        found = stage
            counts[found] += int(count)
    total = sum(counts.values())
    return {stage: n / total for stage, n in counts.most_common()} if total else {}


def cpu_shares(
    pid: int, seconds: int, *, within: str, stages: tuple[tuple[str, str], ...]
) -> dict[str, float]:
    """Sample ``pid``'s CPU (not its waits) for ``seconds``; the shares by stage."""
    out = Path(tempfile.mkstemp(prefix="cm-spy-", suffix=".txt")[1])
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [
        spy,
        "record",
        "--nonblocking",
        "--pid",
        str(pid),
        "-d",
        str(seconds),
        "-f",
        "raw",
        "-o",
        str(out),
    ]
    try:
        subprocess.run(command, capture_output=True, timeout=seconds + 60, check=False)
        return shares(out.read_text(), within=within, stages=stages)
    except OSError:
        return {}
    finally:
        out.unlink(missing_ok=True)
