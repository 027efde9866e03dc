"""Production, rehearsed: the Procfile's processes in production mode behind a real TLS
reverse proxy (nginx, then Caddy, each running the example the README ships), driven by
Chromium over HTTPS. A reader signs up, confirms, uses their preferences page; the therapist
signs in to the desk and pauses them; a second reader signs up on the blog, another HTTPS
origin, through the framed form. Every form must work (over HTTPS, Flask-WTF's Referer
check once answered all of them with 400) and every answer carries HSTS.
"""

from __future__ import annotations

import html
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from service.store.sealing import new_key
from tests.support.env import clean_env, settings_env
from tests.support.proxy import PROXIES, Proxy, start
from tests.support.smtp import SMTPSink, free_port
from tests.support.waiting import wait_for
from workers.runtime import Runtime

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.rehearsal]

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a desk password long enough for production"
READER = "ana@example.com"
BLOG_READER = "ben@example.com"


@pytest.fixture(params=PROXIES)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stack(
    kind: str, rt: Runtime, smtp_sink: SMTPSink, tmp_path: Path
) -> Iterator[tuple[Proxy, Path]]:
    """honcho running the Procfile's web, worker and tick in production, and the proxy."""
    app_port = free_port()
    proxy = start(kind, tmp_path / kind, app_port=app_port, blog_page="(not written yet)")
    try:
        yield from _processes(proxy, rt, smtp_sink, tmp_path, app_port)
    finally:
        proxy.stop()


def _processes(
    proxy: Proxy, rt: Runtime, smtp_sink: SMTPSink, tmp_path: Path, app_port: int
) -> Iterator[tuple[Proxy, Path]]:
    env = settings_env(
        rt.settings,
        COURSEMAIL_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        REPLY_KEY=new_key(),
        PUBLIC_URL=proxy.site,
        TRUSTED_PROXIES="1",
        PORT=str(app_port),
        SMTP_URL=smtp_sink.url,
        MAIL_FROM="course@example.org",
        REPLY_DOMAIN="reply.example.org",
        ADMIN_USERNAME="lee",
        ADMIN_PASSWORD=PASSWORD,
        EMBED_ORIGINS=proxy.blog,
        TICK_INTERVAL="1",
        WORKERS="1",
    )
    env = clean_env(**env)
    honcho = [sys.executable, "-m", "honcho", "-f", str(ROOT / "Procfile"), "-d", str(tmp_path)]
    release = subprocess.run(
        [*honcho, "run", "coursemail", "db", "upgrade"], env=env, capture_output=True, timeout=120
    )
    assert release.returncode == 0, release.stderr.decode()
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        processes = subprocess.Popen(
            [*honcho, "start", "web", "worker", "tick"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proxy, log
    finally:
        processes.send_signal(signal.SIGINT)
        try:
            processes.wait(30)
        except subprocess.TimeoutExpired:
            processes.kill()
            processes.wait(10)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        ignore_https_errors=True,  # the rehearsal's certificate is self-signed
        viewport={"width": 375, "height": 812},
    )
    page = context.new_page()
    refused: list[str] = []

    def _watch(response: Response) -> None:
        if response.status >= 400:
            refused.append(f"{response.status} {response.request.method} {response.url}")

    page.on("response", _watch)
    yield page
    context.close()
    assert refused == [], refused


def _link(sink: SMTPSink, address: str, pattern: str, count: int = 1) -> str:
    wait_for(lambda: len(sink.messages_to(address)) >= count, 60, f"email {count} to {address}")
    message = sink.messages_to(address)[count - 1]
    found = re.search(pattern, message.get_body(("plain",)).get_content())
    assert found, f"no {pattern} in the email to {address}"
    return found.group(0)


def test_the_whole_service_over_https_behind_the_proxy(
    stack: tuple[Proxy, Path], phone: Page, smtp_sink: SMTPSink
) -> None:
    proxy, log = stack
    wait_for(lambda: _up(phone, proxy.site), 60, f"the app behind {proxy.kind}")

    first = phone.goto(proxy.site + "/")
    assert first is not None and first.headers["strict-transport-security"] == "max-age=31536000"
    phone.get_by_label("Your email address").fill(READER)
    phone.get_by_label("Your first name").fill("Ana")
    phone.get_by_role("button", name="Send me the course").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Check your inbox")

    confirm = _link(smtp_sink, READER, re.escape(proxy.site) + r"/confirm/\S+")
    phone.goto(confirm)
    phone.get_by_role("button", name="Yes, start the course").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("You’re in")

    preferences = _link(smtp_sink, READER, re.escape(proxy.site) + r"/preferences/\S+", 2)
    phone.goto(preferences)
    for button, said in (
        ("Pause for a week", "Paused for 7 days"),
        ("Resume my course now", "Resumed"),
        ("Slow down (twice as long between emails)", "Slowed down"),
    ):
        phone.get_by_role("button", name=button).click()
        expect(phone.get_by_role("status")).to_contain_text(said)
    phone.get_by_label("The time my emails arrive").select_option("18")
    phone.get_by_role("button", name="Save the time").click()
    expect(phone.get_by_role("status")).to_contain_text("Done")

    phone.goto(proxy.site + "/admin")
    phone.get_by_label("Name").fill("lee")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_label("Password").press("Enter")
    expect(phone.get_by_role("link", name="Readers")).to_be_visible()
    phone.goto(proxy.site + "/admin/readers?q=ana")
    phone.get_by_role("link", name=re.compile(re.escape(READER))).click()
    phone.get_by_role("link", name="Pause", exact=True).click()
    phone.get_by_role("button", name=re.compile("^Yes")).click()
    expect(phone.get_by_role("status")).to_contain_text("Paused")

    phone.goto(proxy.site + "/admin/share")
    snippet = html.unescape(phone.locator("#framed").input_value())
    assert f'src="{proxy.site}/embed"' in snippet
    (Path(proxy.log).parent / "blog" / "index.html").write_text(
        f"<!doctype html><title>Lee's blog</title><h1>Lee's blog</h1>{snippet}"
    )
    phone.goto(proxy.blog + "/", wait_until="networkidle")
    framed = phone.frame_locator("iframe")
    framed.get_by_label("Your email address").fill(BLOG_READER)
    framed.get_by_role("button", name="Send me the course").click()
    # the framed form's answer opens in the whole window, on the course's own site
    expect(phone.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    assert phone.url.startswith(proxy.site)
    _link(smtp_sink, BLOG_READER, re.escape(proxy.site) + r"/confirm/\S+")

    output = log.read_text()
    for name in ("web", "worker", "tick"):
        assert f"{name}.1 started" in output


def _up(page: Page, site: str) -> bool:
    try:
        answer = page.request.get(site + "/healthz", ignore_https_errors=True)
    except Exception:  # noqa: BLE001 - not listening yet
        return False
    return answer.status == 200
