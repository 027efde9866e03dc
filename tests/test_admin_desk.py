"""The therapist's desk: signing in (plain password or hash, constant-time, rate-limited,
logged without the password), every other /admin URL closed to strangers, and the overview
with real figures and a helpful empty state."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from tests.support.desk import PASSWORD, desk_app, join_by_web, sign_in, token
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime


def test_strangers_are_sent_to_sign_in_or_told_so_in_json(desk: FlaskClient) -> None:
    page = desk.get("/admin")
    assert page.status_code == 302 and "/admin/login?next=/admin" in page.headers["Location"]
    api = desk.get("/admin", headers={"Accept": "application/json"})
    assert api.status_code == 401 and "sign in" in api.get_json()["error"]


def test_signing_in_opens_the_desk_and_signing_out_closes_it(desk: FlaskClient) -> None:
    answer = sign_in(desk, next="/admin")
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert desk.get("/admin").status_code == 200
    out = desk.post("/admin/logout", data={"csrf_token": token(desk, "/admin")})
    assert out.status_code == 303
    assert desk.get("/admin").status_code == 302


def test_a_wrong_password_is_refused_logged_without_it_and_limited(
    desk: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="coursemail.desk"):
        for attempt in range(5):
            answer = sign_in(desk, password=f"guess-{attempt}", ip="192.0.2.77")
            assert answer.status_code == 401
            assert "do not match" in answer.get_data(as_text=True)
    assert "failed sign-in" in caplog.text and "guess-" not in caplog.text
    assert sign_in(desk, password="guess-6", ip="192.0.2.77").status_code == 429
    # the right password from another address still works; the wrong name never does
    assert sign_in(desk, name="admin", ip="192.0.2.78").status_code == 401
    assert sign_in(desk, ip="192.0.2.79").status_code == 303


def test_a_password_hash_works_instead_of_the_password(rt: Runtime) -> None:
    client = desk_app(
        rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD_HASH=generate_password_hash(PASSWORD)
    ).test_client()
    assert sign_in(client, password="nearly " + PASSWORD).status_code == 401
    assert sign_in(client).status_code == 303


def test_signing_in_needs_the_form_token(desk: FlaskClient) -> None:
    answer = desk.post("/admin/login", data={"username": "lee", "password": PASSWORD})
    assert answer.status_code == 400


def test_a_session_ends_after_two_idle_hours_and_twelve_hours_at_most(
    desk: FlaskClient, rt: Runtime
) -> None:
    sign_in(desk)
    for _ in range(6):  # a visit every 1h59 keeps it alive...
        rt.clock.advance(timedelta(hours=1, minutes=59))
        assert desk.get("/admin").status_code == 200
    rt.clock.advance(timedelta(minutes=7))  # ...but never past twelve hours
    assert desk.get("/admin").status_code == 302
    sign_in(desk)
    rt.clock.advance(timedelta(hours=2, minutes=1))
    assert desk.get("/admin").status_code == 302


def test_only_pages_inside_the_desk_are_followed_after_signing_in(desk: FlaskClient) -> None:
    answer = sign_in(desk, next="//evil.example/admin")
    assert answer.headers["Location"] == "/admin"


def test_without_a_password_the_desk_says_how_to_open_it(rt: Runtime) -> None:
    client = desk_app(rt, ADMIN_PASSWORD="", ADMIN_PASSWORD_HASH="").test_client()
    for path in ("/admin", "/admin/login"):
        page = client.get(path)
        assert page.status_code == 503
        assert "ADMIN_PASSWORD" in page.get_data(as_text=True)


def test_a_new_install_shows_where_to_start(desk: FlaskClient) -> None:
    sign_in(desk)
    page = desk.get("/admin").get_data(as_text=True)
    assert "Nobody has signed up yet" in page and "http://" in page


def test_the_overview_counts_the_course_as_it_went(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    for n in range(3):
        enrolled(rt, f"reader{n}@example.test", timezone="UTC")
    tick_and_work(rt)  # three welcomes
    rt.clock.advance(timedelta(days=3))
    tick_and_work(rt)  # and the next email for each
    sign_in(desk)
    page = desk.get("/admin").get_data(as_text=True)
    rows = dict(
        re.findall(r'<th scope="row">(?:<a [^>]+>)?([^<]+)(?:</a>)?</th><td>(\d+)</td>', page)
    )
    assert rows["Signed up"] == "3" and rows["Confirmed"] == "3"
    assert rows["The welcome"] == "3" and rows["Step 1"] == "3" and rows["Step 2"] == "0"
    assert rows["Emails that could not be sent"] == "0"
    assert "<svg" in page and 'role="img"' in page  # the chart, with the table beside it


def test_readers_are_found_by_address_or_name_and_paged_newest_first(
    desk: FlaskClient, rt: Runtime
) -> None:
    from service.desk.lists import PAGE

    for n in range(PAGE + 5):
        enrolled(rt, f"reader{n:03d}@example.test", timezone="UTC", first_name=f"Name{n:03d}")
    enrolled(rt, "maría@example.test", timezone="UTC", first_name="María_50%")
    sign_in(desk)
    first = desk.get("/admin/readers").get_data(as_text=True)
    assert first.index("maría@example.test") < first.index("reader054@")  # newest first
    assert "reader004@" not in first and "Older readers" in first
    older = re.search(r'href="(/admin/readers\?before=\d+)"', first)
    assert older, first
    second = desk.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "reader004@" in second and "reader000@" in second and "maría@" not in second
    by_name = desk.get("/admin/readers?q=name013").get_data(as_text=True)
    assert "reader013@" in by_name and "reader014@" not in by_name
    # LIKE's wildcards typed in the box are taken literally
    literal = desk.get("/admin/readers?q=_50%25").get_data(as_text=True)
    assert "maría@" in literal and "reader050@" not in literal
    none = desk.get("/admin/readers?q=nobody&state=active").get_data(as_text=True)
    assert "No reader matches" in none
    assert desk.get("/admin/readers?state=sleeping").status_code == 400
    assert desk.get("/admin/readers?before=abc").status_code == 400
    at_step = desk.get("/admin/readers?step=0&state=active").get_data(as_text=True)
    assert "The welcome next" in at_step


def test_replies_are_listed_read_whole_and_downloaded_as_they_came(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink, listener: int
) -> None:
    enrolled(rt, "anna@example.test", timezone="UTC", first_name="Anna")
    tick_and_work(rt)
    [welcome] = smtp_sink.messages_to("anna@example.test")
    for n, text in enumerate(["Thank you. I needed this today.", "I want to kill myself."]):
        data = reply_to(welcome, text, sender="anna@example.test", message_id=f"<r{n}@x.test>")
        assert send(listener, "anna@example.test", [reply_address(welcome)], data) == {}
    work(rt)
    sign_in(desk)
    page = desk.get("/admin/replies").get_data(as_text=True)
    assert "I needed this today" in page and "answering the welcome" in page
    assert "On Tue, 27 Oct" not in page  # the quote is stripped
    assert page.count("URGENT") == 1
    urgent = desk.get("/admin/replies?urgent=1").get_data(as_text=True)
    assert "kill myself" in urgent and "needed this today" not in urgent
    opened = re.search(r'href="/admin/replies/(\d+)"', urgent)
    assert opened
    whole = desk.get(f"/admin/replies/{opened.group(1)}")
    assert whole.status_code == 200 and "kill myself" in whole.get_data(as_text=True)
    original = desk.get(f"/admin/replies/{opened.group(1)}.eml")
    assert original.mimetype == "message/rfc822"
    assert b"I want to kill myself." in original.data and b"> " in original.data
    assert desk.get("/admin/replies/99999").status_code == 404


def test_every_desk_page_is_closed_to_strangers(desk: FlaskClient) -> None:
    for path in (
        "/admin/readers",
        "/admin/readers/someone/pause",
        "/admin/replies",
        "/admin/replies/1",
        "/admin/replies/1.eml",
        "/admin/emails?state=due",
        "/admin/course",
        "/admin/course/0",
        "/admin/course/0/html",
        "/admin/share",
    ):
        assert desk.get(path).status_code == 302, path
    for path in (
        "/admin/readers/someone/erase",
        "/admin/replies/1/handled",
        "/admin/course/0/test",
    ):  # (CSRF is checked first: a stranger's POST never reaches the action)
        assert desk.post(path).status_code in (302, 400), path


def test_a_readers_timeline_tells_their_course_in_order(
    desk: FlaskClient, rt: Runtime, client: FlaskClient, smtp_sink: SMTPSink, listener: int
) -> None:
    join_by_web(client, rt, smtp_sink, "sam@example.test", first_name="Sam")  # answers 303
    assert len(smtp_sink.messages_to("sam@example.test")) == 1  # the confirmation email
    tick_and_work(rt)  # the welcome
    welcome = smtp_sink.messages_to("sam@example.test")[-1]
    data = reply_to(welcome, "This helped.", sender="sam@example.test")
    assert send(listener, "sam@example.test", [reply_address(welcome)], data) == {}
    work(rt)

    sign_in(desk)
    listing = desk.get("/admin/readers?q=sam").get_data(as_text=True)
    found = re.search(r'href="(/admin/readers/[^"]+)"', listing)
    assert found, listing
    page = desk.get(found.group(1)).get_data(as_text=True)
    order = [
        "Signed up",
        "The confirmation",
        "Confirmed their address",
        "The welcome",
        "Replied",
    ]
    positions = [page.index(what) for what in order]
    assert positions == sorted(positions), page
    assert "This helped." in page and "Sent · “Welcome" in page and "form " in page
    # the technical detail is one click away, never in the sentence read first
    assert "<summary>Details</summary><p>sent; Message-ID" in page
    times = re.findall(r"<time[^>]*>([^<]+)</time>", page)
    assert times and all(t.endswith(("PST", "PDT")) for t in times)  # the therapist's time
    assert desk.get("/admin/readers/no-such-reader").status_code == 404


def test_the_old_readers_address_still_opens_the_readers_pages(desk: FlaskClient) -> None:
    sign_in(desk)
    moved = desk.get("/admin/subscribers?q=ann")
    assert moved.status_code == 301 and moved.headers["Location"] == "/admin/readers?q=ann"
    one = desk.get("/admin/subscribers/abc/pause")
    assert one.headers["Location"] == "/admin/readers/abc/pause"
