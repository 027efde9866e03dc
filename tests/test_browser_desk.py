"""The therapist's desk in a real browser (Debian's Chromium through Playwright), as the
therapist uses it: signing in (good, wrong, too often), the overview after a fast course,
search, a reader's timeline and every action, replies with an urgent one, the course preview
and a test send, and the sign-up form on a blog served from another loopback port (accepted)
and on a site that is not listed (refused). Every desk page is photographed at 375 and
1280 px (test-output/screenshots/) and must fit a phone without sideways scrolling."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from service.store.models import Enrollment, EnrollmentStatus, Reader
from tests.support.browser import shoot
from tests.support.desk import PASSWORD, desk_app
from tests.support.harness import enrolled, run_course, tick_and_work, work
from tests.support.live import LiveServer
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

pytestmark = pytest.mark.browser

SNIPPET = """<!doctype html><html lang="en"><head><title>{title}</title></head><body>
<h1>{title}</h1>
<form method="post" action="{service}/embed">
  <label for="e">Email</label><input id="e" name="email" type="email">
  <button type="submit">Join from the blog</button>
</form>
<iframe src="{service}/embed" title="Sign up" width="400" height="520"></iframe>
</body></html>"""


class Site:
    """A page on another loopback port, as the therapist's blog (or a stranger's site),
    holding both snippets the Share page gives, pointed at ``service``."""

    def __init__(self, title: str, service: str = "") -> None:
        self.service = service
        app = Flask(title)
        app.add_url_rule("/", "index", lambda: SNIPPET.format(title=title, service=self.service))
        self.server = LiveServer(app)

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def blog() -> Iterator[Site]:
    site = Site("A blog")
    yield site
    site.server.stop()


@pytest.fixture
def served(rt: Runtime, blog: Site) -> Iterator[LiveServer]:
    """The desk app (with the blog listed in EMBED_ORIGINS) on a free loopback port."""
    app = desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD, EMBED_ORIGINS=blog.url)
    server = LiveServer(app)
    rt.settings = replace(rt.settings, PUBLIC_URL=server.url)
    blog.service = server.url
    server.start()
    yield server
    server.stop()


def _sign_in(page: Page, base: str, password: str = PASSWORD) -> None:
    page.goto(base + "/admin/login")
    page.get_by_label("Name").fill("lee")
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_label("Password").press("Enter")  # the keyboard alone signs in


def _fits_a_phone(page: Page) -> None:
    page.set_viewport_size({"width": 375, "height": 812})
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 375, f"{page.url} scrolls sideways at 375 px ({wide} px wide)"


def _visit(page: Page, url: str, name: str) -> None:
    page.goto(url)
    _fits_a_phone(page)
    shoot(page, name)


def test_signing_in_good_wrong_and_too_often(page: Page, served: LiveServer) -> None:
    _sign_in(page, served.url, "wrong")
    expect(page.get_by_role("alert")).to_have_text("That name and password do not match.")
    shoot(page, "desk-login")
    for _ in range(4):
        _sign_in(page, served.url, "wrong")
    _sign_in(page, served.url, "wrong")  # the sixth in a minute
    expect(page.get_by_role("heading", level=1)).to_have_text("Let’s slow down a little")


def test_the_desk_after_a_fast_course(
    page: Page, served: LiveServer, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    _sign_in(page, served.url)
    expect(page.get_by_role("heading", name="Nobody has signed up yet")).to_be_visible()
    shoot(page, "desk-overview-empty")
    for n, zone in enumerate(("UTC", "Asia/Kolkata", "America/Los_Angeles")):
        enrolled(rt, f"reader{n}@example.test", timezone=zone, first_name=f"Reader{n}")
    run_course(rt)
    welcome = smtp_sink.messages_to("reader1@example.test")[0]
    data = reply_to(welcome, "I can’t go on, I want to die.", sender="reader1@example.test")
    assert send(listener, "reader1@example.test", [reply_address(welcome)], data) == {}
    work(rt)
    tick_and_work(rt)

    # weeks passed on the app's clock: the desk's session ended after 12 idle hours
    page.goto(served.url + "/admin")
    expect(page.get_by_label("Password")).to_be_visible()
    _sign_in(page, served.url)
    _visit(page, served.url + "/admin", "desk-overview")
    table = page.get_by_role("table", name="Readers at each stage")
    expect(table.get_by_role("row", name="Signed up 3")).to_be_visible()
    expect(table.get_by_role("row", name="Replied 1")).to_be_visible()
    page.get_by_role("link", name="Readers").click()
    page.get_by_label("Address or name").fill("reader2")
    page.get_by_label("Address or name").press("Enter")
    expect(page.get_by_role("link", name=re.compile("reader2@example.test"))).to_be_visible()
    expect(page.get_by_text("reader0@example.test")).to_have_count(0)
    shoot(page, "desk-readers")

    page.get_by_role("link", name="Replies").first.click()
    expect(page.get_by_text("URGENT").first).to_be_visible()
    page.get_by_role("link", name="Show urgent replies only").click()
    _fits_a_phone(page)
    shoot(page, "desk-replies")
    page.get_by_role("link", name=re.compile("Reader1")).click()
    page.get_by_role("button", name="Mark handled").click()
    expect(page.get_by_text("You marked this handled")).to_be_visible()
    _fits_a_phone(page)
    shoot(page, "desk-reply")
    _visit(page, served.url + "/admin/emails?state=due", "desk-emails")


def _reader_page(page: Page, base: str, address: str) -> None:
    page.goto(base + "/admin/readers?q=" + address)
    page.get_by_role("link", name=re.compile(re.escape(address))).click()


def _do(page: Page, action: str, button: str) -> None:
    page.get_by_role("link", name=action, exact=True).click()
    page.get_by_role("button", name=button).click()


def test_every_action_on_a_reader(
    page: Page, served: LiveServer, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    for name in ("pia", "ned", "una", "eva"):
        enrolled(rt, f"{name}@example.test", timezone="UTC", first_name=name.title())
    tick_and_work(rt)  # four welcomes
    _sign_in(page, served.url)

    _reader_page(page, served.url, "pia@example.test")
    _fits_a_phone(page)
    shoot(page, "desk-reader")
    page.get_by_role("link", name="Pause", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pause their course?")
    _fits_a_phone(page)
    shoot(page, "desk-confirm")
    page.get_by_role("button", name="Yes, pause their course").click()
    expect(page.get_by_role("status")).to_contain_text("Paused")
    _do(page, "Resume", "Yes, resume their course")
    expect(page.get_by_text("Course resumed")).to_be_visible()

    _reader_page(page, served.url, "ned@example.test")
    _do(page, "Send the next email now", "Yes, send their next email now")
    tick_and_work(rt)
    tick_and_work(rt)
    assert len(smtp_sink.messages_to("ned@example.test")) == 2  # exactly one more
    page.reload()
    page.get_by_role("link", name="Send again").first.click()
    page.get_by_role("button", name="Yes, send this email again").click()
    expect(page.get_by_role("status")).to_contain_text("On its way again")
    work(rt)
    assert len(smtp_sink.messages_to("ned@example.test")) == 3

    _reader_page(page, served.url, "una@example.test")
    _do(page, "Unsubscribe", "Yes, unsubscribe them")
    expect(page.get_by_text("Unsubscribed for them")).to_be_visible()

    _reader_page(page, served.url, "eva@example.test")
    _do(page, "Erase their data", "Yes, erase their data")
    expect(page.get_by_text("Their data was erased").first).to_be_visible()
    expect(page.get_by_text("eva@example.test")).to_have_count(0)

    run_course(rt)
    with rt.database.session() as session:
        statuses = dict(
            session.execute(
                select(Reader.first_name, Enrollment.status).join(
                    Enrollment, Enrollment.reader_id == Reader.id
                )
            ).all()
        )
    assert statuses["Pia"] == EnrollmentStatus.COMPLETED  # paused, resumed, finished
    assert statuses["Una"] == EnrollmentStatus.CANCELLED
    assert len(smtp_sink.messages_to("una@example.test")) == 1
    assert len(smtp_sink.messages_to("eva@example.test")) == 1


def test_the_course_preview_and_a_test_send(
    page: Page, served: LiveServer, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    _sign_in(page, served.url)
    _visit(page, served.url + "/admin/course", "desk-course")
    page.get_by_label("The reader’s time zone").fill("Pacific/Chatham")
    page.get_by_role("button", name="Show the schedule").click()
    expect(
        page.get_by_role("table", name="The course for a reader in Pacific/Chatham")
    ).to_be_visible()
    page.get_by_role("link", name=re.compile("Step 3")).click()
    for frame in ("iframe.phone", "iframe.desktop"):
        expect(page.frame_locator(frame).get_by_text("Hi Sam")).to_be_visible()
    _fits_a_phone(page)
    shoot(page, "desk-course-email")
    page.get_by_label("Send me a test at").fill("lee@example.test")
    page.get_by_role("button", name="Send me a test").click()
    expect(page.get_by_role("status")).to_contain_text("on its way")
    work(rt)
    [test] = smtp_sink.messages_to("lee@example.test")
    assert test["Subject"].startswith("[TEST] Step 3")


def test_the_form_on_the_blog_and_on_a_stranger_site(
    browser: Browser, page: Page, served: LiveServer, blog: Site, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    service = served.url
    stranger = Site("A stranger", service)
    blog.server.start()
    stranger.server.start()
    try:
        _sign_in(page, service)
        _visit(page, service + "/admin/share", "desk-share")
        _visit(page, service + "/embed", "embed-form")
        page.goto(blog.url, wait_until="networkidle")  # the framed form's files, all served
        page.get_by_label("Email").fill("blogreader@example.test")
        page.get_by_role("button", name="Join from the blog").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
        assert page.url.startswith(service)

        page.goto(blog.url, wait_until="networkidle")  # the framed form's files, all served
        framed = page.frame_locator("iframe")
        framed.get_by_label("Your email address").fill("framereader@example.test")
        framed.get_by_role("button", name="Send me the course").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
        work(rt)
        assert smtp_sink.messages_to("blogreader@example.test")
        assert smtp_sink.messages_to("framereader@example.test")
    finally:
        blog.server.stop()  # (the fixture's stop after this one only closes what is left)
    # a site that is not listed, in a page of its own (its refusals are what we look for)
    context = browser.new_context()
    other = context.new_page()
    console: list[str] = []
    other.on("console", lambda message: console.append(message.text))
    try:
        other.goto(stranger.url, wait_until="networkidle")
        other.get_by_label("Email").fill("stranger@example.test")
        with other.expect_response(lambda r: r.url.endswith("/embed")) as answer:
            other.get_by_role("button", name="Join from the blog").click()
        assert answer.value.status == 403
        refused = other.get_by_role("heading", level=1)
        expect(refused).to_have_text("This form can’t be sent from here")
        # and its frame of the form was refused by the browser itself
        assert any("frame-ancestors" in text for text in console), console
        other.wait_for_load_state("networkidle")  # nothing in flight when the page closes
    finally:
        context.close()
        stranger.server.stop()
    with rt.database.session() as session:
        emails = set(session.scalars(select(Reader.email)))
    assert emails == {"blogreader@example.test", "framereader@example.test"}


def test_without_a_password_the_desk_says_how_to_open_it(page: Page, live: LiveServer) -> None:
    answer = page.goto(live.url + "/admin")
    assert answer is not None and answer.status == 503
    expect(page.get_by_text("ADMIN_PASSWORD").first).to_be_visible()
    _fits_a_phone(page)
    shoot(page, "desk-closed")
