"""The shipped course (every email renders, complete and faithful) and the course-file
checker's messages, which name the file and the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from emails.course import CourseError, default_course, load_course
from emails.render import Contact, Renderer
from service.context import contact_for
from service.settings import Settings
from workers.cli import main

COURSE = default_course()
_LIST = re.compile(r"^\s*([-*+]|\d+[.)])\s")
CONTACT = Contact(
    therapist_name="Lee Miller",
    therapist_email="lee@example.test",
    therapist_phone="(310) 614-0323",
    postal_address="1 Main St, Los Angeles",
    forgiveness_post_url="https://blog.example.test/forgiveness",
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(COURSE, CONTACT)


def test_the_course_is_a_welcome_six_steps_and_a_closing() -> None:
    assert COURSE.title == "Rebuilding Broken Trust"
    assert len(COURSE.steps) == 8
    assert [s.name for s in COURSE.lesson_steps] == [
        "Commit to moving forward",
        "Get it all in the open",
        "Don’t stuff your feelings",
        "Get practical",
        "Practice forgiveness",
        "Don’t isolate",
    ]
    assert 10 <= sum(s.delay_days for s in COURSE.steps) <= 16  # about two weeks


@pytest.mark.parametrize("index", range(len(COURSE.steps)))
def test_every_email_renders_whole(renderer: Renderer, index: int) -> None:
    step = COURSE.step(index)
    out = renderer.render_step(index, first_name="Sam", unsubscribe_url="https://x.test/u/t")
    assert out.subject and "{" not in out.subject
    assert step.preview
    for part in (out.text, out.html):
        assert "{{" not in part and "{%" not in part
        assert "Sam" in part and "Lee Miller" in part
        assert "https://x.test/u/t" in part
        assert "1 Main St, Los Angeles" in part
        assert "reply" in part.lower()  # each email invites a reply
    assert "font-family" in out.html and "fonts.googleapis" not in out.html
    assert out.html.count("<p>") >= 3
    # plain-text mail apps do not reflow: a paragraph is one line, the sign-off keeps its break
    body = out.text.split("\n--\n")[0]
    for paragraph in body.split("\n\n"):
        lines = paragraph.splitlines()
        if not _LIST.match(lines[0]):
            assert len(lines) == 1 or lines[0].endswith(","), paragraph
    assert re.search(r"\n(Warmly|With warmth),\nLee Miller\n", out.text)
    assert re.search(r"(Warmly|With warmth),<br ?/?>\s*Lee Miller", out.html)


def test_no_name_gets_a_kind_greeting_and_markup_in_a_name_is_escaped(
    renderer: Renderer,
) -> None:
    plain = renderer.render_step(1, first_name=None, unsubscribe_url="https://x.test/u")
    assert plain.text.startswith("Step 1 of 6\n\nHi there,")
    hostile = renderer.render_step(1, first_name="<b>Sam</b>", unsubscribe_url="https://x.test/u")
    assert "&lt;b&gt;Sam&lt;/b&gt;" in hostile.html and "<b>Sam</b>" not in hostile.html


def test_the_forgiveness_post_can_always_be_reached(renderer: Renderer) -> None:
    """Linked when its address is known; else the blog it is on; else the reader is told a
    reply brings it."""
    index = next(s.index for s in COURSE.steps if s.name == "Practice forgiveness")
    out = renderer.render_step(index, first_name="Sam", unsubscribe_url="https://x.test/u")
    assert "Forgiveness: The Real F Word" in out.text
    assert "https://blog.example.test/forgiveness" in out.text
    assert 'href="https://blog.example.test/forgiveness"' in out.html
    unlinked = Renderer(COURSE, Contact("Lee Miller", "lee@example.test", "1", "addr"))
    out = unlinked.render_step(index, first_name="Sam", unsubscribe_url="https://x.test/u")
    assert "Forgiveness: The Real F Word" in out.html
    assert "blog.example.test" not in out.html + out.text
    assert "reply to this email and I’ll send it to you" in out.text
    on_the_blog = Contact("Lee Miller", "l@x.test", "1", "addr", blog_url="https://lee.test")
    out = Renderer(COURSE, on_the_blog).render_step(index, first_name="S", unsubscribe_url="u")
    assert "“Forgiveness: The Real F Word” (https://lee.test)" in out.text
    assert "send it to you" not in out.text


def test_the_closing_email_invites_contact_by_email_and_phone(renderer: Renderer) -> None:
    out = renderer.render_step(7, first_name="Sam", unsubscribe_url="https://x.test/u")
    assert "lee@example.test" in out.text and "(310) 614-0323" in out.text
    assert 'href="mailto:lee@example.test"' in out.html
    assert 'href="tel:3106140323"' in out.html
    assert "stronger foundation of trust" in out.text


def test_every_seed_point_is_in_the_course() -> None:
    text = " ".join(s.body for s in COURSE.steps).lower()
    for point in [
        "both of you",
        "however long it takes",
        "vulnerable",  # commit
        "ugliest",
        "in the light",
        "hurting more",  # in the open
        "no way around it",
        "space",
        "grace",  # feelings
        "boundaries",
        "therapy together",
        "transparency",  # practical
        "easier than it actually is",  # forgiveness
        "dark cloud",
        "isolate",
        "trusted friends",
        "professional",  # isolation
        "romantic" if "romantic" in text else "partners",
        "friend",
        "family",
        "colleagues",
    ]:
        assert point in text, point


def _course(tmp_path: Path, toml: str, steps: dict[str, str]) -> Path:
    (tmp_path / "course.toml").write_text(toml)
    for name, body in steps.items():
        (tmp_path / name).write_text(body)
    return tmp_path


GOOD_TOML = 'slug = "c"\ntitle = "T"\nversion = 1\nsend_hour = 8\ntimezone = "UTC"\n'
GOOD_STEP = "Subject: Hello\n\nHi {{ first_name }}.\n"


@pytest.mark.parametrize(
    ("toml", "steps", "where", "words"),
    [
        (GOOD_TOML + "steps = [\n", {}, "course.toml:6", "left open"),
        (
            GOOD_TOML.replace("send_hour = 8", "send_hour = 25")
            + '[[steps]]\nfile = "a.md"\ndelay_days = 0\n',
            {"a.md": GOOD_STEP},
            "course.toml:4",
            "send_hour must be",
        ),
        (
            GOOD_TOML + '[[steps]]\nfile = "a.md"\ndelay_days = 0\n',
            {},
            "course.toml:7",
            "file 'a.md' not found",
        ),
        (
            GOOD_TOML + '[[steps]]\nfile = "a.md"\ndelay_day = 0\n',
            {"a.md": GOOD_STEP},
            "course.toml:8",
            "unknown key 'delay_day'",
        ),
        (
            GOOD_TOML + '[[steps]]\nfile = "a.md"\ndelay_days = 0\n',
            {"a.md": "Hi there, no headers\n\nbody\n"},
            "a.md:1",
            "expected a header line",
        ),
        (
            GOOD_TOML + '[[steps]]\nfile = "a.md"\ndelay_days = 0\n',
            {"a.md": "Subject: x\n\nline one\nHello {{ frist_name }}\n"},
            "a.md:4",
            "unknown placeholder {{ frist_name }}",
        ),
        (
            GOOD_TOML + '[[steps]]\nfile = "a.md"\ndelay_days = 0\n',
            {"a.md": "Subject: x\n\n{% if first_name %}\nunclosed\n"},
            "a.md:",
            "template error",
        ),
        (
            GOOD_TOML.replace('"UTC"', '"Mars/Olympus"') + '[[steps]]\nfile = "a.md"\n',
            {},
            "course.toml:5",
            "unknown time zone",
        ),
    ],
)
def test_course_errors_name_the_file_and_line(
    tmp_path: Path, toml: str, steps: dict[str, str], where: str, words: str
) -> None:
    folder = _course(tmp_path, toml, steps)
    with pytest.raises(CourseError) as caught:
        load_course(folder)
    message = str(caught.value)
    assert where in message and words in message, message


def test_a_step_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    folder = _course(tmp_path, GOOD_TOML + '[[steps]]\nfile = "a.md"\ndelay_days = 0\n', {})
    (folder / "a.md").write_bytes(b"Subject: x\n\ncaf\xe9\n")
    with pytest.raises(CourseError, match=r"a\.md:3: not UTF-8"):
        load_course(folder)


def test_cli_course_check_passes_the_shipped_course_and_names_a_broken_one(
    tmp_path: Path,
) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["course", "check"])
    assert ok.exit_code == 0 and "8 emails, all fine" in ok.output
    folder = _course(
        tmp_path, GOOD_TOML + '[[steps]]\nfile = "a.md"\ndelay_days = -1\n', {"a.md": GOOD_STEP}
    )
    bad = runner.invoke(main, ["course", "check", str(folder)])
    assert bad.exit_code == 1
    assert f"{folder / 'course.toml'}:7" in bad.output and "delay_days" in bad.output
    assert "Traceback" not in bad.output


def test_cli_preview_prints_the_text_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSEMAIL_INSTANCE", str(tmp_path))
    monkeypatch.setenv("THERAPIST_EMAIL", "lee@example.test")
    result = CliRunner().invoke(main, ["preview", "7", "--name", "Ada"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("From: Lee Miller\nSubject: Where to go from here\n")
    assert "Hi Ada," in result.output and "lee@example.test" in result.output
    assert "<html" not in result.output
    html = CliRunner().invoke(main, ["preview", "2", "--html"])
    assert "<html" in html.output
    missing = CliRunner().invoke(main, ["preview", "9"])
    assert missing.exit_code == 2 and "emails 0 to 7" in missing.output
    discreet = CliRunner().invoke(main, ["preview", "3", "--discreet"])
    assert discreet.output.startswith("From: Weekly notes\nSubject: Notes, 4 of 8\n")
    assert "Rebuilding Broken Trust" not in discreet.output.split("--")[-1]  # the footer


def test_cli_reports_a_configuration_error_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COURSEMAIL_TIME_SCALE", "fast")
    result = CliRunner().invoke(main, ["preview", "1"])
    assert result.exit_code == 1
    assert "configuration error: COURSEMAIL_TIME_SCALE must be a number" in result.output


def test_author_must_be_one_line_and_description_text(tmp_path: Path) -> None:
    steps = '[[steps]]\nfile = "a.md"\ndelay_days = 0\n'
    folder = _course(
        tmp_path, GOOD_TOML + 'author = """Lee\nMiller"""\n' + steps, {"a.md": GOOD_STEP}
    )
    with pytest.raises(CourseError, match=r"course\.toml:6: author must be a line of text"):
        load_course(folder)
    folder = _course(tmp_path, GOOD_TOML + "description = 3\n" + steps, {"a.md": GOOD_STEP})
    with pytest.raises(CourseError, match="description must be text"):
        load_course(folder)


STEPS = '[[steps]]\nfile = "a.md"\ndelay_days = 0\n'


@pytest.mark.parametrize(
    ("extra", "step", "line", "words"),
    [
        (
            '[contact]\nname = "Lee"\nemial = "x"\n',
            GOOD_STEP,
            11,
            "[contact]: unknown setting 'emial'",
        ),
        ('[contact]\nemail = "not an address"\n', GOOD_STEP, 10, "is not an email address"),
        ('[post]\ntitle = "P"\nurl = "ftp://x"\n', GOOD_STEP, 11, "url must be a web address"),
        ("[post]\ntitle = 3\n", GOOD_STEP, 10, "title must be a line of text"),
        ("", "Subject: S\n\nRead {{ forgiveness_post }}.\n", 6, "give its title under [post]"),
        (
            '[discreet]\nsender = "Trust notes"\nwords = ["trust"]\n',
            GOOD_STEP,
            10,
            "sender 'Trust notes' holds 'trust'",
        ),
        ('[discreet]\nwords = ["notes"]\n', GOOD_STEP, 10, "sender 'Weekly notes' holds"),
        ('[discreet]\nsubject = "Notes {n}"\n', GOOD_STEP, 10, "not {n}"),
        ('[discreet]\nsubject = "Notes {number"\n', GOOD_STEP, 10, "unclosed"),
        ('[discreet]\nwords = "trust"\n', GOOD_STEP, 10, "words is a list"),
    ],
)
def test_post_contact_and_discreet_tables_are_checked(
    tmp_path: Path, extra: str, step: str, line: int, words: str
) -> None:
    folder = _course(tmp_path, GOOD_TOML + STEPS + extra, {"a.md": step})
    with pytest.raises(CourseError) as caught:
        load_course(folder)
    assert f"course.toml:{line}: " in str(caught.value) and words in str(caught.value)


def test_the_course_files_contact_reaches_the_emails_unless_settings_override_it(
    tmp_path: Path,
) -> None:
    toml = GOOD_TOML + STEPS + '[contact]\nname = "Robin Hale"\nemail = "robin@example.test"\n'
    step = "Subject: Hi\n\nWrite to {{ therapist_name }} at {{ therapist_email }}.\n"
    course = load_course(_course(tmp_path, toml, {"a.md": step}))
    settings = Settings.from_env(environ={"COURSEMAIL_INSTANCE": str(tmp_path / "i")})
    text = (
        Renderer(course, contact_for(settings, course))
        .render_step(0, first_name=None, unsubscribe_url="https://u")
        .text
    )
    assert "Write to Robin Hale at robin@example.test." in text
    overridden = Settings.from_env(
        environ={"COURSEMAIL_INSTANCE": str(tmp_path / "i"), "THERAPIST_NAME": "Sam Ortiz"}
    )
    text = (
        Renderer(course, contact_for(overridden, course))
        .render_step(0, first_name=None, unsubscribe_url="https://u")
        .text
    )
    assert "Write to Sam Ortiz at robin@example.test." in text


def test_a_discreet_line_that_names_the_course_or_its_subject_is_refused_by_line(
    tmp_path: Path,
) -> None:
    words = '[discreet]\nwords = ["betray"]\n'
    step = "Subject: S\nPreview: P\nDiscreet-Subject: Your betrayal notes\n\nBody.\n"
    folder = _course(tmp_path, GOOD_TOML + STEPS + words, {"a.md": step})
    with pytest.raises(CourseError, match=r"a\.md:3: Discreet-Subject holds 'betray'"):
        load_course(folder)


def test_the_shipped_course_keeps_every_discreet_line_clear_of_its_subject() -> None:
    plan = COURSE.discreet
    assert {"trust", "rebuilding", "broken", "betray", "forgiv"} <= set(plan.words)
    assert plan.sender == "Weekly notes" and plan.subject_for(3, 8) == "Notes, 3 of 8"
