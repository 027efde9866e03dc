"""What an operator sees and can do: trouble is counted in /healthz, listed by
``coursemail status``, and an ambiguous or failed email can be resent on purpose."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from emails.course import default_course
from service.clock import ManualClock
from service.store.models import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
)
from tests.support.env import settings_env
from tests.support.harness import enrolled, run_course, tick_and_work
from tests.support.smtp import SMTPSink
from workers import runtime as runtime_module
from workers.cli import main
from workers.runtime import Runtime

COURSE = default_course()


@pytest.fixture
def clock() -> ManualClock:
    # the CLI runs on the real clock: "the last 24 hours" must mean the same to both
    return ManualClock(datetime.now(UTC))


def _cli(rt: Runtime, *args: str) -> tuple[int, str]:
    runtime_module.install(None)  # the CLI builds its own runtime from the environment
    try:
        result = CliRunner(env=settings_env(rt.settings)).invoke(main, list(args))
    finally:
        runtime_module.install(rt)  # jobs run in this process afterwards use the test's
    return result.exit_code, result.output


def _welcome(rt: Runtime) -> Delivery:
    with rt.database.session() as session:
        return session.scalars(
            select(Delivery).where(Delivery.kind == DeliveryKind.STEP, Delivery.step == 0)
        ).one()


def test_an_ambiguous_email_is_counted_listed_and_can_be_resent(
    rt: Runtime, smtp_sink: SMTPSink, client: FlaskClient
) -> None:
    smtp_sink.handler.drop_after_data = 1  # the connection drops after the final "."
    enrolled(rt, "sam@example.test", timezone="UTC")
    tick_and_work(rt)
    welcome = _welcome(rt)
    assert welcome.status == DeliveryStatus.AMBIGUOUS
    health = client.get("/healthz").get_json()
    assert (health["ambiguous_24h"], health["failed_24h"]) == (1, 0)

    code, output = _cli(rt, "status")
    assert code == 0, output
    assert "Last 24 hours: 1 ambiguous, 0 failed" in output
    assert f"#{welcome.id}" in output and "sam@example.test" in output
    assert "after the message was sent" in output

    code, output = _cli(rt, "resend", str(welcome.id))
    assert code == 0, output
    [message] = smtp_sink.messages_to("sam@example.test")
    assert message["Subject"] == COURSE.steps[0].subject
    assert message["Message-ID"] == welcome.message_id  # the same email, so clients show one
    again = _welcome(rt)
    assert again.status == DeliveryStatus.SENT
    assert (again.last_error or "").startswith("resent by hand (it was ambiguous:")

    code, output = _cli(rt, "resend", str(welcome.id))
    assert code == 1 and "only ambiguous or failed emails are resent by hand" in output
    assert len(smtp_sink.messages_to("sam@example.test")) == 1
    code, output = _cli(rt, "resend", "999999")
    assert code == 1 and "there is no email #999999" in output


def test_resending_a_course_that_gave_up_carries_it_on(
    rt: Runtime, smtp_sink: SMTPSink, client: FlaskClient
) -> None:
    smtp_sink.handler.rcpt_replies["sam@example.test"] = "452 4.2.2 mailbox full"
    enrolled(rt, "sam@example.test", timezone="UTC")
    run_course(rt)
    welcome = _welcome(rt)
    assert welcome.status == DeliveryStatus.FAILED_PERMANENT
    assert client.get("/healthz").get_json()["failed_24h"] == 1

    del smtp_sink.handler.rcpt_replies["sam@example.test"]  # the mailbox has room again
    code, output = _cli(rt, "resend", str(welcome.id))
    assert code == 0, output
    with rt.database.session() as session:
        enrollment = session.scalars(select(Enrollment)).one()
        assert (enrollment.status, enrollment.next_step) == (EnrollmentStatus.ACTIVE, 1)
    run_course(rt)
    subjects = [m["Subject"] for m in smtp_sink.messages_to("sam@example.test")]
    assert subjects == [step.subject for step in COURSE.steps]


def test_a_resend_that_fails_changes_nothing(rt: Runtime, smtp_sink: SMTPSink) -> None:
    smtp_sink.handler.drop_after_data = 1
    enrolled(rt, "sam@example.test", timezone="UTC")
    tick_and_work(rt)
    welcome = _welcome(rt)
    smtp_sink.handler.data_replies = ["451 4.3.0 not now"]
    code, output = _cli(rt, "resend", str(welcome.id))
    assert code == 1 and "was not resent: end of DATA: 451" in output
    assert _welcome(rt).status == DeliveryStatus.AMBIGUOUS


def test_status_on_a_quiet_day_says_so(rt: Runtime) -> None:
    code, output = _cli(rt, "status")
    assert code == 0, output
    assert "Emails by state: none yet" in output and "Nothing needs a look." in output
