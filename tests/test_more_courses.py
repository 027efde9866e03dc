"""More than one course: "New course" on the desk (blank or a copy), each with its own page,
form, embed, funnel and reader filter; a reader may take two and asks for the second from its
page (its confirmation, then its welcome); they never get more than one course email a day;
each email's unsubscribe page lets them leave one course or all; the desk says "completed"
per course."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from service.store.models import (
    CourseVersion,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reader,
    ReaderStatus,
)
from tests.support.desk import PASSWORD, confirm_from, desk_app, sign_in, token
from tests.support.harness import enrolled, run_course, work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

SECOND = "after-the-affair"


@pytest.fixture
def her(rt: Runtime) -> Iterator[FlaskClient]:
    client = desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD).test_client()
    sign_in(client)
    yield client


def _make(her: FlaskClient, *, title: str, slug: str, start: str):  # type: ignore[no-untyped-def]
    return her.post(
        "/admin/courses",
        data={
            "title": title,
            "slug": slug,
            "start": start,
            "csrf_token": token(her, "/admin/courses"),
        },
    )


def _second_course(her: FlaskClient) -> None:
    made = _make(her, title="After the Affair", slug=SECOND, start="rebuilding-trust")
    assert made.status_code == 303, made.text
    assert made.headers["Location"].endswith(f"/admin/course/edit?course={SECOND}")


def _sign_up(client: FlaskClient, path: str, address: str) -> None:
    answer = client.post(
        path,
        data={
            "email": address,
            "first_name": "Ren",
            "timezone": "UTC",
            "csrf_token": token(client, path),
        },
    )
    assert answer.status_code == 303, answer.text


def test_a_new_course_has_its_own_page_form_embed_and_share_page(
    rt: Runtime, her: FlaskClient
) -> None:
    _second_course(her)
    page = her.get(f"/{SECOND}")
    assert page.status_code == 200
    assert "<h1>After the Affair</h1>" in page.text or "After the Affair" in page.text
    assert f'action="/{SECOND}"' in page.text
    assert "Rebuilding Broken Trust" in her.get("/").text  # the first course stays at /
    embedded = her.get(f"/{SECOND}/embed")
    assert embedded.status_code == 200 and f'action="/{SECOND}/embed"' in embedded.text
    share = her.get(f"/admin/share?course={SECOND}").text
    assert f"/{SECOND}/embed" in share and "After the Affair" in share
    listed = her.get("/admin/courses").text
    assert "After the Affair" in listed and "Rebuilding Broken Trust" in listed
    # its own emails in the editor, its own version 1
    assert "After the Affair" in her.get(f"/admin/course/edit?course={SECOND}").text
    with rt.database.session(read_only=True) as session:
        made = session.scalars(select(CourseVersion).where(CourseVersion.slug == SECOND)).all()
    assert [(v.number, v.published_by) for v in made] == [(1, "lee")]
    assert her.get("/no-such-course").status_code == 404
    assert her.get("/admin/course?course=no-such-course").status_code == 404


def test_a_new_course_from_the_blank_template_passes_the_checks(
    rt: Runtime, her: FlaskClient
) -> None:
    made = _make(her, title="Grief, gently", slug="grief", start="blank")
    assert made.status_code == 303
    editor = her.get("/admin/course/edit?course=grief").text
    assert "The first step" in editor
    page = her.get("/grief").text
    assert "Grief, gently" in page
    # her details come from the first course
    with rt.database.session(read_only=True) as session:
        files = session.scalar(select(CourseVersion.files).where(CourseVersion.slug == "grief"))
    assert files is not None and "Lee Miller" in files


@pytest.mark.parametrize(
    ("slug", "why"),
    [
        ("admin", "already uses"),
        ("embed", "already uses"),
        ("rebuilding-trust", "already a course"),
        ("Not A Slug", "lower-case letters"),
        ("x", "lower-case letters"),
    ],
)
def test_a_new_course_with_a_bad_address_is_refused_clearly(
    rt: Runtime, her: FlaskClient, slug: str, why: str
) -> None:
    refused = _make(her, title="Another", slug=slug, start="blank")
    assert refused.status_code == 303
    page = her.get(refused.headers["Location"]).text
    assert "Not made" in page and why in page.replace("&#34;", '"')
    with rt.database.session(read_only=True) as session:
        slugs = set(session.scalars(select(CourseVersion.slug)))
    assert slugs == {"rebuilding-trust"}


def test_the_new_course_page_is_not_open_to_strangers_on_the_desk(
    rt: Runtime, client: FlaskClient
) -> None:
    refused = client.post("/admin/courses", data={"title": "x", "slug": "xyz"})
    assert refused.status_code in (302, 303, 400, 403)
    with rt.database.session(read_only=True) as session:
        assert set(session.scalars(select(CourseVersion.slug))) == {"rebuilding-trust"}


def _course_emails(rt: Runtime, reader_id: int) -> list[tuple[str, int, object]]:
    with rt.database.session(read_only=True) as session:
        return [
            (course, step, sent_at)
            for course, step, sent_at in session.execute(
                select(Enrollment.course, Delivery.step, Delivery.sent_at)
                .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
                .where(
                    Delivery.reader_id == reader_id,
                    Delivery.kind == DeliveryKind.STEP,
                    Delivery.status == DeliveryStatus.SENT,
                )
                .order_by(Delivery.sent_at, Delivery.id)
            )
        ]


def test_a_reader_in_both_courses_gets_at_most_one_course_email_a_day(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    _second_course(her)
    reader_id = enrolled(rt, "both@example.test", timezone="UTC")
    run_course(rt, days=2)  # the welcome and Step 1 of the first course
    # the same reader asks for the second course on its page: its confirmation comes
    _sign_up(her, f"/{SECOND}", "both@example.test")
    work(rt)
    joining = [
        m
        for m in smtp_sink.messages_to("both@example.test")
        if "confirm" in str(m["Subject"]).lower()
    ]
    assert len(joining) == 1 and "After the Affair" in str(joining[0]["Subject"])
    with rt.database.session(read_only=True) as session:
        assert session.scalar(select(Enrollment.id).where(Enrollment.course == SECOND)) is None
    confirm_from(her, joining[0])
    with rt.database.session(read_only=True) as session:
        courses = set(session.scalars(select(Enrollment.course)))
        reader = session.get(Reader, reader_id)
        assert reader is not None and reader.status == ReaderStatus.ACTIVE
    assert courses == {"rebuilding-trust", SECOND}

    run_course(rt, days=60)
    sent = _course_emails(rt, reader_id)
    per_day = Counter(str(when)[:10] for _, _, when in sent)
    assert max(per_day.values()) == 1, per_day
    # each course whole, in order, once
    for slug in ("rebuilding-trust", SECOND):
        assert [step for course, step, _ in sent if course == slug] == list(range(8))
    with rt.database.session(read_only=True) as session:
        states = set(session.scalars(select(Enrollment.status)))
    assert states == {EnrollmentStatus.COMPLETED}


def test_one_course_can_be_left_and_the_other_goes_on(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    _second_course(her)
    reader_id = enrolled(rt, "leaves@example.test", timezone="UTC")
    _sign_up(her, f"/{SECOND}", "leaves@example.test")
    work(rt)
    confirm_from(her, smtp_sink.messages_to("leaves@example.test")[-1])
    run_course(rt, days=1)
    with rt.database.session(read_only=True) as session:
        token_ = session.scalar(select(Reader.unsubscribe_token).where(Reader.id == reader_id))
    page = her.get(f"/u/{token_}").text
    assert "Leave After the Affair only" in page and "Leave all of them" in page
    left = her.post(f"/u/{token_}", data={"course": SECOND})
    assert left.status_code == 200 and "You’ve left After the Affair" in left.text
    # pressed again (a reload, the back button): still that course only, never all
    again = her.post(f"/u/{token_}", data={"course": SECOND})
    assert again.status_code == 200 and "You’ve left After the Affair" in again.text
    with rt.database.session(read_only=True) as session:
        by_course = dict(session.execute(select(Enrollment.course, Enrollment.status)).all())
        reader = session.get(Reader, reader_id)
        assert reader is not None and reader.status == ReaderStatus.ACTIVE
    assert by_course == {
        "rebuilding-trust": EnrollmentStatus.ACTIVE,
        SECOND: EnrollmentStatus.CANCELLED,
    }
    # a one-click unsubscribe from the mail app leaves everything
    her.post(f"/u/{token_}", data=b"List-Unsubscribe=One-Click")
    with rt.database.session(read_only=True) as session:
        reader = session.get(Reader, reader_id)
        assert reader is not None and reader.status == ReaderStatus.UNSUBSCRIBED


def test_the_desk_shows_each_course_funnel_filter_and_completed(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    _second_course(her)
    only_first = enrolled(rt, "first@example.test", timezone="UTC")
    both = enrolled(rt, "both@example.test", timezone="UTC")
    _sign_up(her, f"/{SECOND}", "both@example.test")
    work(rt)
    confirm_from(her, smtp_sink.messages_to("both@example.test")[-1])
    run_course(rt, days=60)
    sign_in(her)  # (sixty days on, her session has ended)
    overview = her.get("/admin").text
    assert "After the Affair: readers at each stage" in overview
    assert "Rebuilding Broken Trust: readers at each stage" in overview
    filtered = her.get(f"/admin/readers?course={SECOND}").text
    assert "both@example.test" in filtered and "first@example.test" not in filtered
    assert "first@example.test" in her.get("/admin/readers").text
    with rt.database.session(read_only=True) as session:
        public_id = session.scalar(select(Reader.public_id).where(Reader.id == both))
    record = her.get(f"/admin/readers/{public_id}").text
    assert record.count("completed") >= 2 and "Their courses" in record
    assert only_first != both


def test_the_command_line_lists_courses_and_signs_up_for_one(rt: Runtime, her: FlaskClient) -> None:
    from click.testing import CliRunner

    from tests.support.env import settings_env
    from workers.cli import main

    _second_course(her)
    runner = CliRunner(env=settings_env(rt.settings))
    listed = runner.invoke(main, ["course", "list"])
    assert listed.exit_code == 0, listed.output
    first, second = listed.output.splitlines()
    assert first.split()[0] == "rebuilding-trust" and second.split()[0] == SECOND
    assert second.rstrip().endswith(f"/{SECOND}") and "After the Affair" in second
    joined = runner.invoke(main, ["sign-up", "cli@example.test", "--course", SECOND])
    assert joined.exit_code == 0 and "confirmation email goes out" in joined.output
    with rt.database.session(read_only=True) as session:
        reader = session.scalar(select(Reader).where(Reader.email == "cli@example.test"))
        assert reader is not None and reader.pending_course == SECOND
    unknown = runner.invoke(main, ["sign-up", "x@example.test", "--course", "nope"])
    assert unknown.exit_code == 2 and "no course 'nope'" in unknown.output
    assert "Traceback" not in unknown.output


def _confirmations(sink: SMTPSink, address: str) -> list:  # type: ignore[type-arg]
    return [m for m in sink.messages_to(address) if "confirm" in str(m["Subject"]).lower()]


def test_each_confirmation_joins_the_course_it_names(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    _second_course(her)
    assert _make(her, title="Grief, gently", slug="grief", start="blank").status_code == 303
    enrolled(rt, "two@example.test", timezone="UTC")
    _sign_up(her, f"/{SECOND}", "two@example.test")
    _sign_up(her, "/grief", "two@example.test")  # asked for last
    work(rt)
    second, grief = _confirmations(smtp_sink, "two@example.test")
    assert "After the Affair" in str(second["Subject"]) and "Grief" in str(grief["Subject"])
    confirm_from(her, second)  # the older email's button: the course it names
    with rt.database.session(read_only=True) as session:
        assert set(session.scalars(select(Enrollment.course))) == {"rebuilding-trust", SECOND}
    confirm_from(her, grief)
    with rt.database.session(read_only=True) as session:
        courses = set(session.scalars(select(Enrollment.course)))
    assert courses == {"rebuilding-trust", SECOND, "grief"}


def test_a_reader_of_one_other_course_sees_its_name_and_its_words(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    from service.tokens import PreferencesTokens

    assert _make(her, title="Grief, gently", slug="grief", start="blank").status_code == 303
    _sign_up(her, "/grief", "g@example.test")
    work(rt)
    (asked,) = _confirmations(smtp_sink, "g@example.test")
    # a fresh link from the "expired" page is for the same course
    found = re.search(r"/confirm/(\S+)", asked.get_body(("plain",)).get_content())
    assert found
    fresh = her.post(
        "/confirm/resend",
        data={"token": found.group(1), "csrf_token": token(her, f"/confirm/{found.group(1)}")},
    )
    assert fresh.status_code == 200
    work(rt)
    again = _confirmations(smtp_sink, "g@example.test")
    assert len(again) == 2 and "Grief" in str(again[1]["Subject"])
    confirm_from(her, again[1])
    run_course(rt, days=1)
    with rt.database.session(read_only=True) as session:
        reader = session.scalar(select(Reader).where(Reader.email == "g@example.test"))
        assert reader is not None
        assert set(session.scalars(select(Enrollment.course))) == {"grief"}
        link = PreferencesTokens(rt.settings.SECRET_KEY).make(reader.public_id)
        leave = reader.unsubscribe_token
    archive = her.get(f"/preferences/{link}/archive").text
    assert "(Write your welcome here" in archive and "a gentle place to begin" not in archive
    assert "Grief, gently" in her.get(f"/u/{leave}").text


@pytest.mark.parametrize(
    "title", ["Finding your way", "Notes on healing", "Your first week after loss"]
)
def test_ordinary_titles_make_a_course(rt: Runtime, her: FlaskClient, title: str) -> None:
    made = _make(her, title=title, slug="new-one", start="blank")
    assert made.headers["Location"].endswith("/admin/course/edit?course=new-one"), made.text


def test_a_title_that_would_give_discretion_away_is_refused_plainly(her: FlaskClient) -> None:
    refused = _make(her, title="Confirm your heart", slug="heart", start="blank")
    page = her.get(refused.headers["Location"]).text
    assert "“confirm” is also in what a discreet reader’s inbox shows" in page
    assert "/emails/" not in page and ".md" not in page


def test_the_reader_list_names_each_place_in_its_own_course(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    assert _make(her, title="Grief, gently", slug="grief", start="blank").status_code == 303
    _sign_up(her, "/grief", "place@example.test")
    work(rt)
    confirm_from(her, smtp_sink.messages_to("place@example.test")[-1])
    run_course(rt, days=3)  # its welcome and its one step: its closing is next
    sign_in(her)
    listed = her.get("/admin/readers").text
    row = listed[listed.index("place@example.test") :].split("</tr>")[0]
    assert "The closing next" in row, row


def test_a_demos_compressed_days_compress_the_one_a_day_wait(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    from dataclasses import replace

    _second_course(her)
    rt.settings = replace(rt.settings, COURSEMAIL_TIME_SCALE=86400.0)
    enrolled(rt, "demo@example.test", timezone="UTC")
    _sign_up(her, f"/{SECOND}", "demo@example.test")
    work(rt)
    confirm_from(her, smtp_sink.messages_to("demo@example.test")[-1])
    run_course(rt, days=1)  # a day of demo time holds both courses, whole
    subjects = [str(m["Subject"]) for m in smtp_sink.messages_to("demo@example.test")]
    assert len([s for s in subjects if "confirm" not in s.lower()]) == 16, subjects


def test_the_desks_get_forms_keep_the_chosen_course(rt: Runtime, her: FlaskClient) -> None:
    from service.courses import versions

    _second_course(her)
    with rt.database.session() as session:  # a second version, so there is a comparison
        newest = versions.newest(session, SECOND)
        assert newest is not None
        files = versions.files_of(newest)
        files["01-commit.md"] += "\nOne more line.\n"
        versions.publish(session, files, note="a line", by="lee", now=rt.clock.now())
    for path in ("/admin/course/versions", "/admin/course"):
        page = her.get(f"{path}?course={SECOND}").text
        assert f'<input type="hidden" name="course" value="{SECOND}">' in page, path
