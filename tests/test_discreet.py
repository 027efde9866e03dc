"""Discreet mode: a reader who ticks "Keep these emails discreet in my inbox" gets every
email, the confirmation first, from a neutral sender with a neutral subject and preview line;
the course's name is nowhere in From, Subject, List-Id or the preview. Read at the SMTP sink."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from emails.course import default_course
from service.store.models import Reader, ReaderEvent
from tests.support.desk import confirm_from, token
from tests.support.harness import run_course, work
from tests.support.inbox_view import course_words, shown, top_and_bottom
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

COURSE = default_course()


def _sign_up(client: FlaskClient, address: str, *, discreet: bool) -> None:
    data = {
        "email": address,
        "first_name": "Dee",
        "timezone": "UTC",
        "csrf_token": token(client, "/"),
    }
    if discreet:
        data["discreet"] = "1"
    assert client.post("/", data=data).status_code == 303


def test_every_email_to_a_discreet_reader_hides_the_course(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    _sign_up(client, "dee@example.test", discreet=True)
    _sign_up(client, "open@example.test", discreet=False)
    work(rt)
    for address in ("dee@example.test", "open@example.test"):
        confirm_from(client, smtp_sink.messages_to(address)[0])
    run_course(rt)
    discreet = smtp_sink.messages_to("dee@example.test")
    assert len(discreet) == len(COURSE.steps) + 1  # the confirmation and the whole course
    for message in discreet:
        for header in ("List-Id", "Reply-To"):
            value = str(message[header] or "")
            assert course_words(COURSE, value) == [], (header, value)
        seen = shown(message)
        assert seen["from"] == "Weekly notes"
        for what, text in (*seen.items(), ("top and bottom", top_and_bottom(message))):
            assert course_words(COURSE, text) == [], (what, text)
    subjects = [str(m["Subject"]) for m in discreet]
    assert subjects[0] == "Please confirm your email address"
    assert subjects[1:] == [f"Notes, {n} of 8" for n in range(1, 9)]
    # the preview line, then a spacer: the body's first words stay out of the preview
    assert shown(discreet[4])["preview"].startswith("A few quiet minutes, whenever suits you.")
    assert "Hi Dee" not in shown(discreet[4])["preview"]
    # the other reader's emails say what they are, and their preview stops at its line too
    plain = smtp_sink.messages_to("open@example.test")
    assert shown(plain[4])["preview"].startswith(COURSE.step(3).preview)
    assert "Hi Dee" not in shown(plain[4])["preview"] and "Step 3" not in shown(plain[4])["preview"]
    assert "Rebuilding Broken Trust" in str(plain[0]["Subject"])
    assert str(plain[1]["List-Id"]).startswith("Rebuilding Broken Trust")
    with rt.database.session() as session:
        reader = session.scalar(select(Reader).where(Reader.email == "dee@example.test"))
        assert reader is not None and reader.discreet
        kinds = session.scalars(
            select(ReaderEvent.kind).where(ReaderEvent.reader_id == reader.id)
        ).all()
    assert "discreet_on" in kinds


def test_the_form_can_turn_discretion_on_but_never_off(
    client: FlaskClient, rt: Runtime, smtp_sink: SMTPSink
) -> None:
    _sign_up(client, "kept@example.test", discreet=True)
    _sign_up(client, "kept@example.test", discreet=False)  # someone else types the address
    with rt.database.session() as session:
        assert session.scalar(select(Reader.discreet)) is True
    page = client.get("/").get_data(as_text=True)
    assert 'name="discreet"' in page and "Weekly notes" in page


def test_with_replies_going_straight_to_the_therapist_the_reply_to_names_nothing() -> None:
    """REPLY_MODE=direct: a discreet reader's Reply-To carries the neutral name their inbox
    already shows, not the therapist's."""
    from datetime import UTC, datetime

    from emails.message import Routing, confirmation_parts, course_parts
    from emails.render import Contact, Renderer

    renderer = Renderer(COURSE, Contact("Lee Miller", "lee@example.test", "1", "1 Main St"))
    routing = Routing(
        to_address="dee@example.test",
        first_name="Dee",
        from_address="course@example.test",
        message_id="<m@example.test>",
        date=datetime(2026, 12, 1, tzinfo=UTC),
        reply_address=None,
        discreet=True,
    )
    for _, envelope in (
        confirmation_parts(renderer, routing, confirm_url="https://x.test/c"),
        course_parts(
            renderer,
            3,
            routing,
            unsubscribe_url="https://x.test/u",
            unsubscribe_address=None,
            list_domain="example.test",
        ),
    ):
        assert envelope.reply_to == ("Weekly notes", "lee@example.test")
    confirmation, _ = confirmation_parts(renderer, routing, confirm_url="https://x.test/c")
    assert "asked to receive Rebuilding Broken Trust, a short email course" in " ".join(
        confirmation.text.split()
    )  # the opened email says what it is; nothing the inbox shows does
