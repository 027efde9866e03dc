"""The desk's actions on the command line: import a CSV (bad lines reported by number, the
good ones confirmed with the consent stated, nothing twice on a re-run, flat memory on a long
file), pause, resume, erase, and a [TEST] send."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from service.store.models import (
    Consent,
    Enrollment,
    EnrollmentStatus,
    Reader,
    ReaderEvent,
    ReaderStatus,
)
from tests.support.env import process_env, settings_env
from tests.support.harness import enrolled, tick_and_work
from tests.support.smtp import SMTPSink
from workers.cli import main
from workers.runtime import Runtime

CONSENT = "signed up on the paper form at the spring workshop"

BROKEN = """email,first_name,timezone
ana@example.test,Ana,Europe/Madrid
not-an-address,Bob,
ana@example.test,Ana again,
cy@example.test,Cy,Mars/Olympus
dee@example.test,"Dee, with a comma",UTC
eve@example.test,Eve,UTC,extra
fay@example.test,,
gus@example.test,Gus\u202e,UTC
hal@example.test
"""


def _invoke(rt: Runtime, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner(env=settings_env(rt.settings)).invoke(main, list(args), input=input)


def test_an_import_reports_every_bad_line_and_imports_nothing_unless_told(
    rt: Runtime, tmp_path: Path
) -> None:
    file = tmp_path / "list.csv"
    file.write_text(BROKEN, encoding="utf-8")
    refused = _invoke(rt, "readers", "import", str(file), "--consent", CONSENT)
    assert refused.exit_code == 1 and "nothing was imported" in refused.stderr
    assert f"{file}:3: 'not-an-address' is not an email address" in refused.stderr
    with rt.database.session() as session:
        assert session.scalar(select(func.count(Reader.id))) == 0
    result = _invoke(rt, "readers", "import", str(file), "--consent", CONSENT, "--skip-bad")
    assert result.exit_code == 1, result.output
    assert "Imported 3 readers." in result.stdout
    errors = result.stderr
    assert f"{file}:3: 'not-an-address' is not an email address" in errors
    assert f"{file}:4: the same address as line 2" in errors
    assert f"{file}:5: 'Mars/Olympus' is not a time zone" in errors
    assert f"{file}:7: more fields than the first line names" in errors
    assert f"{file}:9: Please use just letters" in errors
    assert f"{file}:10: fewer fields than the first line names" in errors
    assert "6 lines were not imported" in errors and "Traceback" not in result.output
    with rt.database.session() as session:
        readers = {s.email: s for s in session.scalars(select(Reader)).all()}
        assert set(readers) == {"ana@example.test", "dee@example.test", "fay@example.test"}
        assert readers["dee@example.test"].first_name == "Dee, with a comma"
        assert readers["ana@example.test"].timezone == "Europe/Madrid"
        assert readers["fay@example.test"].timezone == "America/Los_Angeles"
        assert all(r.status == ReaderStatus.ACTIVE and r.confirmed_at for r in readers.values())
        consents = list(session.scalars(select(Consent)))
        assert {c.consent_text for c in consents} == {CONSENT} and len(consents) == 3
        assert session.scalar(select(func.count(Enrollment.id))) == 3
        assert set(session.scalars(select(ReaderEvent.kind))) == {"imported"}
    again = _invoke(rt, "readers", "import", str(file), "--consent", CONSENT, "--skip-bad")
    assert "Imported 0 readers." in again.stdout
    assert "3 were already on the list" in again.stdout
    with rt.database.session() as session:
        assert session.scalar(select(func.count(Reader.id))) == 3
        assert session.scalar(select(func.count(Consent.id))) == 3


def test_imported_readers_get_the_course(rt: Runtime, tmp_path: Path, smtp_sink: SMTPSink) -> None:
    file = tmp_path / "one.csv"
    file.write_text("email\nivy@example.test\n", encoding="utf-8")
    assert _invoke(rt, "readers", "import", str(file), "--consent", CONSENT).exit_code == 0
    rt.clock.set(datetime.now(UTC) + timedelta(minutes=1))  # type: ignore[attr-defined]
    tick_and_work(rt)  # (the command ran on the real clock)
    [welcome] = smtp_sink.messages_to("ivy@example.test")
    assert "List-Unsubscribe" in welcome


def test_a_file_that_cannot_be_read_is_named_with_its_line(rt: Runtime, tmp_path: Path) -> None:
    file = tmp_path / "wrong.csv"
    file.write_text("address,name\nx@example.test,X\n", encoding="utf-8")
    result = _invoke(rt, "readers", "import", str(file), "--consent", CONSENT)
    assert (
        result.exit_code == 1
        and f"{file}:1: the first line names no 'email' column" in result.output
    )
    file.write_text("email,phone\nx@example.test,123\n", encoding="utf-8")
    result = _invoke(rt, "readers", "import", str(file), "--consent", CONSENT)
    assert "unknown columns phone" in result.output
    file.write_text("", encoding="utf-8")
    assert (
        "the file is empty"
        in _invoke(rt, "readers", "import", str(file), "--consent", CONSENT).output
    )
    short = _invoke(rt, "readers", "import", str(file), "--consent", "yes")
    assert short.exit_code == 2 and "say how these readers agreed" in short.output
    missing = _invoke(rt, "readers", "import", str(tmp_path / "nope.csv"), "--consent", CONSENT)
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_a_file_broken_late_imports_nothing_and_names_its_line(rt: Runtime, tmp_path: Path) -> None:
    file = tmp_path / "late.csv"
    good = "".join(f"r{n}@example.test,R{n},UTC\n" for n in range(1500))
    file.write_bytes(
        b"email,first_name,timezone\n" + good.encode() + b"zo@example.test,Zo\xe9,UTC\n"
    )
    result = _invoke(rt, "readers", "import", str(file), "--consent", CONSENT)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{file}:1502: this line is not UTF-8 text" in result.stderr
    file.write_text(
        "email,first_name,timezone\n" + good + "zo@example.test," + "x" * 200_000 + ",UTC\n",
        encoding="utf-8",
    )
    result = _invoke(rt, "readers", "import", str(file), "--consent", CONSENT, "--skip-bad")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{file}:1502: this line cannot be read as CSV" in result.output
    assert "nothing was imported" in result.output
    with rt.database.session() as session:
        assert session.scalar(select(func.count(Reader.id))) == 0


def _write(file: Path, start: int, count: int) -> None:
    with file.open("w", encoding="utf-8") as out:
        out.write("email,first_name,timezone\n")
        for n in range(start, start + count):
            out.write(f"reader{n}@example.test,Reader {n},Europe/London\n")


#: Runs the command in a fresh interpreter and prints its peak resident memory (KiB).
MEASURED = (
    "import resource, sys\n"
    "from workers.cli import main\n"
    "try:\n    main(sys.argv[1:], standalone_mode=False)\n"
    "finally:\n"
    "    print('peak', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def _peak_while_importing(rt: Runtime, file: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, "readers", "import", str(file), "--consent", CONSENT],
        env=process_env(rt.settings),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = re.search(r"^peak (\d+)$", done.stderr, re.MULTILINE)
    assert found, done.stderr
    return int(found.group(1))


def test_a_long_file_is_imported_with_flat_memory(rt: Runtime, tmp_path: Path) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    _write(small, 0, 5_000)
    _write(large, 5_000, 50_000)
    peak_small = _peak_while_importing(rt, small)
    peak_large = _peak_while_importing(rt, large)
    with rt.database.session() as session:
        assert session.scalar(select(func.count(Reader.id))) == 55_000
    # ten times the rows, about the same memory: a chunk at a time (holding the 45,000 more
    # readers' rows, or even their addresses, would cost far more than this margin)
    assert peak_large - peak_small < 8 * 1024, (peak_small, peak_large)


def test_pause_resume_and_erase_from_the_command_line(rt: Runtime, smtp_sink: SMTPSink) -> None:
    enrolled(rt, "pat@example.test", timezone="UTC")
    paused = _invoke(rt, "pause", "pat@example.test")
    assert paused.exit_code == 0 and "Paused" in paused.output
    with rt.database.session() as session:
        assert session.scalar(select(Enrollment.status)) == EnrollmentStatus.PAUSED
    twice = _invoke(rt, "pause", "PAT@example.test")
    assert twice.exit_code == 1 and "paused, not active" in twice.output
    assert "Resumed" in _invoke(rt, "resume", "pat@example.test").output
    kept = _invoke(rt, "erase", "pat@example.test", input="n\n")
    assert kept.exit_code == 1 and "Aborted" in kept.output
    erased = _invoke(rt, "erase", "pat@example.test", "--yes")
    assert erased.exit_code == 0 and "Erased" in erased.output
    with rt.database.session() as session:
        assert session.scalar(select(Reader.email)) != "pat@example.test"
        kinds = list(session.scalars(select(ReaderEvent.kind).order_by(ReaderEvent.id)))
        assert kinds == ["confirmed", "paused", "resumed", "unsubscribed", "erased"]
    unknown = _invoke(rt, "pause", "nobody@example.test")
    assert unknown.exit_code == 1 and "no reader has the address" in unknown.output


def test_send_test_marks_the_subject_and_writes_nothing(rt: Runtime, smtp_sink: SMTPSink) -> None:
    result = _invoke(rt, "send-test", "3", "--to", "lee@example.test")
    assert result.exit_code == 0, result.output
    confirmation = _invoke(rt, "send-test", "confirmation", "--to", "lee@example.test")
    assert confirmation.exit_code == 0
    subjects = [m["Subject"] for m in smtp_sink.messages_to("lee@example.test")]
    assert len(subjects) == 2 and all(s.startswith("[TEST] ") for s in subjects)
    assert "Step 3" in subjects[0]
    with rt.database.session() as session:
        assert session.scalar(select(func.count(Reader.id))) == 0
    assert _invoke(rt, "send-test", "99", "--to", "lee@example.test").exit_code == 1
    assert _invoke(rt, "send-test", "two", "--to", "lee@example.test").exit_code == 2
    assert _invoke(rt, "send-test", "1", "--to", "lee").exit_code == 2
