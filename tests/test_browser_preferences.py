"""The reader's preferences page in a real browser, from the link in their email: every
action end to end (a paused reader gets nothing until resumed; "next now" sends exactly one;
the archive shows exactly the emails received), then the private page behind the link they
ask for (a discreet reader's archive; erase leaves nothing that names them), at 375 px, and
with no serious or critical axe-core violations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from service.store.models import Enrollment, EnrollmentStatus, Reader
from tests.support.browser import serious_violations, shoot
from tests.support.harness import enrolled, tick_and_work
from tests.support.live import LiveServer
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

pytestmark = pytest.mark.browser


def _link_in(smtp_sink: SMTPSink, address: str, path: str) -> str:
    """The link to ``path`` in the latest email to ``address``."""
    body = smtp_sink.messages_to(address)[-1].get_body(("plain",)).get_content()
    found = re.search(rf"https?://\S+{path}\S+", body)
    assert found, body
    return found.group(0)


def _preferences_link(smtp_sink: SMTPSink, address: str) -> str:
    return _link_in(smtp_sink, address, "/preferences/")


def _press(page: Page, name: str) -> None:
    page.get_by_role("button", name=name).click()
    expect(page.get_by_role("status")).to_be_visible()


def test_every_preference_in_a_real_browser(
    page: Page, live: LiveServer, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "ana@example.test", timezone="UTC", first_name="Ana")
    tick_and_work(rt)  # the welcome, with the link in its footer
    page.goto(_preferences_link(smtp_sink, "ana@example.test"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your course, your way")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert serious_violations(page) == []
    shoot(page, "preferences")

    _press(page, "Pause for a week")
    expect(page.get_by_role("status")).to_contain_text("Paused for 7 days")
    tick_and_work(rt)
    assert len(smtp_sink.messages_to("ana@example.test")) == 1  # nothing while paused
    _press(page, "Resume my course now")
    _press(page, "Send me the next email now")
    tick_and_work(rt)
    tick_and_work(rt)
    assert len(smtp_sink.messages_to("ana@example.test")) == 2  # exactly one more
    _press(page, "Slow down (twice as long between emails)")
    expect(page.get_by_text("at the slower pace")).to_be_visible()
    page.get_by_label("The time my emails arrive").select_option("18")
    _press(page, "Save the time")

    page.get_by_role("link", name="Read every email you have received").click()
    headings = page.get_by_role("heading", level=2).all_inner_texts()
    assert headings == [str(m["Subject"]) for m in smtp_sink.messages_to("ana@example.test")]
    assert serious_violations(page) == []
    shoot(page, "preferences-archive")
    page.go_back()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your details").click()
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert data["you_gave"]["email"] == "ana@example.test"
    assert [e["what"] for e in data["your_record"]][-2:] == ["slowed", "hour chosen"]
    assert "private link" in data["about_your_replies"]  # the footer's link gives no words

    _press(page, "Turn discreet mode on")
    expect(page.get_by_text("Discreet mode is on")).to_be_visible()
    expect(page.get_by_role("link", name="Read every email you have received")).to_have_count(0)
    _press(page, "Unsubscribe")
    expect(page.get_by_text("You are not receiving")).to_be_visible()
    expect(page.get_by_role("button", name="Erase my details")).to_have_count(0)

    # what they wrote, the discreet archive and erasing: behind a fresh link to their address
    _press(page, "Email me a private link")
    expect(page.get_by_role("status")).to_contain_text("It works once, for 30 minutes")
    tick_and_work(rt)
    private = _link_in(smtp_sink, "ana@example.test", "/private/")
    page.goto(private)
    shoot(page, "private-link")
    page.get_by_role("button", name="Open my private page").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your private page")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert serious_violations(page) == []
    shoot(page, "private-page")
    page.get_by_role("link", name="Read every email you have received").click()
    assert len(page.get_by_role("heading", level=2).all_inner_texts()) == 2
    page.go_back()
    page.get_by_role("button", name="Erase my details").click()
    expect(page.get_by_role("alert")).to_contain_text("Please tick the box")
    page.get_by_label("I understand this deletes my address, name and replies for good").check()
    page.get_by_role("button", name="Erase my details").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your details are erased")
    shoot(page, "private-erased")
    page.goto(private)  # the link was spent
    expect(page.get_by_role("heading", level=1)).to_have_text("We couldn’t find that page")
    with rt.database.session() as session:
        row = session.get(Reader, reader)
        assert row is not None and row.erased_at is not None and "ana" not in row.email
        status = session.scalar(select(Enrollment.status))
    assert status == EnrollmentStatus.CANCELLED


def test_the_preferences_work_by_keyboard_alone(
    page: Page, live: LiveServer, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "kay@example.test", timezone="UTC")
    tick_and_work(rt)
    page.goto(_preferences_link(smtp_sink, "kay@example.test"))
    for _ in range(30):  # Tab from the top of the page to the first button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Pause for a week":
            break
    else:
        pytest.fail("Tab never reached the pause button")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Paused for 7 days")
    with rt.database.session() as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.PAUSED
