"""The course editor in a real browser, as the therapist uses it: she fixes a word in Step 4
while one reader is between Step 3 and Step 4 and another has had Step 4 already. The draft
saves itself as she types, the preview (rendered by the server, as sent) shows the change,
a check's problem appears by its field, and Publish shows the rule first. The first reader's
Step 4 carries the fix; the other gets nothing new. The editor is photographed at 375 and
1280 px and passes axe-core with no serious violations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import serious_violations, shoot
from tests.support.desk import PASSWORD, desk_app
from tests.support.harness import enrolled, run_course
from tests.support.live import LiveServer
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

pytestmark = pytest.mark.browser


@pytest.fixture
def served(rt: Runtime) -> Iterator[LiveServer]:
    server = LiveServer(desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD))
    rt.settings = replace(rt.settings, PUBLIC_URL=server.url)
    server.start()
    yield server
    server.stop()


def _subjects(sink: SMTPSink, address: str) -> list[str]:
    return [str(m["Subject"]) for m in sink.messages_to(address)]


def test_she_fixes_a_word_in_step_4_between_two_readers(
    page: Page, served: LiveServer, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "ahead@example.test", timezone="UTC")
    run_course(rt, days=2)
    enrolled(rt, "behind@example.test", timezone="UTC")
    run_course(rt, days=6)  # ahead has had Step 4; behind is between Step 3 and Step 4
    assert "Step 4 of 6: What do you each need?" in _subjects(smtp_sink, "ahead@example.test")
    assert len(_subjects(smtp_sink, "behind@example.test")) == 4
    ahead_before = len(_subjects(smtp_sink, "ahead@example.test"))

    page.goto(served.url + "/admin/login")
    page.get_by_label("Name").fill("lee")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_label("Password").press("Enter")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_role("link", name=re.compile("Step 4: Step 4 of 6")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Step 4")

    # a mistake first: the check's problem appears by itself, no button pressed
    body = page.get_by_label("The email")
    body.press("End")
    body.press("Control+End")
    body.type("\n\nSee you, {{ nickname }}")
    expect(page.locator("#problems")).to_contain_text("nickname")
    expect(page.get_by_role("status").filter(has_text="Draft saved")).to_be_visible()
    text = body.input_value().replace("\n\nSee you, {{ nickname }}", "")
    body.fill(text)
    expect(page.locator("#problems")).to_be_empty()

    subject = page.get_by_label("Subject", exact=True)
    subject.fill("Step 4 of 6: What do you both need?")
    body.fill(body.input_value().replace("talk through together", "talk through, together"))
    expect(page.get_by_role("status").filter(has_text="Draft saved")).to_be_visible()
    preview = page.frame_locator("iframe.phone")
    expect(preview.get_by_text("talk through, together")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, "desk-editor")

    page.get_by_role("link", name="Review and publish").first.click()
    expect(page.get_by_text("Your draft changes words only")).to_be_visible()
    expect(page.locator("ins", has_text="both")).to_be_visible()
    assert serious_violations(page) == []
    shoot(page, "desk-publish")
    page.get_by_label("A note for the versions list").fill("a word in Step 4")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Versions of the course")
    expect(page.get_by_role("cell", name="a word in Step 4")).to_be_visible()
    shoot(page, "desk-versions")

    run_course(rt, days=30)
    behind = _subjects(smtp_sink, "behind@example.test")
    assert "Step 4 of 6: What do you both need?" in behind
    assert not any("each need" in s for s in behind) and len(behind) == len(set(behind)) == 8
    (step_4,) = [
        m for m in smtp_sink.messages_to("behind@example.test") if "both need" in m["Subject"]
    ]
    assert "talk through, together" in step_4.get_body(("plain",)).get_content()
    ahead = _subjects(smtp_sink, "ahead@example.test")
    assert len(ahead) == len(set(ahead)) == 8 and ahead_before <= 8
    assert "Step 4 of 6: What do you both need?" not in ahead  # had it: nothing new
