"""Scenarios 6-8: a long outage on a scaled clock, unsubscribes racing sends, and a backup
taken while readers sign up."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from email import message_from_bytes
from email.policy import default
from http.cookiejar import CookieJar

from sqlalchemy import func, select

from bench.reliability.processes import PATIENCE
from bench.reliability.stack import Row, Stack
from emails.course import default_course
from service.store.backup import check_copy
from service.store.db import Database
from service.store.models import Consent, Reader

STEPS = [step.subject for step in default_course().steps]


def catch_up_after_two_days() -> Row:
    """All workers and the tick away for 48 course hours (a day lasts 2 s here)."""
    stack = Stack("sqlite", COURSEMAIL_TIME_SCALE="43200")
    try:
        readers = stack.seed(100)
        stack.start("tick")
        stack.start("worker")
        stack.wait(lambda: _fewest(stack, readers) >= 2, PATIENCE)
        for _, process in stack.processes:
            process.send_signal(signal.SIGTERM)
            process.wait()
        time.sleep(4)  # 48 hours on this clock
        returned = time.monotonic()
        stack.start("tick")
        stack.start("worker")
        stack.wait(lambda: _fewest(stack, readers) >= len(STEPS), PATIENCE)
        inflicted = "every worker and the tick stopped for 48 h (scaled clock)"
        expected = len(readers) * len(STEPS)
        row = Row("two days without workers", inflicted, "sqlite", expected, 0, 0, 0, 0, None)
        return _check_courses(stack, readers, row, returned)
    finally:
        stack.close()


def _courses(stack: Stack) -> dict[str, list[tuple[float, str]]]:
    found: dict[str, list[tuple[float, str]]] = {}
    for received in list(stack.sink_handler.received):
        subject = str(message_from_bytes(received.data, policy=default)["Subject"])
        found.setdefault(received.rcpt_tos[0].lower(), []).append((received.at, subject))
    return found


def _fewest(stack: Stack, readers: list[str]) -> int:
    courses = _courses(stack)
    return min(len(courses.get(reader, [])) for reader in readers)


def _check_courses(stack: Stack, readers: list[str], row: Row, returned: float) -> Row:
    courses = _courses(stack)
    out_of_order = crowded = 0
    for reader in readers:
        got = sorted(courses.get(reader, []))
        subjects = [subject for _, subject in got]
        row.sent += len(got)
        row.duplicated += len(subjects) - len(set(subjects))
        row.lost += len(set(STEPS) - set(subjects))
        out_of_order += subjects != STEPS[: len(subjects)]
        after = [at for at, _ in got if at >= returned]
        crowded += any(b - a < 1.0 for a, b in zip(after, after[1:], strict=False))
        row.delay = max(row.delay or 0.0, (after[0] - returned) if after else 0.0)
    row.notes.append(f"{out_of_order} readers had a step out of order or skipped")
    row.notes.append(f"{crowded} readers got two emails within one catch-up pass")
    if out_of_order or crowded:
        row.problems.append("the catch-up broke the course's order or pace")
    return row


def unsubscribe_race(rng: random.Random) -> Row:
    """150 one-click unsubscribes while 300 claimed emails are going out."""
    stack = Stack("sqlite")
    try:
        web = stack.start("web")
        readers = stack.seed(300)
        _wait_for_web(stack, web)
        with stack.database.session() as session:
            rows = session.execute(select(Reader.email, Reader.unsubscribe_token)).all()
            tokens = {email.lower(): token for email, token in rows}
        stack.sink_handler.delay = 0.02
        stack.start("tick")
        stack.start("worker")
        stack.wait(lambda: len(stack.arrivals()) >= 20, PATIENCE)
        leaving = rng.sample(readers, 150)
        answered = {r: _one_click(stack, tokens[r]) for r in leaving}
        stayed = [r for r in readers if r not in answered]
        stack.wait(lambda: all(r in stack.arrivals() for r in stayed), PATIENCE)
        time.sleep(2)  # anything still in flight lands
        row = Row(
            "unsubscribe racing a send",
            "150 one-click unsubscribes during 300 sends",
            "sqlite",
            0,
            0,
            0,
            0,
            0,
            None,
        )
        row = stack.outcome(row, stayed, None)
        arrivals = stack.arrivals()
        late = sum(any(at > answered[r] + 0.5 for at in arrivals.get(r, [])) for r in leaving)
        before = sum(r in arrivals for r in leaving)
        row.notes.append(f"{late} emails went out after their unsubscribe was answered")
        if late:
            row.problems.append("sent after an unsubscribe")
        row.notes.append(f"{before} of the 150 had theirs before they left")
        return row
    finally:
        stack.close()


def _wait_for_web(stack: Stack, web: subprocess.Popen[bytes]) -> None:
    def up() -> bool:
        try:
            url = f"http://127.0.0.1:{stack.web_port}/healthz"
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    assert stack.wait(up, 60) and web.poll() is None, stack.logs()[-2000:]


def _one_click(stack: Stack, token: str) -> float:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.web_port}/u/{token}",
        data=b"List-Unsubscribe=One-Click",
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return time.monotonic()


def backup_during_sign_ups() -> Row:
    """``coursemail db backup`` taken while 300 readers sign up through the form."""
    stack = Stack("sqlite", TRUSTED_PROXIES="1")
    try:
        web = stack.start("web")
        _wait_for_web(stack, web)
        answered: list[int] = []
        signing = threading.Thread(target=_sign_ups, args=(stack, 300, answered))
        signing.start()
        stack.wait(lambda: len(answered) >= 60, PATIENCE)
        target = stack.folder / "backup.db"
        made = subprocess.run(
            [sys.executable, "-m", "workers.cli", "db", "backup", str(target)],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        signing.join(PATIENCE)
        # a stored sign-up answers 303 to the "check your inbox" page (followed: 200)
        return _check_backup(stack, target, made, sum(s in (200, 303) for s in answered))
    finally:
        stack.close()


def _check_backup(
    stack: Stack, target: object, made: subprocess.CompletedProcess[str], ok: int
) -> Row:
    row = Row(
        "backup during sign-ups",
        "coursemail db backup while 300 readers sign up",
        "sqlite",
        ok,
        0,
        0,
        0,
        0,
        None,
    )
    with stack.database.session() as session:
        row.sent = int(session.scalar(select(func.count(Reader.id))) or 0)
    row.lost = row.expected - row.sent
    if made.returncode != 0 or "integrity check: ok" not in made.stdout:
        row.problems.append(f"the backup failed: {made.stdout[-300:]} {made.stderr[-300:]}")
        return row
    copy = Database(f"sqlite:///{target}")
    with copy.session() as session:
        people = int(session.scalar(select(func.count(Reader.id))) or 0)
        consents = int(session.scalar(select(func.count(Consent.id))) or 0)
    copy.dispose()
    printed = re.search(r"([\d,]+) subscribers", made.stdout)
    said = int(printed.group(1).replace(",", "")) if printed else -1
    restored = check_copy(target)["subscribers"]  # type: ignore[arg-type]
    whole = "each with their consent" if consents == people else "SOME WITHOUT CONSENT"
    matches = "match" if said == restored == people else "DO NOT MATCH"
    row.notes.append(
        f"the copy: integrity ok, {people} readers, {whole}; restored counts {matches}"
    )
    if consents != people or not said == restored == people:
        row.problems.append("the copy is not consistent")
    return row


def _sign_ups(stack: Stack, count: int, answered: list[int]) -> None:
    base = f"http://127.0.0.1:{stack.web_port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(base + "/", timeout=10) as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
    assert token is not None
    for n in range(count):
        body = urllib.parse.urlencode(
            {
                "email": f"new{n}@example.test",
                "first_name": "",
                "timezone": "UTC",
                "csrf_token": token.group(1),
            }
        ).encode()
        request = urllib.request.Request(base + "/", data=body, method="POST")
        # each sign-up from its own (loopback) address, as a crowd behind the proxy would be
        request.add_header("X-Forwarded-For", f"127.0.{n // 200}.{n % 200 + 1}")
        try:
            with opener.open(request, timeout=10) as response:
                answered.append(response.status)
        except urllib.error.HTTPError as error:
            answered.append(error.code)
