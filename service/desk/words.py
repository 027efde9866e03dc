"""The desk in plain words: what state an email is in, where a reader stands, and the
technical detail (a Message-ID, the server’s own answer) kept one click away, never in the
sentence the therapist reads first."""

from __future__ import annotations

from service.store.models import DeliveryStatus, EnrollmentStatus, Reader, ReaderStatus

EMAIL_STATES = {
    DeliveryStatus.PENDING: "On its way",
    DeliveryStatus.CLAIMED: "On its way",
    DeliveryStatus.SENDING: "On its way",
    DeliveryStatus.SENT: "Sent",
    DeliveryStatus.RETRY_WAIT: "Waiting to try again",
    DeliveryStatus.FAILED_PERMANENT: "Could not be sent",
    DeliveryStatus.AMBIGUOUS: "May not have arrived",
    DeliveryStatus.CANCELLED: "Not sent",
    DeliveryStatus.BOUNCED: "Sent, then returned by their mail server",
}

READER_STATES = {
    ReaderStatus.PENDING: "Has not confirmed their address yet",
    ReaderStatus.ACTIVE: "Taking the course",
    ReaderStatus.UNSUBSCRIBED: "Unsubscribed",
    ReaderStatus.BOUNCED: "No more email goes to them (it bounced, or was marked as spam)",
}

COURSE_STATES = {
    EnrollmentStatus.ACTIVE: "",
    EnrollmentStatus.PAUSED: "paused",
    EnrollmentStatus.COMPLETED: "finished the course",
    EnrollmentStatus.CANCELLED: "",
    EnrollmentStatus.STALLED: "held up: an email could not be sent",
}


def email_state(status: DeliveryStatus | str) -> str:
    return EMAIL_STATES[DeliveryStatus(status)]


def reader_state(reader: Reader, course_status: EnrollmentStatus | str | None = None) -> str:
    """ "Taking the course, paused"."""
    if reader.erased_at is not None:
        return "Their data was erased"
    said = READER_STATES[reader.status]
    extra = COURSE_STATES.get(EnrollmentStatus(course_status), "") if course_status else ""
    return f"{said}, {extra}" if extra and reader.status == ReaderStatus.ACTIVE else said


def address(reader: Reader) -> str:
    """The reader’s address, or a plain word for an erased one (never the stand-in)."""
    return "(erased)" if reader.erased_at is not None else reader.email


REPLY_STATES = {
    "received": "Just arrived",
    "to_forward": "On its way to your inbox",
    "forwarding": "On its way to your inbox",
    "retry_wait": "Could not reach your inbox yet: trying again",
    "forwarded": "In your inbox",
    "recorded": "Kept here",
    "returned": "Your mail server sent it back: you did not get it (read it here)",
}
#: What "forwarded" means under each REPLY_FORWARD.
DELIVERED = {"full": "In your inbox", "notify": "You were sent a notice", "off": "Kept here"}


def reply_state(status: str, forward: str = "full") -> str:
    if status == "forwarded":
        return DELIVERED.get(forward, DELIVERED["full"])
    if forward != "full" and status in ("to_forward", "forwarding", "retry_wait"):
        return REPLY_STATES[status].replace("On its way to your inbox", "A notice is on its way")
    return REPLY_STATES.get(status, status)
