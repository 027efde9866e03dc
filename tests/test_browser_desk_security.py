"""A desk only she can open, in a real browser: a cookie copied into another browser opens the
desk only until she signs out; the sign-in code is set up from the account page (QR code,
recovery codes) and asked at every sign-in after; the audit log shows each step. Pages are
photographed at 375 and 1280 px (test-output/screenshots/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import shoot
from tests.support.desk import PASSWORD, desk_app
from tests.support.live import LiveServer
from workers.runtime import Runtime

pytestmark = pytest.mark.browser


@pytest.fixture
def served(rt: Runtime) -> Iterator[LiveServer]:
    server = LiveServer(desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD))
    rt.settings = replace(rt.settings, PUBLIC_URL=server.url)
    server.start()
    yield server
    server.stop()


def _sign_in(page: Page, base: str) -> None:
    page.goto(base + "/admin/login")
    page.get_by_label("Name").fill("Lee")  # any case
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def _sign_out(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in to your desk")).to_be_visible()


def test_a_copied_cookie_a_second_factor_and_the_audit_log(
    page: Page, browser: Browser, served: LiveServer, rt: Runtime
) -> None:
    base = served.url
    _sign_in(page, base)
    expect(page.get_by_role("link", name="Your account")).to_be_visible()

    # someone copies the cookie into their own browser: it works until she signs out
    thief = browser.new_context()
    thief.add_cookies(page.context.cookies())
    stolen = thief.new_page()
    stolen.goto(base + "/admin")
    expect(stolen.get_by_role("link", name="Your account")).to_be_visible()
    _sign_out(page)
    stolen.goto(base + "/admin")
    expect(stolen.get_by_label("Password")).to_be_visible()
    thief.close()

    # she turns on the sign-in code from her account page
    _sign_in(page, base)
    page.get_by_role("link", name="Your account").click()
    page.get_by_role("button", name="Set up a sign-in code").click()
    qr = page.get_by_role("img", name="A QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")  # drawn, not its alt
    shoot(page, "desk-code-setup")
    secret = page.locator("code.secret").inner_text()
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).at(rt.clock.now()))
    page.get_by_role("button", name="Turn it on").click()
    codes = page.locator("ul.recovery-codes li")
    expect(codes).to_have_count(10)
    shoot(page, "desk-recovery-codes")

    # from now on the password alone opens nothing
    _sign_out(page)
    _sign_in(page, base)
    expect(page.get_by_role("heading", name="Your sign-in code")).to_be_visible()
    shoot(page, "desk-code-asked")
    page.goto(base + "/admin")
    expect(page.get_by_label("Password")).to_be_visible()
    _sign_in(page, base)
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Open the desk").click()
    expect(page.get_by_role("alert")).to_contain_text("That code does not match")
    rt.clock.advance(timedelta(seconds=30))  # the code that turned it on works only once
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(rt.clock.now()))
    with page.expect_navigation():
        page.get_by_role("button", name="Open the desk").click()
    expect(page.get_by_role("link", name="Your account")).to_be_visible()

    # the audit log tells the story, newest first
    page.goto(base + "/admin/audit")
    rows = page.get_by_role("row")
    said = [re.sub(r"\s+", " ", text) for text in rows.all_inner_texts()]
    story = [line for line in said if "lee" in line]
    for words in (
        "Signed in",
        "A wrong sign-in code",
        "Password right, code asked",
        "Turned on the sign-in code",
        "Signed out",
    ):
        assert any(words in line for line in story), (words, story)
    steps = [line for line in story if "Turned on the sign-in" in line or "A wrong sign-in" in line]
    assert "A wrong sign-in code" in steps[0]  # newest first: the later step is listed first
    page.set_viewport_size({"width": 375, "height": 812})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shoot(page, "desk-audit")
