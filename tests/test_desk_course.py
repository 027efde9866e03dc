"""The desk's course page (each email as a reader gets it, its schedule in any time zone with
daylight saving, a [TEST] send that is nobody's delivery), the Share page, and the embeddable
sign-up form: accepted from the listed sites by an exact origin check, refused from others."""

from __future__ import annotations

import html
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from emails.course import default_course
from service.settings import ConfigError, Settings
from service.store.models import Consent, Delivery, Reader
from tests.support.desk import PASSWORD, desk_app, sign_in, token
from tests.support.harness import work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

BLOG = "http://127.0.0.1:8765"


def test_every_email_is_shown_as_a_reader_gets_it(desk: FlaskClient) -> None:
    sign_in(desk)
    listing = desk.get("/admin/course").get_data(as_text=True)
    links = re.findall(r'href="(/admin/course/(?:confirmation|\d+))"', listing)
    assert len(links) == len(default_course().steps) + 1
    for link in links:
        page = desk.get(link).get_data(as_text=True)
        assert "Subject" in page and "Preview line" in page and "Message-ID" in page
        assert f'src="{link}/html"' in page and "sandbox" in page
        framed = desk.get(link + "/html")
        assert framed.status_code == 200 and "<html" in framed.get_data(as_text=True)
        policy = framed.headers["Content-Security-Policy"]
        assert policy.startswith("sandbox;") and "frame-ancestors 'self'" in policy
        assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    welcome = desk.get("/admin/course/0").get_data(as_text=True)
    assert "Sam" in welcome and "List-Unsubscribe" in welcome
    assert desk.get("/admin/course/99").status_code == 404
    assert desk.get("/admin/course/x").status_code == 404


def test_the_schedule_follows_the_readers_clock_across_daylight_saving(
    desk: FlaskClient,
) -> None:
    sign_in(desk)
    # a Los Angeles reader signing up on the evening before the March change
    page = desk.get("/admin/course?zone=America/Los_Angeles&signed_up=2027-03-12T21:30").get_data(
        as_text=True
    )
    rows = re.findall(
        r"<td>(\w{3} \d\d \w{3} \d{4}), (\d\d:\d\d) (\w+)</td>\s*<td>([^<]+)</td>", page
    )
    assert len(rows) == len(default_course().steps) + 1
    hours = [(local_time, zone) for _, local_time, zone, _ in rows[2:]]
    assert all(t == f"{default_course().send_hour:02d}:00" for t, _ in hours), hours
    # the change is on Sunday 14 March 2027: the step before it in PST, the rest in PDT
    assert [zone for _, zone in hours] == ["PST"] + ["PDT"] * (len(hours) - 1)
    # the therapist's own column, in THERAPIST_TIMEZONE (the course's, Los Angeles, here)
    theirs = [u for *_, u in rows[2:]]
    assert all(u.endswith(("08:00 PST", "08:00 PDT")) for u in theirs), theirs
    # Kolkata has no daylight saving and a half-hour offset
    page = desk.get("/admin/course?zone=Asia/Kolkata&signed_up=2027-03-12T21:30").get_data(
        as_text=True
    )
    assert "IST" in page and "19:30 PDT" in page  # 08:00 in Kolkata is 02:30 UTC
    wrong = desk.get("/admin/course?zone=Mars/Olympus").get_data(as_text=True)
    assert "not a time zone we know" in wrong
    odd = desk.get("/admin/course?signed_up=yesterday").get_data(as_text=True)
    assert "should look like" in odd


def test_a_test_email_arrives_marked_and_is_nobodys_delivery(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    sign_in(desk)
    for which in ("2", "confirmation"):
        path = f"/admin/course/{which}"
        answer = desk.post(
            path + "/test", data={"csrf_token": token(desk, path), "to": "lee@example.test"}
        )
        assert answer.status_code == 303
        assert "on its way" in desk.get(path).get_data(as_text=True)
    work(rt)
    [step, confirmation] = smtp_sink.messages_to("lee@example.test")
    shown = re.search(
        r"<dt>Subject</dt><dd>([^<]+)</dd>",
        desk.get("/admin/course/2").get_data(as_text=True),
    )
    assert shown and step["Subject"] == "[TEST] " + html.unescape(shown.group(1))
    assert confirmation["Subject"].startswith("[TEST] ")
    with rt.database.session() as session:
        assert session.scalar(select(func.count(Delivery.id))) == 0
        assert session.scalar(select(func.count(Reader.id))) == 0
    bad = desk.post(
        "/admin/course/2/test",
        data={"csrf_token": token(desk, "/admin/course/2"), "to": "lee"},
    )
    assert bad.status_code == 303
    assert "Nothing was sent" in desk.get("/admin/course/2").get_data(as_text=True)
    assert desk.post("/admin/course/2/test", data={"to": "lee@example.test"}).status_code == 400


def test_the_share_page_gives_both_snippets_and_says_when_no_site_is_listed(
    rt: Runtime,
) -> None:
    closed = desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD).test_client()
    sign_in(closed)
    page = closed.get("/admin/share").get_data(as_text=True)
    assert "First ask whoever runs this server to set" in page
    text = html.unescape(page)
    assert '<iframe id="coursemail-form" src="http://' in text and 'name="website"' in text
    assert "coursemailHeight" in text  # the lines that size the frame to its form
    assert "/embed" in page


