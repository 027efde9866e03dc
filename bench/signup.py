"""Sign-ups, measured from outside as a reader's browser meets them.

- **Throughput:** wrk (Debian's package) drives the real ``POST /`` (CSRF, validation, the
  database write, the outbox, the enqueue) under gunicorn as the Procfile runs it, 16
  connections for 10 seconds, against a constant-response route of the same app and server.
- **Confirmations keep up:** 1,000 sign-ups as fast as the web takes them while a 10,000-email
  course burst is being sent; for each, the time from its POST to its confirmation email
  reaching the SMTP sink.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench.common import progress
from bench.profile import SIGNUP_STAGES, cpu_shares
from bench.reliability.stack import Stack
from bench.stats import Figure
from bench.wire import CountingHandler, until, wait_for_workers

#: gunicorn's worker count as the Procfile's web line sets it
WEB_WORKERS = re.search(
    r"--workers (\d+)", (Path(__file__).resolve().parent.parent / "Procfile").read_text()
)[1]  # type: ignore[index]
LUA = Path(__file__).with_name("lua")


@dataclass(frozen=True)
class Load:
    rate: Figure
    p99_ms: Figure
    failures: int


@dataclass(frozen=True)
class Throughput:
    signup: Load
    constant: Load
    #: where one gunicorn worker's CPU went during a round of sign-ups (py-spy)
    profile: dict[str, float]


def throughput(
    *, reps: int, seconds: int = 10, connections: int = 16, database: str = "sqlite"
) -> Throughput:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: `make bench` installs it (apt-get install wrk)")
    stack = Stack(database, TRUSTED_PROXIES="1")
    try:
        web = _start_web(stack)
        base = f"http://127.0.0.1:{stack.web_port}"
        token, cookie = _form_session(stack.web_port)
        runs: dict[str, list[dict[str, float]]] = {"signup": [], "constant": []}
        profile: dict[str, float] = {}
        for rep in range(reps):
            for name in ("constant", "signup"):
                env = {
                    **os.environ,
                    "TOKEN": token,
                    "COOKIE": cookie,
                    "RUN": str(rep + 1),
                    "LUA_DIR": str(LUA),
                }
                url = f"{base}/bench/constant" if name == "constant" else f"{base}/"
                command = [
                    wrk,
                    "-t2",
                    f"-c{connections}",
                    f"-d{seconds}s",
                    "-s",
                    str(LUA / f"{name}.lua"),
                    url,
                ]
                load = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
                if rep == 0 and name == "signup":
                    profile = cpu_shares(
                        stack.children(web)[0],
                        seconds - 2,
                        within="SyncWorker.handle",
                        stages=SIGNUP_STAGES,
                    )
                output, _ = load.communicate()
                runs[name].append(json.loads(output.split("RESULT ", 1)[1].splitlines()[0]))
            progress(
                f"  round {rep + 1}/{reps}: sign-up {_rate(runs['signup'][-1]):,.0f}/s, "
                f"constant {_rate(runs['constant'][-1]):,.0f}/s"
            )
        assert web.poll() is None, stack.logs()[-2000:]
        return Throughput(_load(runs["signup"]), _load(runs["constant"]), profile)
    finally:
        stack.close()


def _rate(run: dict[str, float]) -> float:
    return run["requests"] / run["seconds"]


def _load(runs: list[dict[str, float]]) -> Load:
    return Load(
        rate=Figure.of([_rate(r) for r in runs]),
        p99_ms=Figure.of([r["p99_us"] / 1000 for r in runs]),
        failures=int(sum(r["non_3xx"] + r["errors"] for r in runs)),
    )


def _start_web(stack: Stack) -> subprocess.Popen[bytes]:
    """gunicorn with the Procfile's worker count, serving the app plus its constant route."""
    process = stack.start("web", app="bench.webapp:create_app()", web_workers=WEB_WORKERS)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _get(stack.web_port, "/bench/constant")
            return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the web did not start:\n{stack.logs()[-2000:]}")


def _get(port: int, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _form_session(port: int) -> tuple[str, str]:
    """The CSRF token and the session cookie a browser gets with the form."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/")
    response = conn.getresponse()
    page = response.read().decode()
    conn.close()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the form"
    cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
    return match.group(1), cookie


@dataclass(frozen=True)
class Confirmations:
    signups: int
    signup_seconds: float
    #: seconds from each POST to its confirmation email at the sink
    delays: list[float]
    course_sent_meanwhile: int

    @property
    def p50(self) -> float:
        return statistics.median(self.delays)

    @property
    def p99(self) -> float:
        return sorted(self.delays)[max(0, int(len(self.delays) * 0.99) - 1)]


def confirmations_during_a_burst(signups: int = 1000, course: int = 10_000) -> Confirmations:
    handler = CountingHandler()
    stack = Stack("sqlite", sink_handler=handler, WORKERS="2", TRUSTED_PROXIES="1")
    try:
        _start_web(stack)
        stack.start("tick")
        stack.start("worker")
        wait_for_workers(stack, 2)
        stack.seed(course)
        until(stack, 200)  # the course burst is under way
        token, cookie = _form_session(stack.web_port)
        posted: dict[str, float] = {}
        started = time.monotonic()
        _post_all(stack.web_port, token, cookie, signups, posted)
        took = time.monotonic() - started
        until(stack, course + signups)
        arrived = {r.rcpt_tos[0].lower(): r.at for r in handler.received}
        course_meanwhile = sum(
            1 for r in handler.received if r.rcpt_tos[0].startswith("r") and r.at <= started + took
        )
        delays = [arrived[address] - at for address, at in posted.items()]
        return Confirmations(signups, took, delays, course_meanwhile)
    finally:
        stack.close()


def _post_all(port: int, token: str, cookie: str, count: int, posted: dict[str, float]) -> None:
    """``count`` sign-ups from 16 clients at once, each from its own address."""
    numbers = iter(range(count))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            address = f"signup{n}@example.test"
            body = urlencode(
                {"email": address, "first_name": "Sam", "timezone": "UTC", "csrf_token": token}
            )
            headers = {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie,
                "X-Forwarded-For": f"10.9.{n // 250}.{n % 250}",
            }
            start = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            assert response.status == 303, f"sign-up answered {response.status}"
            with lock:
                posted[address] = start

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
