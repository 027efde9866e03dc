"""The whole service as real processes: ``coursemail run`` on embedded defaults, and every
Procfile line under honcho. One reader goes through the course in each, at 86400x."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import THERAPIST_TEST_EMAIL
from tests.support.env import clean_env, settings_env
from tests.support.http import Browserless, confirm, sign_up_and_confirm_link
from tests.support.mail import reply_address, reply_to, send
from tests.support.procs import processes_with
from tests.support.smtp import SMTPSink, free_port
from tests.support.waiting import wait_for
from workers.runtime import Runtime

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
COURSE_EMAILS = 8


@pytest.fixture
def stop_later() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:  # a failed test still leaves nothing running
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_make_run_starts_everything_and_ctrl_c_stops_everything(
    tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    instance = tmp_path / "instance"
    port = free_port()
    env = clean_env(
        COURSEMAIL_INSTANCE=str(instance),
        PORT=str(port),
        INBOUND_SMTP_PORT=str(free_port()),
        COURSEMAIL_TIME_SCALE="86400",
        TICK_INTERVAL="1",
    )
    log = (tmp_path / "run.log").open("wb")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "run"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()  # the child has its own copy
    stop_later.append(launcher)
    client = Browserless(f"http://127.0.0.1:{port}")
    client.wait_until_up()

    status, inbox = client.get("/dev/mail")
    assert status == 200 and "No mail yet" in inbox
    sign_up_and_confirm_link(client, "ada@example.test")

    def mail_list() -> list[tuple[str, str]]:
        return re.findall(r'<a href="(/dev/mail/\d+)">([^<]+)</a>', client.get("/dev/mail")[1])

    wait_for(lambda: len(mail_list()) == 1, 30, "the confirmation in the mail catcher")
    (path, subject) = mail_list()[0]
    assert subject == "Please confirm: Rebuilding Broken Trust"
    _, message_page = client.get(path)
    link = re.search(rf"http://127\.0\.0\.1:{port}(/confirm/[^\s<]+)", message_page)
    assert link, message_page
    assert client.get(path + "/html")[0] == 200
    confirm(client, link.group(1))

    wait_for(lambda: len(mail_list()) == 1 + COURSE_EMAILS, 120, "the whole course")
    subjects = [s for _, s in reversed(mail_list())]
    assert subjects[1].startswith("Welcome") and subjects[-1] == "Where to go from here"

    # the reader answers the welcome email; the forward reaches the therapist's (caught) inbox
    welcome_page = [p for p, s in mail_list() if s.startswith("Welcome")][0]
    status, _ = client.post(
        welcome_page + "/reply",
        {
            "text": "Thank you, this came at the right time.",
            "csrf_token": client.csrf(welcome_page),
        },
    )
    assert status == 200
    wait_for(lambda: len(mail_list()) == 2 + COURSE_EMAILS, 30, "the notice to the therapist")
    notice_path, notice_subject = mail_list()[0]
    assert html.unescape(notice_subject) == 'Ada replied to "' + subjects[1] + '"'
    notice = client.get(notice_path)[1]
    assert "/admin/replies/" in notice  # read and answered on the desk...
    assert "Thank you, this came at the right time." not in notice  # ...never in her inbox

    marker = f"COURSEMAIL_INSTANCE={instance}"
    assert len(processes_with(marker)) >= 6  # web (+2 workers), worker, tick, inbound, mail
    redis_sock = instance / "redis.sock"
    assert redis_sock.exists()

    launcher.send_signal(signal.SIGINT)  # what Ctrl-C does
    assert launcher.wait(60) is not None
    wait_for(lambda: processes_with(marker) == [], 15, "every child to exit")
    output = (tmp_path / "run.log").read_text()
    assert "Course page:    http://127.0.0.1:" in output and "/dev/mail" in output
    for name in ("web", "worker", "tick", "inbound", "mail"):
        assert re.search(rf"^\S+ {name}\s+\|", output, re.M), f"no log lines from {name}"


def test_each_procfile_line_runs_under_honcho(
    rt: Runtime, smtp_sink: SMTPSink, tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    port, inbound_port = free_port(), free_port()
    env = clean_env(
        **settings_env(
            rt.settings,
            SMTP_URL=smtp_sink.url,
            PORT=str(port),
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            INBOUND_SMTP_PORT=str(inbound_port),
            COURSEMAIL_TIME_SCALE="86400",
            TICK_INTERVAL="1",
        )
    )
    honcho = [sys.executable, "-m", "honcho", "-f", str(ROOT / "Procfile"), "-d", str(tmp_path)]
    release = subprocess.run(
        [*honcho, "run", "coursemail", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert release.returncode == 0, release.stderr.decode()
    assert b"Database is up to date" in release.stdout

    log = (tmp_path / "honcho.log").open("wb")
    started = subprocess.Popen(
        [*honcho, "start", "web", "worker", "tick", "inbound"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    stop_later.append(started)
    client = Browserless(f"http://127.0.0.1:{port}")
    client.wait_until_up()
    sign_up_and_confirm_link(client, "ada@example.test")
    wait_for(lambda: len(smtp_sink.received) == 1, 30, "the confirmation email")
    text = smtp_sink.received[0].message.get_body(("plain",)).get_content()
    link = re.search(rf"http://127\.0\.0\.1:{port}(/confirm/\S+)", text)
    assert link, text
    confirm(client, link.group(1))
    wait_for(lambda: len(smtp_sink.received) == 1 + COURSE_EMAILS, 120, "the whole course")

    # a reply to the welcome email, over SMTP into the inbound process, reaches the therapist
    welcome = smtp_sink.received[1].message
    data = reply_to(welcome, "Reading this on the train. Thank you.", sender="ada@example.test")
    assert send(inbound_port, "ada@example.test", [reply_address(welcome)], data) == {}
    wait_for(lambda: smtp_sink.messages_to(THERAPIST_TEST_EMAIL) != [], 30, "the forward")
    [forward] = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    assert forward["Reply-To"] == "Ada <ada@example.test>"

    started.send_signal(signal.SIGINT)
    assert started.wait(60) is not None
    output = (tmp_path / "honcho.log").read_text()
    for name in ("web", "worker", "tick", "inbound"):
        assert f"{name}.1 started" in output


def test_the_launcher_starts_redis_and_a_catcher_only_when_they_are_not_configured(
    tmp_path: Path,
) -> None:
    from service.settings import Settings
    from workers.launcher import make_plan

    settings = Settings.from_env(environ={"COURSEMAIL_INSTANCE": str(tmp_path)})
    bare = make_plan(settings, {})
    assert bare.private_redis and bare.catcher_port is not None
    assert set(bare.processes) == {"web", "worker", "tick", "inbound", "mail"}
    assert bare.env["SMTP_URL"] == f"smtp://127.0.0.1:{bare.catcher_port}"
    assert "--no-control-socket" in bare.processes["web"]

    configured = make_plan(
        settings, {"REDIS_URL": "redis://127.0.0.1:6379/3", "SMTP_URL": "smtp://relay:25"}
    )
    assert not configured.private_redis and configured.catcher_port is None
    assert "mail" not in configured.processes and configured.env == {}


def test_a_busy_port_or_bad_setting_stops_the_launcher_with_a_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [sys.executable, "-m", "workers.cli", "run"],
            env=clean_env(COURSEMAIL_INSTANCE=str(tmp_path), PORT=str(port)),
            capture_output=True,
            timeout=60,
        )
    assert busy.returncode == 2
    assert f"port {port} is already in use" in busy.stderr.decode()
    bad = subprocess.run(
        [sys.executable, "-m", "workers.cli", "run"],
        env=clean_env(COURSEMAIL_INSTANCE=str(tmp_path), TICK_INTERVAL="often"),
        capture_output=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "TICK_INTERVAL must be a number" in bad.stderr.decode()
    assert "Traceback" not in bad.stderr.decode()
