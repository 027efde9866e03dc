"""No log line holds an address in full, a message body or a reader's reply: an address is
written ``r***@example.test`` by every logger in the process (ours, gunicorn's access log,
the libraries'), once the web app or a ``coursemail`` command has started."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import assume, given
from hypothesis import strategies as st

from service.logmask import mask
from tests.support.desk import join_by_web, sign_in
from tests.support.harness import run_course, work
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime

ADDRESS = "ren.private@example.test"
SECRET_WORDS = "my husband must never read this"


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("to ren@example.test", "to r***@example.test"),
        ("550 <a.b+c@mail.example.co.uk>: unknown", "550 <a***@mail.example.co.uk>: unknown"),
        # masking errs wide: what may be part of an address goes with it
        ("GET /admin/readers?q=ren%40x.test", "GET /***%40x.test"),
        ("zoë@exämple.test", "z***@exämple.test"),
        ("nothing @ here, user@localhost", "nothing @ here, user@localhost"),
        ('from "ren private"@example.test', 'from "***@example.test'),
        ("refused o'reilly@example.test", "refused o***@example.test"),
        ("to {a!b#c}~d@example.test", "to {***@example.test"),
        ("to ren@[192.0.2.1]", "to r***@[192.0.2.1]"),
        ("'ren@example.test'", "'***@example.test'"),
        (
            '"GET /preferences/eyJhIjoxfQ.abc-_x/archive HTTP/1.1" 200',
            '"GET /preferences/…/archive HTTP/1.1" 200',
        ),
        ("GET /u/Ab.c_d-e=", "GET /u/…"),
        # hidden by encoding: masked in the decoded form, and the line written decoded
        ("GET /pr%65ferences/eyJh.x/archive", "GET /preferences/…/archive"),
        ("GET /preferences%2FeyJh.x", "GET /preferences/…"),
        ("q=ren%2540x.test", "q***@x.test"),
        ("to ren&#64;example.test", "to r***@example.test"),
        ("to ren＠example.test", "to r***@example.test"),
        ("to ren@example%2Etest", "to r***@example.test"),
        ("a plain 100% line", "a plain 100% line"),
        ("POST /confirm/Ab.cd?x=1", "POST /confirm/…?x=1"),
    ],
)
def test_an_address_keeps_only_its_first_letter_and_domain(line: str, masked: str) -> None:
    assert mask(line) == masked


def test_a_traceback_and_a_database_error_quote_no_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy import create_engine, text

    from service import logmask

    logmask.install()
    engine = create_engine("sqlite://", hide_parameters=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT * FROM nowhere WHERE a = :a"), {"a": ADDRESS})
    except Exception:
        logging.getLogger("coursemail.test").exception("the query failed")
    try:
        raise ValueError(f"no reader {ADDRESS} at /preferences/eyJh.secret")
    except ValueError:
        logging.getLogger("coursemail.test").exception("lookup failed")
    written = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert "Traceback" in written and "ValueError" in written
    assert ADDRESS not in written and "eyJh.secret" not in written
    assert "r***@example.test" in written


_AROUND = ["{}", "to {}", "<{}>", "'{}'", '"{}"', "q={}&page=2", "550 5.1.1 <{}>: unknown", "({})"]


@given(
    address=st.emails(),
    around=st.sampled_from(_AROUND),
    encode=st.booleans(),
)
def test_no_address_of_any_form_survives_masking(address: str, around: str, encode: bool) -> None:
    at = "%40" if encode else "@"  # as in a query string, or as written
    written = quote(address, safe="") if encode else address
    line = mask(around.format(written))
    local, _, domain = written.rpartition(at)
    assume("*" not in local)  # the mask is written with stars: a starry local part proves nothing
    assert written not in line and f"***{at}{domain}" in line
    assert local[1:] + at not in line or len(local) == 1


def test_a_readers_whole_course_leaves_no_address_or_words_in_the_logs(
    client: FlaskClient,
    desk: FlaskClient,
    rt: Runtime,
    smtp_sink: SMTPSink,
    listener: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    join_by_web(client, rt, smtp_sink, ADDRESS)
    run_course(rt)
    welcome = smtp_sink.messages_to(ADDRESS)[1]
    data = reply_to(welcome, SECRET_WORDS + ". I want to die.", sender=ADDRESS)
    assert send(listener, ADDRESS, [reply_address(welcome)], data) == {}
    work(rt)
    sign_in(desk)
    desk.get(f"/admin/readers?q={ADDRESS}")
    # what libraries and servers log passes through the same net
    logging.getLogger("gunicorn.access").info('"GET /admin/readers?q=%s HTTP/1.1" 200', ADDRESS)
    logging.getLogger("coursemail.send").warning("relay said: 550 <%s> unknown", ADDRESS)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) > 20  # the course ran, and was logged
    assert not [line for line in lines if ADDRESS in line or "ren.private%40" in line]
    assert not [line for line in lines if SECRET_WORDS in line]
    assert any("r***@example.test" in line for line in lines)
