"""The course says plainly what it is (issue 13): every number of emails or steps it
promises matches the course file, every email and page has a language, the course says it is
not therapy and where to find help, the reply invitation is made once in the author's own
voice, quotes are curly throughout, the phone link works from abroad, the blog is linked when
set, and a post named without an address is flagged at production start-up."""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from emails.course import default_course
from emails.render import Renderer, tel_number
from service.context import contact_for, course_warnings
from service.settings import Settings
from service.web import create_app
from service.web.signup import consent_text
from tests.support.env import PRODUCTION, settings_env
from workers.runtime import Runtime

COURSE = default_course()
WORDS = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
}
PROMISE = re.compile(
    r"\b(\d+|" + "|".join(WORDS) + r")\s+(more\s+|short\s+)?(emails|steps)\b", re.I
)


def _number(word: str) -> int:
    return int(word) if word.isdigit() else WORDS[word.lower()]


def _check_promises(text: str, where: str) -> int:
    """Every "N emails", "N more emails" and "N steps" in ``text`` is true; returns how many
    promises were checked."""
    found = 0
    for number, qualifier, noun in PROMISE.findall(text):
        n, more = _number(number), (qualifier or "").strip().lower() == "more"
        if noun.lower() == "steps":
            expected = len(COURSE.lesson_steps)
        else:
            expected = len(COURSE.steps) - 1 if more else len(COURSE.steps)
        assert n == expected, f"{where}: “{number} {qualifier}{noun}” but the course has {expected}"
        found += 1
    return found


@pytest.fixture
def renderer(rt: Runtime) -> Renderer:
    return Renderer(COURSE, rt.contact())


def _emails(renderer: Renderer) -> list[tuple[str, str, str]]:
    out = []
    for step in COURSE.steps:
        r = renderer.render_step(step.index, first_name="Sam", unsubscribe_url="https://x.test/u")
        out.append((f"email {step.index}", r.text, r.html))
    c = renderer.render_confirmation(first_name="Sam", confirm_url="https://x.test/c")
    out.append(("the confirmation", c.text, c.html))
    return out


def test_every_number_the_course_promises_is_true(renderer: Renderer, client: FlaskClient) -> None:
    checked = sum(_check_promises(text, where) for where, text, _ in _emails(renderer))
    page = re.sub(r"<[^>]+>", " ", client.get("/").get_data(as_text=True))
    checked += _check_promises(page, "the course page")
    checked += _check_promises(consent_text(), "the consent words")
    assert checked >= 3  # the welcome's emails and steps, and the consent words
    with pytest.raises(AssertionError, match="the course has 7"):
        _check_promises("I'll send you six more emails", "a wrong promise")


def test_every_email_and_page_says_its_language(renderer: Renderer, client: FlaskClient) -> None:
    for where, _, html in _emails(renderer):
        assert f'<html lang="{COURSE.language}"' in html, where
    for path in ("/", "/check-your-inbox", "/embed", "/admin/login", "/no-such-page"):
        page = client.get(path).get_data(as_text=True)
        assert re.search(r'<html lang="[a-zA-Z-]+"', page), path


def test_the_course_says_it_is_not_therapy_and_where_to_find_help(
    renderer: Renderer, client: FlaskClient
) -> None:
    welcome = renderer.render_step(0, first_name="Sam", unsubscribe_url="https://x.test/u")
    for where, text in (
        ("welcome", welcome.text),
        ("page", client.get("/").get_data(as_text=True)),
    ):
        assert "not therapy" in text and "emergency service" in text, where
        assert "988" in text and "911" in text and "findahelpline.com" in text, where