@pytest.fixture
def blog_desk(rt: Runtime) -> FlaskClient:
    return desk_app(
        rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD, EMBED_ORIGINS=BLOG
    ).test_client()


def test_only_the_listed_sites_may_frame_the_form(blog_desk: FlaskClient) -> None:
    form = blog_desk.get("/embed")
    assert form.status_code == 200 and 'target="_top"' in form.get_data(as_text=True)
    assert f"frame-ancestors {BLOG}" in form.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in form.headers
    assert form.headers["Referrer-Policy"] == "strict-origin"
    # every other page stays unframeable
    home = blog_desk.get("/")
    assert home.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]


def _post(client: FlaskClient, email: str, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/embed",
        data={"email": email, "first_name": "Bea", "timezone": "Europe/London"},
        headers=headers,
    )


def test_a_sign_up_from_a_listed_site_is_accepted_without_the_csrf_cookie(
    blog_desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    answer = _post(blog_desk, "bea@example.test", Origin=BLOG)
    assert answer.status_code == 303 and answer.headers["Location"] == "/check-your-inbox"
    by_referer = _post(blog_desk, "ben@example.test", Referer=BLOG + "/posts/trust")
    assert by_referer.status_code == 303
    own = _post(blog_desk, "own@example.test", Origin=rt.settings.PUBLIC_URL)
    assert own.status_code == 303
    work(rt)
    assert smtp_sink.messages_to("bea@example.test")  # double opt-in: the confirmation
    with rt.database.session() as session:
        versions = set(session.scalars(select(Consent.form_version)))
    assert versions == {"embed-2026-11"}
    bad = _post(blog_desk, "not-an-address", Origin=BLOG)
    assert bad.status_code == 400 and "complete email address" in bad.get_data(as_text=True)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://127.0.0.1:9999"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Origin": BLOG + ".evil.example"},
        {},
    ],
)
def test_a_sign_up_from_anywhere_else_is_refused(
    blog_desk: FlaskClient, rt: Runtime, headers: dict[str, str]
) -> None:
    answer = _post(blog_desk, "mal@example.test", **headers)
    assert answer.status_code == 403
    assert "only works on the course" in answer.get_data(as_text=True)
    with rt.database.session() as session:
        assert session.scalar(select(func.count(Reader.id))) == 0


@pytest.mark.parametrize(
    "value", ["blog.example.org", "https://blog.example.org/posts", "ftp://x.org", "https://"]
)
def test_embed_origins_must_be_sites(tmp_path, value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="EMBED_ORIGINS"):
        Settings.from_env({"COURSEMAIL_INSTANCE": str(tmp_path), "EMBED_ORIGINS": value})


def test_embed_origins_are_read_as_exact_origins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    found = Settings.from_env(
        {
            "COURSEMAIL_INSTANCE": str(tmp_path),
            "EMBED_ORIGINS": "https://Blog.Example.org/, http://127.0.0.1:8080,https://x.org:443",
        }
    )
    assert found.EMBED_ORIGINS == (
        "https://blog.example.org",
        "http://127.0.0.1:8080",
        "https://x.org",
    )


def test_the_course_page_shows_each_email_as_a_discreet_reader_gets_it(
    desk: FlaskClient,
) -> None:
    sign_in(desk)
    usual = desk.get("/admin/course/3").get_data(as_text=True)
    assert "Step 3: Don’t stuff your feelings" in usual
    assert "See it as a discreet reader gets it" in usual
    discreet = desk.get("/admin/course/3?discreet=1").get_data(as_text=True)
    assert "<dt>Subject</dt><dd>Notes, 4 of 8</dd>" in discreet
    assert "A few quiet minutes, whenever suits you." in discreet
    assert "course/3/html?discreet=1" in discreet
    framed = desk.get("/admin/course/3/html?discreet=1").get_data(as_text=True)
    assert "Weekly notes" in framed and "Rebuilding Broken Trust" not in framed.split("</head>")[1]
