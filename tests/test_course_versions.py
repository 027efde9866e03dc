"""Course versions: a change of words reaches every reader's unsent emails; a change of shape
(an email inserted) is for new readers, and everyone already on the course finishes the
version they began, each email once and in order; export and import round trip byte for byte;
nothing that fails the checks is published."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from emails.course import COURSES_DIR, read_files
from service.courses import versions
from service.store.models import CourseVersion, Delivery, Enrollment
from tests.support.env import settings_env
from tests.support.harness import enrolled, run_course
from tests.support.smtp import SMTPSink
from workers.cli import main
from workers.runtime import Runtime

SHIPPED = COURSES_DIR / "rebuilding-trust"


def _subjects(sink: SMTPSink, address: str) -> list[str]:
    return [str(m["Subject"]) for m in sink.messages_to(address)]


def _publish(rt: Runtime, files: dict[str, str], note: str = "") -> versions.Published:
    with rt.database.session() as session:
        return versions.publish(session, files, note=note, by="lee", now=rt.clock.now())


def _steps_sent(rt: Runtime, reader_id: int) -> list[int]:
    with rt.database.session(read_only=True) as session:
        return list(
            session.scalars(
                select(Delivery.step)
                .where(Delivery.reader_id == reader_id, Delivery.step.is_not(None))
                .order_by(Delivery.id)
            )
        )


def test_a_fixed_word_reaches_unsent_emails_and_nothing_is_sent_twice(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    ahead = enrolled(rt, "ahead@example.test", timezone="UTC")
    run_course(rt, days=8)  # the first reader has had Step 4
    assert 4 in _steps_sent(rt, ahead)
    behind = enrolled(rt, "behind@example.test", timezone="UTC")
    run_course(rt, days=6)  # the second is between Step 3 and Step 4
    assert _steps_sent(rt, behind)[-1] == 3
    had = len(smtp_sink.messages_to("ahead@example.test"))

    files = read_files(SHIPPED)
    files["04-practical.md"] = files["04-practical.md"].replace(
        "Step 4 of 6: What do you each need?", "Step 4 of 6: What do you both need?"
    )
    done = _publish(rt, files, "fixed a word in Step 4")
    assert (done.number, done.line, done.kind) == (2, 1, "words")

    run_course(rt, days=30)
    assert "Step 4 of 6: What do you both need?" in _subjects(smtp_sink, "behind@example.test")
    assert "Step 4 of 6: What do you each need?" not in _subjects(smtp_sink, "behind@example.test")
    # the reader who had Step 4 gets nothing again: only what was still to come
    ahead_subjects = _subjects(smtp_sink, "ahead@example.test")
    assert len(ahead_subjects) == len(set(ahead_subjects)) == 8
    assert len(smtp_sink.messages_to("ahead@example.test")) >= had
    assert _steps_sent(rt, behind) == list(range(8))


def test_an_inserted_email_is_for_new_readers_and_the_others_finish_their_version(
    rt: Runtime, smtp_sink: SMTPSink, tmp_path: Path
) -> None:
    early = enrolled(rt, "early@example.test", timezone="UTC")
    run_course(rt, days=2)  # the welcome and Step 1: between Step 1 and Step 2
    assert _steps_sent(rt, early) == [0, 1]

    files = read_files(SHIPPED)
    extra = (
        "Subject: A pause between steps\nPreview: A breath.\n\n"
        "Hi {{ first_name or 'there' }},\n\nTake a breath.\n"
    )
    files["02b-pause.md"] = extra
    files["course.toml"] = files["course.toml"].replace(
        'file = "03-feelings.md"',
        'file = "02b-pause.md"\ndelay_days = 1\n\n[[steps]]\nfile = "03-feelings.md"',
    )
    done = _publish(rt, files, "a pause after Step 2")
    assert (done.number, done.line, done.kind) == (2, 2, "shape")

    late = enrolled(rt, "late@example.test", timezone="UTC")
    with rt.database.session(read_only=True) as session:
        began = dict(session.execute(select(Enrollment.reader_id, Enrollment.course_version)).all())
    assert began == {early: 1, late: 2}
    run_course(rt, days=40)
    # the early reader: exactly version 1's eight emails, in order, once
    assert _steps_sent(rt, early) == list(range(8))
    early_subjects = _subjects(smtp_sink, "early@example.test")
    assert "A pause between steps" not in early_subjects and len(early_subjects) == 8
    # the new reader: nine, the pause third after Step 2
    late_subjects = _subjects(smtp_sink, "late@example.test")
    assert len(late_subjects) == 9 and late_subjects[3] == "A pause between steps"
    assert late_subjects[2].startswith("Step 2 of 6")


def test_export_then_import_changes_nothing_byte_for_byte(rt: Runtime, tmp_path: Path) -> None:
    env = settings_env(rt.settings)
    out = tmp_path / "out"
    done = CliRunner(env=env).invoke(main, ["course", "export", "rebuilding-trust", str(out)])
    assert done.exit_code == 0, done.output
    for name in read_files(SHIPPED):
        assert (out / name).read_bytes() == (SHIPPED / name).read_bytes()
    again = CliRunner(env=env).invoke(main, ["course", "import", str(out)])
    assert again.exit_code == 0 and "nothing changed" in again.output
    with rt.database.session(read_only=True) as session:
        assert session.scalars(select(CourseVersion.number)).all() == [1]
    # line endings as written survive the round trip too
    (out / "01-commit.md").write_bytes((out / "01-commit.md").read_bytes().replace(b"\n", b"\r\n"))
    assert CliRunner(env=env).invoke(main, ["course", "import", str(out)]).exit_code == 0
    second = tmp_path / "second"
    CliRunner(env=env).invoke(main, ["course", "export", "rebuilding-trust", str(second)])
    assert (second / "01-commit.md").read_bytes() == (out / "01-commit.md").read_bytes()
    assert b"\r\n" in (second / "01-commit.md").read_bytes()


def test_a_folder_that_fails_the_checks_is_not_published(rt: Runtime, tmp_path: Path) -> None:
    env = settings_env(rt.settings)
    out = tmp_path / "broken"
    CliRunner(env=env).invoke(main, ["course", "export", "rebuilding-trust", str(out)])
    text = (out / "03-feelings.md").read_text()
    (out / "03-feelings.md").write_text(text.replace("Subject:", "Subjekt:", 1))
    done = CliRunner(env=env).invoke(main, ["course", "import", str(out)])
    assert done.exit_code == 1
    assert "03-feelings.md:1:" in done.output and "Subject" in done.output
    with rt.database.session(read_only=True) as session:
        assert session.scalars(select(CourseVersion.number)).all() == [1]
    refused = CliRunner(env=env).invoke(main, ["course", "export", "no-such-course", str(out)])
    assert refused.exit_code == 1 and "no course 'no-such-course'" in refused.output


def test_versions_roll_back_and_compare_word_by_word(rt: Runtime) -> None:
    files = read_files(SHIPPED)
    files["01-commit.md"] = files["01-commit.md"].replace("a long time", "a very long time")
    _publish(rt, files, "longer")
    with rt.database.session() as session:
        changes = versions.compare(session, "rebuilding-trust", 1, 2)
        assert list(changes) == ["01-commit.md"]
        assert ("new", "very ") in changes["01-commit.md"] or any(
            kind == "new" and "very" in text for kind, text in changes["01-commit.md"]
        )
        back = versions.roll_back(session, "rebuilding-trust", 1, by="lee", now=rt.clock.now())
        assert (back.number, back.kind) == (3, "words")
        assert versions.files_of(versions.newest(session, "rebuilding-trust")) == read_files(
            SHIPPED
        )
    shown = CliRunner(env=settings_env(rt.settings)).invoke(main, ["course", "versions"])
    assert "back to version 1" in shown.output and "longer" in shown.output