def test_a_reader_afraid_of_their_partner_is_told_where_to_turn(
    renderer: Renderer, client: FlaskClient
) -> None:
    """The course asks the one who broke trust to open up: not a step for someone who is
    afraid of them. The course page, the welcome and step 2 say so, with the hotline."""
    sentence = "If you are afraid of your partner, these steps are not for now."
    page = client.get("/").get_data(as_text=True)
    for where, rendered in (
        ("welcome", renderer.render_step(0, first_name="Sam", unsubscribe_url="https://x.test/u")),
        ("step 2", renderer.render_step(2, first_name="Sam", unsubscribe_url="https://x.test/u")),
    ):
        text = " ".join(rendered.text.split())
        assert sentence in text and "1-800-799-7233" in text and "88788" in text, where
        assert "(tel:" not in text and "(sms:" not in text, where  # plain words in text
        for link in ('href="tel:+18007997233"', 'href="sms:88788?&amp;body=START"'):
            assert link in rendered.html, (where, link)
    assert (
        'href="tel:988"'
        in renderer.render_step(0, first_name="Sam", unsubscribe_url="https://x.test/u").html
    )
    assert sentence in " ".join(page.split()) and 'href="tel:+18007997233"' in page


def test_the_course_page_speaks_to_both_sides() -> None:
    assert "whether you were the one who was hurt or the one who caused the hurt" in (
        COURSE.description
    )


def test_the_reply_invitation_is_made_once_in_one_voice(renderer: Renderer) -> None:
    for where, text, _ in _emails(renderer):
        footer = text.rsplit("\n--\n", 1)[-1]
        assert "reply" not in footer.lower(), where  # the letter asks; the footer does not
        assert "one click" not in text, where  # the link opens a page with a button
    welcome = _emails(renderer)[0][1]
    assert welcome.count("I read every reply myself") == 1
    closing = _emails(renderer)[len(COURSE.steps) - 1][1]
    assert closing.count("I would love") == 1


def test_quotes_are_curly_in_every_course_email(renderer: Renderer) -> None:
    for where, text, _ in _emails(renderer):
        prose = re.sub(r"https?://\S+", "", text)
        assert "'" not in prose and '"' not in prose, where


def test_a_numbered_step_says_which_it_is_in_its_body(renderer: Renderer) -> None:
    for n, step in enumerate(COURSE.lesson_steps, start=1):
        r = renderer.render_step(step.index, first_name="Sam", unsubscribe_url="https://x.test/u")
        label = f"Step {n} of {len(COURSE.lesson_steps)}"
        assert r.text.startswith(label) and label in r.html


def test_the_phone_link_carries_the_country_code(renderer: Renderer) -> None:
    closing = renderer.render_step(len(COURSE.steps) - 1, first_name=None, unsubscribe_url="u")
    assert 'href="tel:+13106140323"' in closing.html
    assert tel_number("+44 20 7946 0000", "+1") == "+442079460000"
    assert tel_number("(310) 614-0323", "") == "3106140323"


def test_the_blog_is_linked_in_the_closing_and_footer_when_set(rt: Runtime) -> None:
    plain = Renderer(COURSE, rt.contact())
    closing = len(COURSE.steps) - 1
    assert "website" not in plain.render_step(closing, first_name=None, unsubscribe_url="u").text
    rt.settings = replace(rt.settings, BLOG_URL="https://leemiller.example/")
    blogged = Renderer(COURSE, rt.contact())
    last = blogged.render_step(closing, first_name=None, unsubscribe_url="u")
    assert 'more of my writing at <a href="https://leemiller.example/">leemiller.example</a>' in (
        " ".join(last.html.split())
    )
    assert "more of my writing at https://leemiller.example/" in " ".join(last.text.split())
    first = blogged.render_step(1, first_name=None, unsubscribe_url="u")
    assert 'href="https://leemiller.example/">Lee Miller’s website</a>' in first.html


def test_a_post_named_without_an_address_is_flagged_at_production_start(
    rt: Runtime, caplog: pytest.LogCaptureFixture, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    production = {**settings_env(rt.settings), **PRODUCTION, "REPLY_MODE": "direct"}
    with caplog.at_level(logging.WARNING, logger="coursemail.web"):
        create_app(production)
    assert any("FORGIVENESS_POST_URL" in r.getMessage() for r in caplog.records)
    linked = Settings.from_env({**production, "FORGIVENESS_POST_URL": "https://x.example/f"})
    assert course_warnings(linked, COURSE) == []
    assert contact_for(linked, COURSE).forgiveness_post_url == "https://x.example/f"
    development = Settings.from_env(settings_env(rt.settings))
    assert course_warnings(development, COURSE) == []
