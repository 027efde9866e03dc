"""Sending setup's two live tests, sent through the relay exactly as course email goes
(the same transport, DKIM-signed): one to the therapist, and one to a ``probe+`` address at
``REPLY_DOMAIN`` that should come back through its MX to the reply listener. Used by
``coursemail doctor --send`` (which then waits for the probe) and the desk's button."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from emails.course import default_course
from emails.probe import reply_probe, therapist_test
from service.desk.sending_setup import probe_address
from workers.runtime import Runtime
from workers.transport import DeliveryError, Outgoing, Transport

log = logging.getLogger("coursemail.doctor")


@dataclass(frozen=True)
class Sent:
    #: None when the relay took the test to the therapist, else what it said
    therapist_error: str | None
    therapist: str
    #: the probe's address, or None when replies are not tracked (REPLY_MODE=direct)
    probe: str | None
    probe_error: str | None


def send_tests(rt: Runtime) -> Sent:
    s = rt.settings
    now = rt.clock.now()
    course = default_course()
    therapist = rt.contact(course).therapist_email
    to_her = therapist_test(
        course_title=course.title,
        sender=s.MAIL_FROM,
        therapist=therapist,
        domain=s.mail_domain,
        date=now,
        desk_url=f"{s.PUBLIC_URL}/admin/setup",
    )
    probe = probe_address(rt.addresses) if s.tracked_replies else None
    transport = rt.make_transport()
    try:
        therapist_error = _send(transport, Outgoing.of(s.MAIL_FROM, therapist, to_her))
        probe_error = None
        if probe is not None:
            message = reply_probe(sender=s.MAIL_FROM, to=probe, domain=s.mail_domain, date=now)
            probe_error = _send(transport, Outgoing.of(s.MAIL_FROM, probe, message))
    finally:
        transport.close()
    log.info("sending setup tests sent (therapist: %s)", therapist_error or "accepted")
    return Sent(therapist_error, therapist, probe, probe_error)


def _send(transport: Transport, outgoing: Outgoing) -> str | None:
    try:
        transport.send(
            outgoing.envelope_from, [outgoing.recipient], outgoing.data, smtputf8=outgoing.smtputf8
        )
    except DeliveryError as error:
        return str(error)
    return None
