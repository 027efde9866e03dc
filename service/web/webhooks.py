"""Inbound mail by webhook, for ESPs that receive mail for ``REPLY_DOMAIN`` on our behalf.

- ``POST /inbound/email``: our own format. The raw message is the body; the sender signs
  ``timestamp + "." + body`` with HMAC-SHA256 and ``INBOUND_WEBHOOK_SECRET``.
- ``POST /inbound/mailgun/mime``: a Mailgun route's ``forward()`` (Mailgun posts the raw
  message as ``body-mime`` only to a URL ending in "mime"), checked with Mailgun's own
  signature and ``MAILGUN_SIGNING_KEY``.
- ``POST /inbound/postmark``: Postmark's inbound JSON (``RawEmail``), HTTP basic auth.
- ``POST /inbound/sendgrid``: SendGrid Inbound Parse with "POST the raw, full MIME message",
  HTTP basic auth.

Every route stores the raw bytes exactly as the SMTP listener does, and answers 2xx only
once they are in the database. Wrong or missing authentication is 401/403 with no row
written; a stale timestamp or a signature seen before is refused. Answers are JSON.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from service.desk import audit
from service.inbox import inbound
from service.inbox.handoff import enqueue_replies
from service.web.security import csrf, limiter
from service.web.shared import context

log = logging.getLogger("coursemail.webhook")

bp = Blueprint("inbound", __name__, url_prefix="/inbound")

#: How old (or how far in the future) a signed timestamp may be.
SIGNATURE_WINDOW = inbound.NONCE_KEPT / 2
#: Room for form or JSON encoding around the largest message we accept.
ENCODING_ALLOWANCE = 1.4


class RequestRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@bp.before_request
def _allow_whole_messages() -> None:
    limit = context().settings.INBOUND_MAX_BYTES
    request.max_content_length = int(limit * ENCODING_ALLOWANCE) + 64 * 1024
    request.max_form_memory_size = request.max_content_length


def retry_later(said: str) -> Response:
    """503 with Retry-After: the database is away; the ESP sends it again later."""
    response = jsonify(error=said, status=503)
    response.status_code = 503
    response.headers["Retry-After"] = "60"
    return response


def answer_in_json(blueprint: Blueprint, realm: str) -> None:
    """Every refusal on ``blueprint`` a JSON answer (an ESP reads these, not a person),
    a 401 naming ``realm`` for basic auth, and a 429 after too many wrong passwords."""

    def refused(error: RequestRefused) -> ResponseReturnValue:
        response = jsonify(error=str(error), status=error.status)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
        return response, error.status

    def too_many(error: Exception) -> ResponseReturnValue:
        said = "too many wrong passwords from this address; wait a minute"
        return jsonify(error=said, status=429), 429

    blueprint.register_error_handler(RequestRefused, refused)
    blueprint.register_error_handler(429, too_many)


answer_in_json(bp, "coursemail inbound")


@bp.post("/email")
def own_format() -> ResponseReturnValue:
    secret = configured("INBOUND_WEBHOOK_SECRET", context().settings.INBOUND_WEBHOOK_SECRET)
    timestamp = request.headers.get("X-Coursemail-Timestamp", "")
    signature = request.headers.get("X-Coursemail-Signature", "").strip().lower()
    if not timestamp or not signature:
        raise RequestRefused(401, "X-Coursemail-Timestamp and X-Coursemail-Signature are required")
    body = request.get_data(cache=False)
    signed = timestamp.encode() + b"." + body
    check_signature(secret, signed, signature)
    check_fresh(timestamp)
    # the envelope recipient, when the sender knows it (a Bcc leaves no trace in the headers)
    recipients = [
        r.strip() for r in request.headers.get("X-Coursemail-Recipient", "").split(",") if r.strip()
    ]
    return _store(body, source="webhook", nonce=f"own:{signature}", recipients=recipients)


@bp.post("/mailgun/mime")
def mailgun() -> ResponseReturnValue:
    key = configured("MAILGUN_SIGNING_KEY", context().settings.MAILGUN_SIGNING_KEY)
    timestamp = request.form.get("timestamp", "")
    token = request.form.get("token", "")
    signature = request.form.get("signature", "").strip().lower()
    if not (timestamp and token and signature):
        raise RequestRefused(401, "Mailgun's timestamp, token and signature fields are required")
    check_signature(key, (timestamp + token).encode(), signature)
    check_fresh(timestamp)
    raw = request.form.get("body-mime")
    if raw is None:
        raise RequestRefused(
            400, "no body-mime field: use a route that forwards the full MIME message"
        )
    recipients = [r.strip() for r in request.form.get("recipient", "").split(",") if r.strip()]
    return _store(_bytes(raw), source="mailgun", nonce=f"mailgun:{token}", recipients=recipients)


def wrong_password(response: Response) -> bool:
    return response.status_code == 401


#: Wrong basic-auth passwords from one address, per minute, before every try is refused (429):
#: an ESP that knows the password never meets it; a guesser meets it at once.
BASIC_AUTH_FAILURES = "10 per minute"


@bp.post("/postmark")
@limiter.limit(BASIC_AUTH_FAILURES, deduct_when=wrong_password)
def postmark() -> ResponseReturnValue:
    check_basic_auth()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise RequestRefused(400, "the body must be Postmark's inbound JSON")
    raw = data.get("RawEmail")
    if not isinstance(raw, str) or not raw:
        raise RequestRefused(
            400, "no RawEmail: turn on 'Include raw email content' for the inbound stream"
        )
    recipient = data.get("OriginalRecipient")
    recipients = [recipient] if isinstance(recipient, str) and recipient else []
    return _store(_bytes(raw), source="postmark", nonce=None, recipients=recipients)


@bp.post("/sendgrid")
@limiter.limit(BASIC_AUTH_FAILURES, deduct_when=wrong_password)
def sendgrid() -> ResponseReturnValue:
    check_basic_auth()
    raw = request.form.get("email")
    if raw is None:
        raise RequestRefused(
            400, "no email field: tick 'POST the raw, full MIME message' in SendGrid"
        )
    recipients: list[str] = []
    try:
        envelope = json.loads(request.form.get("envelope", "{}"))
        if isinstance(envelope, dict) and isinstance(envelope.get("to"), list):
            recipients = [str(r) for r in envelope["to"]]
    except ValueError:
        pass
    return _store(_bytes(raw), source="sendgrid", nonce=None, recipients=recipients)


def configured(name: str, value: str) -> str:
    if not value:
        raise RequestRefused(403, f"this inbound route is not set up: set {name}")
    return value


def check_signature(secret: str, signed: bytes, signature: str) -> None:
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
    # as bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, a 500)
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise RequestRefused(403, "the signature does not match")


def check_fresh(timestamp: str) -> None:
    try:
        moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise RequestRefused(403, "the timestamp is not Unix seconds") from None
    if abs(context().clock.now() - moment) > SIGNATURE_WINDOW:
        raise RequestRefused(403, "the timestamp is more than 5 minutes old (or in the future)")


def check_basic_auth() -> None:
    expected = configured("INBOUND_BASIC_AUTH", context().settings.INBOUND_BASIC_AUTH)
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        raise RequestRefused(401, "HTTP basic authentication is required")
    try:
        given = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise RequestRefused(401, "the Authorization header is malformed") from None
    if not hmac.compare_digest(given.encode(), expected.encode()):
        # 401, not 403: Postmark stops retrying on 403, and a password fixed later should
        # still let the waiting messages through
        raise RequestRefused(401, "wrong username or password")


def _bytes(raw: str) -> bytes:
    """Form and JSON fields arrive as text; undecodable bytes were kept as surrogates."""
    return raw.encode("utf-8", "surrogateescape")


def _store(raw: bytes, *, source: str, nonce: str | None, recipients: list[str]) -> Response:
    ctx = context()
    if not raw.strip():
        raise RequestRefused(400, "the message is empty")
    if len(raw) > ctx.settings.INBOUND_MAX_BYTES:
        raise RequestRefused(
            413, f"the message is larger than {ctx.settings.INBOUND_MAX_BYTES} bytes"
        )
    now = ctx.clock.now()
    try:
        with ctx.database.session() as session:
            named = recipients + inbound.header_recipients(raw)
            if inbound.for_erased_reader(session, ctx.addresses, named):
                return _dropped(session, source, now)
            stored = inbound.store(
                session, raw, source=source, now=now, recipients=recipients, nonce=nonce
            )
    except IntegrityError:
        raise RequestRefused(
            403, "this request was already received (a replayed signature)"
        ) from None
    except SQLAlchemyError as error:
        log.error("could not store a %s message (%s); asking the sender to retry", source, error)
        return retry_later("temporary problem storing the message; please retry")
    enqueue_replies(ctx, [stored])
    log.info("stored %s message %d (%d bytes)", source, stored, len(raw))
    response = jsonify(stored=stored, status=202)
    response.status_code = 202
    return response


def _dropped(session: Session, source: str, now: datetime) -> Response:
    """A message for an erased reader: not stored, a line on the desk's audit log says so."""
    audit.record(
        session,
        now,
        "dropped_for_erased",
        user=None,
        ip=request.remote_addr,
        detail=f"a {source} message to a reader whose details were erased: not kept",
    )
    log.info("dropped a %s message for an erased reader", source)
    response = jsonify(
        dropped="the reader's details were erased; the message was not kept", status=200
    )
    return response


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
