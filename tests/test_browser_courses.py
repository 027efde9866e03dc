"""A second course in a real browser: she makes it on the desk from the blank template, adds
an email to its list, and its own page at /<slug> takes a sign-up. The list of emails and the
new course's page are photographed at 375 and 1280 px and pass axe-core with no serious
violations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import serious_violations, shoot
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


def test_she_makes_a_second_course_and_grows_its_list(page: Page, served: LiveServer) -> None:
    page.goto(served.url + "/admin/login")
    page.get_by_label("Name").fill("lee")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_label("Password").press("Enter")
    page.get_by_role("link", name="Courses", exact=True).click()
    page.get_by_label("Its title").fill("Grief, gently")
    page.get_by_label("Its address").fill("grief")
    page.get_by_role("button", name="Make the course").click()
    expect(page.get_by_role("heading", name="The emails, in the order they arrive")).to_be_visible()
    rows = page.locator("table.email-list tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_role("button", name="Add an email after this one (Step 1)").click()
    expect(
        page.get_by_role("status").filter(has_text="A new email is in your draft")
    ).to_be_visible()
    expect(rows).to_have_count(4)
    page.get_by_label("Days after the one before, for The closing").fill("3")
    page.get_by_role("button", name="Change the wait for The closing").click()
    expect(page.get_by_label("Days after the one before, for The closing")).to_have_value("3")
    assert serious_violations(page) == []
    shoot(page, "desk-email-list")

    page.goto(served.url + "/grief")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Grief, gently")
    assert serious_violations(page) == []
    shoot(page, "second-course-page")
    page.get_by_label("Your email address").fill("ren@example.test")
    page.get_by_role("button", name="Send me the course").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
