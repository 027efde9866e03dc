"""The reader's side on a phone, where the rough edges were found: a typo in an address is
suggested a fix and an error takes the focus; the framed form on a blog grows to fit; the
preferences page speaks of time as a person does and its buttons have room to tap; the
unsubscribe page offers a pause instead. Each at 375 px, photographed in test-output/."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import shoot
from tests.support.desk import PASSWORD, desk_app
from tests.support.harness import enrolled, tick_and_work
from tests.support.live import LiveServer
from tests.support.smtp import SMTPSink
from tests.support.waiting import wait_for
from workers.runtime import Runtime

pytestmark = pytest.mark.browser


def _link(smtp_sink: SMTPSink, address: str, kind: str) -> str:
    body = smtp_sink.messages_to(address)[-1].get_body(("plain",)).get_content()
    found = re.search(rf"https?://\S+/{kind}/[^\s/]+", body)
    assert found, body
    return found.group(0)


def test_a_typo_in_the_address_is_suggested_a_fix_and_an_error_takes_the_focus(
    page: Page, live: LiveServer
) -> None:
    page.goto(live.url + "/")
    address = page.get_by_label("Your email address")
    address.fill("lee@gmial.com")
    address.press("Tab")
    suggestion = page.locator("#email-suggestion")
    expect(suggestion).to_contain_text("Did you mean lee@gmail.com?")
    shoot(page, "signup-typo-suggestion")
    page.get_by_role("button", name="Use it").click()
    expect(address).to_have_value("lee@gmail.com")
    expect(suggestion).to_be_empty()

    # a phone: the page comes back at the top, but the problem takes the focus and is read
    address.fill("lee@gmail")
    page.get_by_role("button", name="Send me the course").click()
    expect(page.get_by_role("alert")).to_contain_text("doesn’t look like a complete email")
    assert page.evaluate("document.activeElement.id") == "email"
    expect(address).to_be_in_viewport()
    expect(suggestion).to_contain_text("Did you mean lee@gmail.com?")
    shoot(page, "signup-error-focus")


@pytest.fixture
def shared(rt: Runtime) -> Iterator[tuple[LiveServer, LiveServer]]:
    """The service with a blog listed in EMBED_ORIGINS, and the blog: a page of its own
    origin holding the framed snippet exactly as the desk's Share page gives it."""
    blog_app = Flask("blog")
    blog_page: dict[str, str] = {}
    blog_app.add_url_rule("/", "index", lambda: blog_page["html"])
    blog = LiveServer(blog_app).start()
    service_app = desk_app(
        rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD, EMBED_ORIGINS=blog.url
    )
    service = LiveServer(service_app)
    rt.settings = replace(rt.settings, PUBLIC_URL=service.url)
    service_app.config["COURSEMAIL"] = rt.settings
    service.start()
    client = service_app.test_client()
    from tests.support.desk import sign_in

    sign_in(client)
    share = client.get("/admin/share").get_data(as_text=True)
    found = re.search(r'<textarea id="framed"[^>]*>(.*?)</textarea>', share, re.S)
    assert found
    snippet = html.unescape(found.group(1))
    blog_page["html"] = f"<!doctype html><title>Lee’s blog</title><h1>Lee’s blog</h1>{snippet}"
    try:
        yield service, blog
    finally:
        blog.stop()
        service.stop()


def test_the_framed_form_grows_to_fit_a_phone(
    browser: Browser, shared: tuple[LiveServer, LiveServer]
) -> None:
    _, blog = shared
    context = browser.new_context(viewport={"width": 375, "height": 812})
    try:
        page = context.new_page()
        page.goto(blog.url, wait_until="networkidle")
        frame = page.locator("#coursemail-form")
        inner = page.frame_locator("#coursemail-form")
        expect(inner.get_by_label("Keep these emails discreet in my inbox")).to_be_attached()
        expect(inner.get_by_text("This course is not therapy")).to_be_attached()

        child = next(f for f in page.frames if f.url.endswith("/embed"))

        def fits() -> bool:
            box = frame.bounding_box()
            content = child.evaluate("document.documentElement.scrollHeight")
            return box is not None and abs(box["height"] - content) <= 2

        wait_for(fits, 10, "the frame to fit its form")
        inner.get_by_role("button", name="Send me the course").scroll_into_view_if_needed()
        expect(inner.get_by_role("button", name="Send me the course")).to_be_in_viewport()
        shoot(page, "embed-on-a-phone")
    finally:
        context.close()


def test_the_preferences_page_speaks_plainly_and_gives_room_to_tap(
    page: Page, live: LiveServer, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "nia@example.test", timezone="America/New_York", first_name="Nia")
    tick_and_work(rt)  # the welcome; step 1 is due the next morning
    page.goto(_link(smtp_sink, "nia@example.test", "preferences"))
    planned = page.get_by_text("Your next email is planned for")
    expect(planned).to_contain_text("8:00 in the morning, New York time")
    assert "UTC" not in page.content() and "America/" not in page.inner_text("main")
    buttons = page.locator("main form button").all()
    boxes = [b.bounding_box() for b in buttons]
    assert len(boxes) >= 4 and all(boxes)
    gaps = [
        later["y"] - (earlier["y"] + earlier["height"])  # type: ignore[index]
        for earlier, later in zip(boxes, boxes[1:], strict=False)
        if later["y"] > earlier["y"]  # type: ignore[index]
    ]
    assert gaps and min(gaps) >= 8, gaps  # never touching: a thumb finds each one
    page.get_by_role("button", name="Pause for a week").click()
    expect(page.get_by_role("status")).to_contain_text("it starts again by itself on")
    assert "UTC" not in page.get_by_role("status").inner_text()
    shoot(page, "preferences-plain-words")


def test_the_unsubscribe_page_offers_a_pause_instead(
    page: Page, live: LiveServer, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "ola@example.test", timezone="UTC")
    tick_and_work(rt)
    page.goto(_link(smtp_sink, "ola@example.test", "u"))
    page.get_by_role("link", name="your preferences page").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your course, your way")
    page.go_back()
    shoot(page, "unsubscribe-offers-a-pause")
    rt.clock.advance(timedelta(minutes=1))
