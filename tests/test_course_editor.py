"""The course editor on the desk: drafts saved as she types (JSON for the page's script),
checks placed on the field and line, previews rendered by the sending code (escaped, inert),
conflicts between two tabs, publish with its rule, versions compared and rolled back, and a
test of the draft. Only she can do any of it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from service.store.models import CourseVersion, DeskAudit
from tests.support.desk import PASSWORD, desk_app, sign_in, token
from tests.support.dns import DNSServer
from tests.support.harness import enrolled, run_course, work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

STEP_4 = 4  # "Step 4 of 6: What do you each need?"


@pytest.fixture
def her(rt: Runtime) -> Iterator[FlaskClient]:
    with DNSServer() as dns:
        client = desk_app(
            rt, ADMIN_USERNAME="lee", ADMIN_PASSWORD=PASSWORD, DNS_NAMESERVER=dns.address
        ).test_client()
        sign_in(client)
        yield client


def _form(client: FlaskClient, index: int | str) -> dict[str, str]:
    page = client.get(f"/admin/course/edit/{index}").text
    fields = {"csrf_token": token(client, f"/admin/course/edit/{index}")}
    for name in ("subject", "name", "preview", "discreet_subject", "discreet_preview", "revision"):
        found = re.search(rf'name="{name}" value="([^"]*)"', page)
        fields[name] = found.group(1) if found else ""
    body = re.search(r'<textarea id="body" name="body"[^>]*>(.*?)</textarea>', page, re.S)
    assert body, page
    fields["body"] = body.group(1)
    return {k: _unescape(v) for k, v in fields.items()}


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


def _save(client: FlaskClient, index: int | str, fields: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(
        f"/admin/course/edit/{index}", data=fields, headers={"Accept": "application/json"}
    )


def _versions(rt: Runtime) -> list[int]:
    with rt.database.session(read_only=True) as session:
        return list(session.scalars(select(CourseVersion.number).order_by(CourseVersion.number)))


def test_the_editor_is_hers_alone(rt: Runtime, client: FlaskClient) -> None:
    for path in ("/admin/course/edit", "/admin/course/edit/4", "/admin/course/versions"):
        assert client.get(path).status_code in (302, 503)  # (503: no desk account at all)
    assert client.post("/admin/course/edit/4", data={"body": "x"}).status_code in (400, 503)
    assert client.post("/admin/course/publish").status_code in (400, 503)
    assert _versions(rt) == [1]


def test_a_fixed_word_is_a_draft_until_published_then_reaches_readers_between_steps(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    reader = enrolled(rt, "between@example.test", timezone="UTC")
    run_course(rt, days=6)  # between Step 3 and Step 4
    sign_in(her)  # (six days on, her earlier sign-in has ended)
    form = _form(her, STEP_4)
    assert form["subject"] == "Step 4 of 6: What do you each need?"
    form["subject"] = "Step 4 of 6: What do you both need?"
    saved = _save(her, STEP_4, form)
    assert saved.status_code == 200, saved.json
    assert saved.json["revision"] == 1 and saved.json["problems"] == []
    # the preview shows the draft; the course as published does not change
    assert "What do you both need?" in her.get(f"/admin/course/edit/{STEP_4}/html").text
    assert "What do you each need?" in her.get(f"/admin/course/{STEP_4}").text
    assert _versions(rt) == [1]

    page = her.get("/admin/course/publish").text
    assert "Your draft changes words only" in page
    assert "<del>each</del><ins>both</ins>" in page
    publish = {"csrf_token": token(her, "/admin/course/publish"), "note": "a word in Step 4"}
    assert her.post("/admin/course/publish", data=publish).status_code == 303
    assert _versions(rt) == [1, 2]
    listed = her.get("/admin/course/versions").text
    assert "a word in Step 4" in listed and "lee" in listed
    with rt.database.session(read_only=True) as session:
        actions = session.scalars(select(DeskAudit.action)).all()
        assert "publish_draft" in actions and "save_draft" not in actions

    run_course(rt, days=30)
    subjects = [str(m["Subject"]) for m in smtp_sink.messages_to("between@example.test")]
    assert "Step 4 of 6: What do you both need?" in subjects
    assert len(subjects) == len(set(subjects)) == 8
    assert reader


def test_the_checks_point_at_the_field_and_line_and_block_publishing(
    rt: Runtime, her: FlaskClient
) -> None:
    form = _form(her, 2)
    lines = form["body"].splitlines()
    lines[2] = "Hello {{ secret_name }}"
    form["body"] = "\n".join(lines)
    saved = _save(her, 2, form).json
    (problem,) = saved["problems"]
    assert problem["field"] == "body" and problem["line"] == 3
    assert "secret_name" in problem["message"]
    assert "cannot be published until this is fixed" in her.get("/admin/course/publish").text
    publish = {"csrf_token": token(her, "/admin/course/publish"), "note": "x"}
    her.post("/admin/course/publish", data=publish)
    assert _versions(rt) == [1]
    form["subject"] = ""
    form["revision"] = str(saved["revision"])
    (problem,) = _save(her, 2, form).json["problems"]
    assert problem["field"] == "subject"


def test_two_tabs_editing_one_email_get_a_conflict_not_an_overwrite(
    rt: Runtime, her: FlaskClient
) -> None:
    first, second = _form(her, 1), _form(her, 1)
    first["body"] += "\n\nFrom the first tab."
    second["body"] += "\n\nFrom the second tab."
    assert _save(her, 1, first).status_code == 200
    clash = _save(her, 1, second)
    assert clash.status_code == 409 and "changed in another tab" in clash.json["error"]
    assert "From the first tab." in her.get("/admin/course/edit/1").text
    assert "From the second tab." not in her.get("/admin/course/edit/1").text
    # without the script, the same refusal comes as a message on the page
    second["revision"] = "0"
    answer = her.post("/admin/course/edit/1", data=second, follow_redirects=True)
    assert "Copy your words somewhere safe" in answer.text


def test_markup_in_a_draft_is_escaped_and_bad_forms_are_refused(
    rt: Runtime, her: FlaskClient
) -> None:
    form = _form(her, 1)
    form["body"] += '\n\n<script>alert(1)</script> <img src="https://tracker.example/x.png">'
    assert _save(her, 1, form).status_code == 200
    shown = her.get("/admin/course/edit/1/html")
    assert "<script>alert(1)</script>" not in shown.text and "&lt;script&gt;" in shown.text
    assert "<img src=" not in shown.text
    assert "sandbox" in shown.headers["Content-Security-Policy"]
    form["revision"] = "not a number"
    assert _save(her, 1, form).status_code == 400
    assert her.get("/admin/course/edit/99").status_code == 404


def test_a_version_is_compared_word_by_word_and_rolled_back(rt: Runtime, her: FlaskClient) -> None:
    form = _form(her, 1)
    form["body"] = form["body"].replace("a long time", "a very long time")
    _save(her, 1, form)
    publish = {"csrf_token": token(her, "/admin/course/publish"), "note": "longer"}
    her.post("/admin/course/publish", data=publish)
    compared = her.get("/admin/course/versions?a=1&b=2").text
    assert re.search(r"<ins>\s*very\s*</ins>", compared), compared
    back = {"csrf_token": token(her, "/admin/course/versions")}
    assert her.post("/admin/course/versions/1/rollback", data=back).status_code == 303
    assert _versions(rt) == [1, 2, 3]
    assert "a very long time" not in her.get("/admin/course/1").text


def test_a_test_of_the_draft_goes_out_with_the_draft_words(
    rt: Runtime, her: FlaskClient, smtp_sink: SMTPSink
) -> None:
    form = _form(her, 1)
    form["subject"] = "Step 1 of 6: Deciding, together"
    _save(her, 1, form)
    data = {"csrf_token": token(her, "/admin/course/edit/1"), "to": "lee@example.test"}
    assert her.post("/admin/course/edit/1/test", data=data).status_code == 303
    work(rt)
    (test,) = smtp_sink.messages_to("lee@example.test")
    assert str(test["Subject"]) == "[TEST] Step 1 of 6: Deciding, together"
    assert _versions(rt) == [1]


def test_her_details_are_a_publish_and_a_setting_still_wins(rt: Runtime, her: FlaskClient) -> None:
    assert "(310) 614-0323" in her.get("/admin/course/7").text  # the closing shows her phone
    page = her.get("/admin/course/details").text
    assert "Set by the server (THERAPIST_EMAIL)" in page  # (the tests set it)
    form = {
        "csrf_token": token(her, "/admin/course/details"),
        "name": "Lee Miller",
        "email": "someone@else.test",  # overridden by the setting: left alone
        "phone": "(310) 555-0199",
        "country_code": "+1",
        "post_url": "https://blog.example/forgiveness",
        "send_hour": "9",
        "weekends": "on",
    }
    done = her.post("/admin/course/details", data=form, follow_redirects=True)
    assert "Saved as version 2" in done.text
    assert _versions(rt) == [1, 2]
    assert "(310) 555-0199" in her.get("/admin/course/7").text
    with rt.database.session(read_only=True) as session:
        from service.courses import versions

        toml = versions.files_of(versions.newest(session, "rebuilding-trust"))["course.toml"]
    assert 'phone = "(310) 555-0199"' in toml and "send_hour = 9" in toml
    assert 'email = "leemiller.therapist@gmail.com"' in toml  # the setting won
    assert "# The author's contact details" in toml  # her comments kept
    listed = her.get("/admin/course/versions").text
    assert "your details: phone, post url, send hour" in listed
    # a value the checks refuse changes nothing, and says why
    form["send_hour"] = "23"
    form["csrf_token"] = token(her, "/admin/course/details")
    refused = her.post("/admin/course/details", data=form, follow_redirects=True).text
    assert "Nothing was changed" in refused and "send_hour" in refused
    form["send_hour"] = "nine"
    refused = her.post("/admin/course/details", data=form, follow_redirects=True).text
    assert "a whole hour, like 8" in refused
    assert _versions(rt) == [1, 2]


def test_the_confirmation_is_edited_like_any_email_and_new_readers_get_it(
    rt: Runtime, her: FlaskClient, client: FlaskClient, smtp_sink: SMTPSink
) -> None:
    assert "The confirmation" in her.get("/admin/course/edit").text
    form = _form(her, "confirmation")
    assert form["subject"] == "Please confirm: {{ course_title }}"
    form["body"] = form["body"].replace(
        "The link works for seven days.", "The link works for a week."
    )
    saved = _save(her, "confirmation", form)
    assert saved.status_code == 200 and saved.json["problems"] == []
    assert "works for a week" in her.get("/admin/course/edit/confirmation/html").text
    publish = {"csrf_token": token(her, "/admin/course/publish"), "note": "a week"}
    her.post("/admin/course/publish", data=publish)
    assert _versions(rt) == [1, 2]
    # a reader signing up now gets the new words
    from tests.test_pages import sign_up

    sign_up(client, email="new@example.test")
    work(rt)
    (confirmation,) = smtp_sink.messages_to("new@example.test")
    assert "works for a week" in confirmation.get_body(("plain",)).get_content()
    # and the folder export carries the course's own confirmation
    with rt.database.session(read_only=True) as session:
        from service.courses import versions

        files = versions.files_of(versions.newest(session, "rebuilding-trust"))
    assert "confirm.md" in files and "works for a week" in files["confirm.md"]
