"""Complaints by webhook, for relays that are ESPs: someone marked a course email as spam.

- ``POST /feedback/postmark``: Postmark's SpamComplaint webhook (HTTP basic auth);
- ``POST /feedback/mailgun``: Mailgun's ``complained`` event, checked with Mailgun's own
  signature and ``MAILGUN_SIGNING_KEY``;
- ``POST /feedback/sendgrid``: SendGrid's Event Webhook (``spamreport`` events; basic auth);
- ``POST /feedback/ses``: Amazon SES through SNS (``Complaint`` notifications; basic auth in
  the subscription's URL); the subscription's confirmation is answered by visiting its
  ``SubscribeURL`` when that is Amazon's own.

Each complaint suppresses the reader with that address (``service.inbox.complaints``), once:
providers retry webhooks, and a retried one is answered 200 without counting twice. Other
events (deliveries, opens, bounces, which we learn from the mail itself) are answered 200 and
ignored, so the provider does not retry them. Authentication as ``service.web.webhooks``.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from service.inbox import complaints, inbound
from service.web.security import csrf, limiter
from service.web.shared import context
from service.web.webhooks import (
    BASIC_AUTH_FAILURES,
    RequestRefused,
    answer_in_json,
    check_basic_auth,
    check_fresh,
    check_signature,
    configured,
    retry_later,
    wrong_password,
)

log = logging.getLogger("coursemail.webhook")

bp = Blueprint("feedback", __name__, url_prefix="/feedback")

#: Where SNS asks us to confirm a subscription: Amazon's own host, nothing else.
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
#: A webhook body larger than this is not a complaint report.
MAX_BODY = 1024 * 1024


@bp.before_request
def _small_bodies() -> None:
    request.max_content_length = MAX_BODY


answer_in_json(bp, "coursemail feedback")


@bp.post("/postmark")
@limiter.limit(BASIC_AUTH_FAILURES, deduct_when=wrong_password)
def postmark() -> ResponseReturnValue:
    check_basic_auth()
    data = _json_object("Postmark's webhook JSON")
    if data.get("RecordType") != "SpamComplaint":
        return _ignored(f"a Postmark {data.get('RecordType') or 'unknown'} record")
    return _complaints([data.get("Email")], source="Postmark")


@bp.post("/mailgun")
def mailgun() -> ResponseReturnValue:
    key = configured("MAILGUN_SIGNING_KEY", context().settings.MAILGUN_SIGNING_KEY)
    data = _json_object("Mailgun's webhook JSON")
    signed = data.get("signature")
    if not isinstance(signed, dict):
        raise RequestRefused(401, "Mailgun's signature object is required")
    timestamp, token = str(signed.get("timestamp", "")), str(signed.get("token", ""))
    signature = str(signed.get("signature", "")).strip().lower()
    if not (timestamp and token and signature):
        raise RequestRefused(401, "Mailgun's timestamp, token and signature are required")
    check_signature(key, (timestamp + token).encode(), signature)
    check_fresh(timestamp)
    event = data.get("event-data")
    if not isinstance(event, dict):
        raise RequestRefused(400, "no event-data object")
    if event.get("event") != "complained":
        return _ignored(f"a Mailgun {event.get('event') or 'unknown'} event")
    # Mailgun signs its timestamp and token, not the event: a token is taken once
    return _complaints([event.get("recipient")], source="Mailgun", nonce=f"mailgun-fbl:{token}")


@bp.post("/sendgrid")
@limiter.limit(BASIC_AUTH_FAILURES, deduct_when=wrong_password)
def sendgrid() -> ResponseReturnValue:
    check_basic_auth()
    events = _json("SendGrid's Event Webhook JSON (a list of events)")
    if not isinstance(events, list):
        raise RequestRefused(400, "SendGrid's Event Webhook sends a list of events")
    spam = [
        e.get("email") for e in events if isinstance(e, dict) and e.get("event") == "spamreport"
    ]
    if not spam:
        return _ignored(f"{len(events)} SendGrid events, none a spam report")
    return _complaints(spam, source="SendGrid")


@bp.post("/ses")
@limiter.limit(BASIC_AUTH_FAILURES, deduct_when=wrong_password)
def ses() -> ResponseReturnValue:
    check_basic_auth()
    data = _json_object("an SNS message")
    kind = data.get("Type")
    if kind == "SubscriptionConfirmation":
        return _confirm_subscription(data)
    if kind == "Notification":  # the SES message is a JSON string inside it
        try:
            data = json.loads(str(data.get("Message", "")))
        except ValueError:
            raise RequestRefused(400, "the notification's Message is not JSON") from None
        if not isinstance(data, dict):
            raise RequestRefused(400, "the notification's Message is not an SES event")
    # (with raw message delivery, the SES event is the body itself)
    what = data.get("notificationType") or data.get("eventType")
    if what != "Complaint":
        return _ignored(f"an SES {what or kind or 'unknown'} message")
    complaint = data.get("complaint")
    recipients = complaint.get("complainedRecipients") if isinstance(complaint, dict) else None
    if not isinstance(recipients, list):
        raise RequestRefused(400, "an SES complaint without complainedRecipients")
    addresses = [r.get("emailAddress") for r in recipients if isinstance(r, dict)]
    return _complaints(addresses, source="Amazon SES")


def _confirm_subscription(data: dict[str, Any]) -> ResponseReturnValue:
    url = str(data.get("SubscribeURL", ""))
    parts = urlsplit(url)
    if parts.scheme != "https" or not SNS_HOST.match(parts.hostname or ""):
        raise RequestRefused(400, "SubscribeURL is not Amazon SNS's own https address")
    try:
        with urllib.request.urlopen(url, timeout=10):  # noqa: S310 - Amazon's host, https
            pass
    except OSError as error:
        log.warning("could not confirm the SNS subscription (%s); SNS will ask again", error)
        raise RequestRefused(502, "could not reach Amazon SNS to confirm; try again") from None
    log.info("confirmed the SNS subscription for SES complaints (%s)", data.get("TopicArn"))
    return jsonify(confirmed=True, status=200)


def _json(what: str) -> Any:
    try:
        return json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, RecursionError):  # (nested past Python's depth: not a webhook)
        raise RequestRefused(400, f"the body must be {what}") from None


def _json_object(what: str) -> dict[str, Any]:
    data = _json(what)
    if not isinstance(data, dict):
        raise RequestRefused(400, f"the body must be {what}")
    return data


def _ignored(what: str) -> ResponseReturnValue:
    return jsonify(ignored=f"{what}: only complaints are read here", status=200)


def _complaints(
    addresses: list[Any], *, source: str, nonce: str | None = None
) -> ResponseReturnValue:
    found = [a.strip() for a in addresses if isinstance(a, str) and "@" in a]
    if not found:
        raise RequestRefused(400, "the complaint names no email address")
    ctx = context()
    now = ctx.clock.now()
    results: dict[str, int] = {"suppressed": 0, "already": 0, "unknown": 0}
    try:
        with ctx.database.session() as session:
            if nonce is not None:
                inbound.take_nonce(session, nonce, now=now)
            for address in found:
                results[complaints.from_provider(session, address, source=source, now=now)] += 1
    except IntegrityError:  # a token seen before: whatever it now names, nothing is done
        return _ignored("a signature received before")
    except SQLAlchemyError as error:
        log.error("could not record a %s complaint (%s); asking for a retry", source, error)
        return retry_later("temporary problem recording it; please retry")
    log.info("%s complaint webhook: %s", source, results)
    return jsonify(status=200, **results)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
