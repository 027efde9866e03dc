"""The overview's sign-ups per day, its snapshot (counted by the tick for a large list, live
for a small one), and the lists behind its health figures."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import update

from service.desk import snapshot
from service.store.models import Delivery, DeliveryStatus, DeskSnapshot
from tests.support.desk import sign_in
from tests.support.harness import enrolled, tick_and_work
from tests.support.smtp import SMTPSink
from workers import tick
from workers.runtime import Runtime

ROW = re.compile(r'<th scope="row">(?:<a [^>]+>)?([^<]+)(?:</a>)?</th><td>(\d+)</td>')


def test_sign_ups_are_counted_per_day_for_thirty_days(desk: FlaskClient, rt: Runtime) -> None:
    start = rt.clock.now()
    for days_ago, count in ((40, 1), (2, 2), (0, 3)):
        rt.clock.set(start - timedelta(days=days_ago))  # type: ignore[attr-defined]
        for n in range(count):
            enrolled(rt, f"d{days_ago}-{n}@example.test", timezone="UTC")
    rt.clock.set(start)  # type: ignore[attr-defined]
    sign_in(desk)
    page = desk.get("/admin").get_data(as_text=True)
    days = dict(re.findall(r'<th scope="row">(\d{4}-\d\d-\d\d)</th><td>(\d+)</td>', page))
    assert len(days) == 30
    assert days[str(start.date())] == "3"
    assert days[str((start - timedelta(days=2)).date())] == "2"
    assert sum(int(n) for n in days.values()) == 5  # the one 40 days ago is outside
    assert 'aria-labelledby="per-day-title"' in page


def test_a_large_list_is_shown_from_the_ticks_snapshot_and_refreshed(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "one@example.test", timezone="UTC")
    tick.run_once(rt)  # counts the figures into the snapshot
    with rt.database.session() as session:
        row = session.get(DeskSnapshot, 1)
        assert row is not None and row.taken_at == rt.clock.now()
        # as if the list were large and counting took a second: the overview uses it
        data = json.loads(row.data)
        data["funnel"][0][1] = snapshot.LARGE_LIST
        assert data["complaints"] == [0, 0]
        data["complaints"] = [2, 1000]  # the 30-day rate is counted there too: 0.2 %
        session.execute(update(DeskSnapshot).values(seconds=1.0, data=json.dumps(data)))
    enrolled(rt, "two@example.test", timezone="UTC")
    sign_in(desk)
    page = desk.get("/admin").get_data(as_text=True)
    assert dict(ROW.findall(page))["Signed up"] == str(snapshot.LARGE_LIST)
    assert "Counted at" in page
    assert "0.20 % of course emails were marked as spam" in page
    # not counted again before its spacing (30 times its cost) has passed
    assert not snapshot.refresh_if_due(rt.database, now=rt.clock.now(), step_titles=["W"])
    rt.clock.advance(snapshot.spacing(1.0))  # type: ignore[attr-defined]
    tick.run_once(rt)
    page = desk.get("/admin").get_data(as_text=True)
    # the new count found a small list: the overview counts live again
    assert dict(ROW.findall(page))["Signed up"] == "2" and "Counted at" not in page


def test_the_refresh_is_spaced_by_its_cost() -> None:
    assert snapshot.spacing(0.001) == snapshot.SOONEST
    assert snapshot.spacing(1.0) == timedelta(seconds=30)
    assert snapshot.spacing(60) == snapshot.LATEST


def test_each_health_figure_opens_its_rows(
    desk: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "amy@example.test", timezone="UTC")
    enrolled(rt, "due@example.test", timezone="UTC")
    tick_and_work(rt)
    with rt.database.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.step == 0, Delivery.reader_id == 1)
            .values(status=DeliveryStatus.AMBIGUOUS, last_error="the connection dropped")
        )
    sign_in(desk)
    overview = desk.get("/admin").get_data(as_text=True)
    for state in ("ambiguous", "failed_permanent", "stale", "due"):
        assert f"/admin/emails?state={state}" in overview
    ambiguous = desk.get("/admin/emails?state=ambiguous").get_data(as_text=True)
    assert "amy@example.test" in ambiguous and "the connection dropped" in ambiguous
    assert "due@example.test" not in ambiguous
    due = desk.get("/admin/emails?state=due").get_data(as_text=True)
    assert "due@example.test" in due and "Step 1" in due
    assert "Nothing here needs you" in desk.get("/admin/emails?state=failed_permanent").get_data(
        as_text=True
    )
    assert desk.get("/admin/emails?state=lost").status_code == 400


def test_the_overview_says_where_readers_unsubscribed(desk: FlaskClient, rt: Runtime) -> None:
    from service.readers import lifecycle
    from service.store.models import Reader

    left_early = enrolled(rt, "early@example.test", timezone="UTC")
    enrolled(rt, "stays@example.test", timezone="UTC")
    with rt.database.session() as session:
        pending = lifecycle.sign_up(
            session,
            email="never@example.test",
            first_name=None,
            timezone="UTC",
            now=rt.clock.now(),
            mail_domain="x.test",
        ).reader
        lifecycle.mark_unsubscribed(session, pending, now=rt.clock.now(), how="page")
    tick_and_work(rt)  # the welcome
    with rt.database.session() as session:
        reader = session.get(Reader, left_early)
        assert reader is not None
        lifecycle.mark_unsubscribed(session, reader, now=rt.clock.now(), how="page")
    sign_in(desk)
    page = desk.get("/admin").get_data(as_text=True)
    table = page[page.index("Where readers unsubscribed") :]
    left = dict(ROW.findall(table))
    assert left["Before confirming"] == "1" and left["Before step 1"] == "1"
    assert "Before the welcome" not in left
