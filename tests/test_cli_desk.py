"""``coursemail stats`` and ``coursemail readers export``: the desk's figures on the
command line, and every reader streamed out as CSV or JSON with progress on stderr."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from service.desk import export
from tests.support.env import settings_env
from tests.support.harness import enrolled, tick_and_work
from tests.support.smtp import SMTPSink
from workers.cli import main
from workers.runtime import Runtime


def test_stats_says_where_to_start_then_counts_the_course(rt: Runtime, smtp_sink: SMTPSink) -> None:
    runner = CliRunner(env=settings_env(rt.settings))
    empty = runner.invoke(main, ["stats"])
    assert empty.exit_code == 0, empty.output
    assert "Nobody has signed up yet" in empty.output
    for n in range(2):
        enrolled(rt, f"reader{n}@example.test", timezone="UTC")
    tick_and_work(rt)
    result = runner.invoke(main, ["stats"])
    lines = dict(line.rsplit(None, 1) for line in result.output.splitlines() if line.strip())
    assert lines["Signed up"] == "2" and lines["The welcome"] == "2" and lines["Step 1"] == "0"
    assert lines["Failed emails"] == "0"


def test_export_streams_every_reader_as_csv_or_json(rt: Runtime, smtp_sink: SMTPSink) -> None:
    for n in range(25):
        enrolled(rt, f"reader{n:02d}@example.test", timezone="Europe/Paris", first_name="Zoë")
    runner = CliRunner(env=settings_env(rt.settings))
    as_csv = runner.invoke(main, ["readers", "export"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["email"] for r in rows] == [f"reader{n:02d}@example.test" for n in range(25)]
    assert rows[0]["first_name"] == "Zoë" and rows[0]["status"] == "active"
    assert rows[0]["next_email"] == "0" and rows[0]["course"] == "active"
    assert list(rows[0]) == list(export.FIELDS)
    assert "exported 25 readers" in as_csv.stderr
    as_json = runner.invoke(main, ["readers", "export", "--format", "json"])
    readers = json.loads(as_json.stdout)
    assert len(readers) == 25 and readers[24]["email"] == "reader24@example.test"
    assert readers[0]["timezone"] == "Europe/Paris"
    bad = runner.invoke(main, ["readers", "export", "--format", "xml"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_the_csv_export_never_hands_a_spreadsheet_a_formula(rt: Runtime) -> None:
    names = ['=HYPERLINK("http://x.test","click")', "+1 555", "-2", "@SUM(A1)", "\tTab", "Ordinary"]
    for n, name in enumerate(names):
        enrolled(rt, f"f{n}@example.test", timezone="UTC", first_name=name)
    out = CliRunner(env=settings_env(rt.settings)).invoke(main, ["readers", "export"]).stdout
    shown = [row["first_name"] for row in csv.DictReader(io.StringIO(out))]
    assert shown == ["'" + name for name in names[:-1]] + ["Ordinary"]
