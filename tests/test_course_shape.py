"""The list of a course's emails, changed on the desk: add an email after another, remove
one, move one, change a wait. Each is a draft until she publishes; a new list is for new
readers while everyone already on the course finishes theirs; only the ``[[steps]]`` lines of
course.toml are rewritten; a stale page or a tab on a removed email is refused clearly."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from emails.course import BLANK_DIR, COURSES_DIR, read_files
from service.courses import drafts, shape, versions
from service.store.models import CourseDraft, CourseVersion
from tests.support.desk import PASSWORD, desk_app, sign_in, token
from tests.support.harness import enrolled, run_course
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime


@pytest.fixture
def her(rt: Runtime) -> Iterator[FlaskClient]:
    client = desk_app(rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD).test_client()
    sign_in(client)
    yield client


def _list_revision(her: FlaskClient, query: str = "") -> str:
    page = her.get(f"/admin/course/edit{query}").text
    found = re.search(r'name="revision" value="(\d+)"', page)
    assert found, page
    return found.group(1)


def _file_at(her: FlaskClient, index: int, query: str = "") -> str:
    page = her.get(f"/admin/course/edit{query}").text
    found = re.search(
        rf'name="index" value="{index}">\s*<input type="hidden" name="file" value="([^"]*)"', page
    )
    assert found, page
    return found.group(1)


def _change(her: FlaskClient, action: str, index: int, query: str = "", **extra: str):  # type: ignore[no-untyped-def]
    data = {
        "csrf_token": token(her, f"/admin/course/edit{query}"),
        "revision": _list_revision(her, query),
        "action": action,
        "index": str(index),
        "file": _file_at(her, index, query),
        **extra,
    }
    return her.post(f"/admin/course/edit/list{query}", data=data, follow_redirects=True)


def _draft_steps(rt: Runtime, slug: str = "rebuilding-trust") -> list[tuple[str, int]]:
    with rt.database.session(read_only=True) as session:
        row = session.get(CourseDraft, slug)
        assert row is not None
        return shape.steps_of(json.loads(row.files)["course.toml"])


def _edit(her: FlaskClient, index: int, **fields: str):  # type: ignore[no-untyped-def]
    page = her.get(f"/admin/course/edit/{index}").text
    form = {"csrf_token": token(her, f"/admin/course/edit/{index}")}
    for name in ("subject", "name", "preview", "discreet_subject", "discreet_preview"):
        found = re.search(rf'name="{name}" value="([^"]*)"', page)
        form[name] = found.group(1) if found else ""
    for name in ("revision", "file"):
        found = re.search(rf'name="{name}" value="([^"]*)"', page)
        assert found, page
        form[name] = found.group(1)
    form.update(fields)
    return her.post(
        f"/admin/course/edit/{index}", data=form, headers={"Accept": "application/json"}
    )


@pytest.mark.parametrize("folder", [COURSES_DIR / "rebuilding-trust", BLANK_DIR])
def test_only_the_steps_lines_are_rewritten(folder: object) -> None:
    files = read_files(folder)  # type: ignore[arg-type]
    toml = files["course.toml"]
    assert shape.with_steps(toml, shape.steps_of(toml)) == toml
    added, _ = shape.add_after(files, 0)
    assert shape.steps_of(added["course.toml"])[1] == ("new-email-1.md", 2)
    back = shape.remove(added, 1)
    assert back == files
    moved = shape.move(shape.move(files, 1, 1), 2, -1)
    assert moved == files
    waited = shape.wait(files, 1, 9)
    assert shape.steps_of(waited["course.toml"])[1][1] == 9
    assert waited["course.toml"].count("\n") == toml.count("\n")
    with pytest.raises(shape.ShapeError, match="already at that end"):
        shape.move(files, 0, -1)
    with pytest.raises(shape.ShapeError, match="from 0 to 365"):
        shape.wait(files, 1, 366)
    with pytest.raises(shape.ShapeError, match="no such email"):
        shape.remove(files, 40)


def test_an_email_added_on_the_desk_is_for_new_readers_only(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    early = enrolled(rt, "early@example.test", timezone="UTC")
    run_course(rt, days=2)  # the welcome and Step 1
    sign_in(her)
    done = _change(her, "add", 2)  # after Step 2
    assert "A new email is in your draft" in done.text
    assert "Your draft changes this list" in done.text
    assert [name for name, _ in _draft_steps(rt)][3] == "new-email-1.md"
    saved = _edit(
        her,
        3,
        subject="A pause between steps",
        name="",
        preview="A breath.",
        body="Hi {{ first_name or 'there' }},\n\nTake a breath.",
    )
    assert saved.status_code == 200 and saved.json["problems"] == [], saved.text
    # nothing reaches anyone before she publishes
    with rt.database.session(read_only=True) as session:
        assert (
            session.scalar(select(CourseVersion.number).order_by(CourseVersion.number.desc())) == 1
        )
    review = her.get("/admin/course/publish").text
    assert "new readers" in review
    her.post(
        "/admin/course/publish",
        data={"csrf_token": token(her, "/admin/course/publish"), "note": "a pause"},
    )
    with rt.database.session(read_only=True) as session:
        newest = versions.newest(session, "rebuilding-trust")
        assert newest is not None and (newest.number, newest.line) == (2, 2)
    late = enrolled(rt, "late@example.test", timezone="UTC")
    run_course(rt, days=40)
    early_subjects = [str(m["Subject"]) for m in smtp_sink.messages_to("early@example.test")]
    late_subjects = [str(m["Subject"]) for m in smtp_sink.messages_to("late@example.test")]
    assert len(early_subjects) == len(set(early_subjects)) == 8
    assert "A pause between steps" not in early_subjects
    assert len(late_subjects) == 9 and late_subjects[3] == "A pause between steps"
    assert early and late


def test_waits_moves_and_removals_are_drafted_and_stale_pages_refused(
    rt: Runtime, her: FlaskClient
) -> None:
    shipped = shape.steps_of(read_files(COURSES_DIR / "rebuilding-trust")["course.toml"])
    assert "The wait is changed in your draft" in _change(her, "wait", 1, days="5").text
    assert _draft_steps(rt)[1] == (shipped[1][0], 5)
    _change(her, "down", 1)
    assert [n for n, _ in _draft_steps(rt)][1:3] == [shipped[2][0], shipped[1][0]]
    bad = _change(her, "wait", 1, days="two")
    assert "a whole number of days" in bad.text
    # a page loaded before another change is refused, not applied
    stale = {
        "csrf_token": token(her, "/admin/course/edit"),
        "revision": "0",
        "action": "remove",
        "index": "1",
    }
    refused = her.post("/admin/course/edit/list", data=stale, follow_redirects=True)
    assert "changed in another tab" in refused.text
    assert len(_draft_steps(rt)) == len(shipped)
    # a tab still open on an email whose place changed cannot save over another email
    page = her.get("/admin/course/edit/4").text
    kept = re.search(r'name="file" value="([^"]*)"', page)
    assert kept
    _change(her, "remove", 3)
    assert _draft_steps(rt)[4][0] != kept.group(1)
    answer = _edit(her, 4, file=kept.group(1), body="words for the old email")
    assert answer.status_code == 409 and "list of emails changed" in answer.json["error"]
    gone = _change(her, "remove", 1)
    assert "gone from your draft" in gone.text
    assert len(_draft_steps(rt)) == len(shipped) - 2


def test_a_blank_course_grows_on_the_desk_and_publishes(rt: Runtime, her: FlaskClient) -> None:
    made = her.post(
        "/admin/courses",
        data={
            "title": "Grief, gently",
            "slug": "grief",
            "start": "blank",
            "csrf_token": token(her, "/admin/courses"),
        },
    )
    assert made.status_code == 303
    query = "?course=grief"
    for _ in range(3):
        _change(her, "add", 1, query)
    assert len(_draft_steps(rt, "grief")) == 6
    review = her.get(f"/admin/course/publish{query}").text
    assert "cannot be published" not in review
    her.post(
        f"/admin/course/publish{query}",
        data={"csrf_token": token(her, f"/admin/course/publish{query}"), "note": "more steps"},
    )
    with rt.database.session(read_only=True) as session:
        newest = versions.newest(session, "grief")
        assert newest is not None and newest.number == 2
        assert len(shape.steps_of(versions.files_of(newest)["course.toml"])) == 6


def test_the_list_is_hers_alone(rt: Runtime, client: FlaskClient) -> None:
    answer = client.post("/admin/course/edit/list", data={"action": "remove", "index": "1"})
    assert answer.status_code in (400, 503)
    with rt.database.session(read_only=True) as session:
        assert session.get(CourseDraft, "rebuilding-trust") is None


def test_her_details_saved_meanwhile_keep_the_drafted_list(rt: Runtime, her: FlaskClient) -> None:
    _change(her, "add", 0)
    drafted = _draft_steps(rt)
    with rt.database.session() as session:
        newest = versions.newest(session, "rebuilding-trust")
        assert newest is not None
        toml = versions.files_of(newest)["course.toml"].replace("send_hour = 8", "send_hour = 9")
        drafts.rebase(session, "rebuilding-trust", toml, number=2)
    assert _draft_steps(rt) == drafted
    with rt.database.session(read_only=True) as session:
        row = session.get(CourseDraft, "rebuilding-trust")
        assert row is not None and "send_hour = 9" in json.loads(row.files)["course.toml"]


def test_the_list_shown_is_the_drafts_even_while_a_check_fails(
    rt: Runtime, her: FlaskClient
) -> None:
    _change(her, "add", 2)
    broken = _edit(her, 3, subject="")  # the new email, its subject left empty
    assert broken.json["problems"], broken.text
    page = her.get("/admin/course/edit").text
    assert page.count('name="action" value="wait"') == 9  # the draft's nine, not the eight
    target = _file_at(her, 4)
    _change(her, "remove", 4)
    names = [name for name, _ in _draft_steps(rt)]
    assert target not in names and "new-email-1.md" in names and len(names) == 8
    # a page naming a different email at that place is refused, not applied elsewhere
    stale = {
        "csrf_token": token(her, "/admin/course/edit"),
        "revision": _list_revision(her),
        "action": "remove",
        "index": "4",
        "file": target,
    }
    refused = her.post("/admin/course/edit/list", data=stale, follow_redirects=True)
    assert "changed since this page was opened" in refused.text
    assert len(_draft_steps(rt)) == 8
    assert her.get("/admin/course/edit/8").status_code == 404


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (
            '[[steps]]\nfile = "a.md"\n[post]\ntitle = "x"\n[[steps]]\nfile = "b.md"\n',
            "another table",
        ),
        ('[[steps]]\nfile = "a.md"\n# a note\n[[steps]]\nfile = "b.md"\n', "another table"),
        ("title = 'x'\n", "no [[steps]]"),
        ("[[steps]\n", "cannot be read"),
    ],
)
def test_a_list_laid_out_otherwise_is_refused_not_mangled(toml: str, said: str) -> None:
    with pytest.raises(shape.ShapeError, match=re.escape(said)):
        if said == "cannot be read":
            shape.steps_of(toml)
        shape.with_steps(toml, [("a.md", 0)])


def test_odd_headers_and_names_are_written_as_valid_toml() -> None:
    toml = '[[ steps ]]  # the welcome\nfile = "a.md"\ndelay_days = 0\n\n[discreet]\nx = 1\n'
    written = shape.with_steps(toml, [("a.md", 0), ('say "hi".md', 2)])
    assert shape.steps_of(written) == [("a.md", 0), ('say "hi".md', 2)]
    assert written.endswith("[discreet]\nx = 1\n")
