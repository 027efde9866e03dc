"""The pages in a real browser: Debian's Chromium driven by Playwright, headless."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from playwright.sync_api import (
    Page,
    expect,
)

from tests.support.browser import shoot
from tests.support.harness import tick_and_work, work
from tests.support.live import LiveServer
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

pytestmark = pytest.mark.browser


def _link(smtp_sink: SMTPSink, address: str, pattern: str) -> str:
    for message in reversed(smtp_sink.messages_to(address)):
        match = re.search(pattern, message.get_body(("plain",)).get_content())
        if match:
            return match.group(0)
    raise AssertionError(f"no email to {address} holds {pattern}")


def test_sign_up_confirm_and_unsubscribe_in_a_real_browser(
    page: Page, live: LiveServer, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    page.goto(live.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rebuilding Broken Trust")
    expect(page.locator("#timezone")).to_have_value("Pacific/Auckland")  # filled by our script
    shoot(page, "01-course-page")

    # a field error, shown next to the field and tied to it for screen readers
    page.get_by_role("button", name="Send me the course").click()
    error = page.locator("#email-error")
    expect(error).to_have_text("Please enter your email address.")
    expect(page.get_by_label("Your email address")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Your email address")).to_have_attribute(
        "aria-describedby", "email-error email-suggestion"
    )
    shoot(page, "02-field-error")

    page.get_by_label("Your email address").fill("reader@example.test")
    page.get_by_label("Your first name").fill("Ada")
    page.get_by_role("button", name="Send me the course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    shoot(page, "03-check-inbox")

    with rt.database.session() as session:
        from sqlalchemy import select

        from service.store.models import Reader

        reader = session.scalars(select(Reader)).one()
        assert (reader.email, reader.first_name, reader.timezone) == (
            "reader@example.test",
            "Ada",
            "Pacific/Auckland",
        )

    work(rt)
    confirm_url = _link(smtp_sink, "reader@example.test", re.escape(live.url) + r"/confirm/\S+")
    page.goto(confirm_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("One last step")
    shoot(page, "04-confirm")
    page.get_by_role("button", name="Yes, start the course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You’re in")
    shoot(page, "05-confirmed")

    tick_and_work(rt)  # the welcome email
    unsubscribe_url = _link(smtp_sink, "reader@example.test", re.escape(live.url) + r"/u/\w+")
    page.goto(unsubscribe_url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Unsubscribe from")
    shoot(page, "06-unsubscribe")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You’re unsubscribed")
    shoot(page, "07-unsubscribed")

    with rt.database.session() as session:
        assert session.scalars(select(Reader.status)).one().value == "unsubscribed"


def test_the_page_fits_a_phone_and_errors_are_pages(page: Page, live: LiveServer) -> None:
    page.goto(live.url + "/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways on a phone ({width}px)"
    response = page.goto(live.url + "/no/such/page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We couldn’t find that page")
    shoot(page, "08-not-found")


def test_answering_a_course_email_from_the_mail_catcher(
    page: Page, live: LiveServer, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    from tests.conftest import THERAPIST_TEST_EMAIL
    from tests.support.harness import enrolled

    rt.settings = replace(rt.settings, INBOUND_SMTP_PORT=listener)
    enrolled(rt, "kai@example.test", timezone="Pacific/Auckland", first_name="Kai")
    tick_and_work(rt)
    folder = rt.settings.caught_mail
    folder.mkdir(parents=True)
    (folder / "1.eml").write_bytes(smtp_sink.received[-1].data)

    page.goto(f"{live.url}/dev/mail/1")
    expect(page.frame_locator("iframe.mail-html").get_by_text("Hi Kai,")).to_be_visible()
    page.get_by_label("Your reply").fill("Thank you. I read it twice.")
    shoot(page, "dev-mail-reply")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status")).to_contain_text("Your reply went to the inbound listener")
    work(rt)
    [forward] = smtp_sink.messages_to(THERAPIST_TEST_EMAIL)
    assert forward["Reply-To"] == "Kai <kai@example.test>"
    assert forward.get_body(("plain",)).get_content().startswith("Thank you. I read it twice.")
