"""Is this service set up to send mail that arrives? The checks behind ``coursemail doctor``
and the desk's Sending setup page, each answered found / missing / wrong (or ok / failed)
with the exact value to publish when something is not right:

- DNS (read live with dnspython, from ``DNS_NAMESERVER`` or the system's resolver): SPF for
  the envelope sender's domain, the DKIM key record, DMARC for MAIL_FROM's domain, and MX for
  REPLY_DOMAIN when replies come back to us (``REPLY_MODE=tracked``);
- the relay (``SMTP_URL``): it answers, offers TLS, and takes the login;
- ``PUBLIC_URL``: https, and /healthz answers there;
- the reply path: the inbound listener accepts a reply address.

Without DNS (no network), the DNS checks say so rather than failing silently. Gmail, Yahoo
and Outlook.com require SPF, DKIM and DMARC of bulk senders: those are ``required``.
"""

from __future__ import annotations

import secrets
import smtplib
import socket
import ssl
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import dkim_keys
from service.addresses import Addresses, AddressKind
from service.dns_lookup import BadName, Lookup, Offline, resolver_for
from service.relay import Relay
from service.settings import Settings
from service.store.models import InboundMessage

#: Seconds each network check waits.
TIMEOUT = 5


@dataclass(frozen=True)
class Check:
    what: str
    #: found, missing, wrong (records); ok, failed (connections); unknown (no DNS); off
    state: str
    #: why, in a sentence
    detail: str
    #: what to publish or set, exactly, when it is not right
    paste: str = ""
    #: providers refuse or junk mail without it
    required: bool = False

    @property
    def good(self) -> bool:
        return self.state in ("found", "ok", "off")


def verdict(checks: list[Check]) -> tuple[list[Check], list[Check]]:
    """The required checks that are not right (missing, wrong, failed), and those that could
    not be made (no DNS): what ``coursemail doctor`` exits on and the page leads with."""
    required = [c for c in checks if c.required]
    broken = [c for c in required if c.state in ("missing", "wrong", "failed")]
    return broken, [c for c in required if c.state == "unknown"]


def dns_checks(settings: Settings, lookup: Lookup) -> list[Check]:
    try:
        return [
            _spf(settings, lookup),
            _dkim(settings, lookup),
            _dmarc(settings, lookup),
            *([_mx(settings, lookup)] if settings.tracked_replies else []),
        ]
    except BadName as error:
        return [
            Check(
                "DNS",
                "wrong",
                f"{error}: check MAIL_FROM and REPLY_DOMAIN",
                "MAIL_FROM=course@example.org",
                True,
            )
        ]
    except Offline as error:
        return [
            Check(
                "DNS",
                "unknown",
                f"no name server answered ({error}): the records cannot be checked from here",
                required=True,
            )
        ]


def _envelope_domain(settings: Settings) -> str:
    """The domain SPF is read for: the envelope sender's (bounces+… at REPLY_DOMAIN when
    replies are tracked, else MAIL_FROM's)."""
    return settings.REPLY_DOMAIN if settings.tracked_replies else settings.mail_from_domain


def _spf(settings: Settings, lookup: Lookup) -> Check:
    domain = _envelope_domain(settings)
    found = [t for t in lookup(domain, "TXT") if t.lower().startswith("v=spf1")]
    paste = f'{domain}. IN TXT "v=spf1 include:YOUR-RELAYS-SPF-DOMAIN ~all"'
    what = f"SPF for {domain} (the envelope sender's domain)"
    if not found:
        return Check(
            what,
            "missing",
            "no SPF record: receivers cannot tell your relay may send for this domain",
            paste,
            True,
        )
    if len(found) > 1:
        return Check(what, "wrong", f"{len(found)} SPF records; there must be one", paste, True)
    record = found[0]
    terms = record.lower().split()[1:]
    if "YOUR-RELAYS-SPF-DOMAIN".lower() in record.lower():
        return Check(what, "wrong", "the example was published unchanged: " + record, paste, True)
    if terms and all(t in ("-all", "~all", "?all") for t in terms):
        return Check(what, "wrong", f"{record} lets no server send for this domain", paste, True)
    return Check(what, "found", record, required=True)


def _dkim(settings: Settings, lookup: Lookup) -> Check:
    if settings.DKIM_PRIVATE_KEY is None:
        return Check(
            "DKIM key",
            "missing",
            "mail is not signed: set DKIM_PRIVATE_KEY "
            "(coursemail dkim new makes a key and prints its record)",
            required=True,
        )
    name = dkim_keys.record_name(settings.DKIM_SELECTOR, settings.mail_from_domain)
    expected = dkim_keys.record_for(settings.DKIM_PRIVATE_KEY)
    paste = dkim_keys.zone_line(name, expected)
    found = [t for t in lookup(name, "TXT") if "p=" in t]
    what = f"DKIM at {name}"
    if not found:
        return Check(what, "missing", "the key's record is not published", paste, True)
    if _key_of(found[0]) != _key_of(expected):
        return Check(
            what, "wrong", "the published key is not the one in DKIM_PRIVATE_KEY", paste, True
        )
    return Check(what, "found", "the published key matches DKIM_PRIVATE_KEY", required=True)


def _key_of(record: str) -> str:
    tags = dict(part.strip().partition("=")[::2] for part in record.split(";") if "=" in part)
    return "".join(tags.get("p", "").split())


def _dmarc(settings: Settings, lookup: Lookup) -> Check:
    domain = settings.mail_from_domain
    paste = f'_dmarc.{domain}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"'
    what = f"DMARC for {domain}"
    labels = domain.split(".")
    # the From domain's own record, else its organisational domain's (a parent)
    for start in range(len(labels) - 1):
        found = [
            t
            for t in lookup("_dmarc." + ".".join(labels[start:]), "TXT")
            if t.lower().startswith("v=dmarc1")
        ]
        if found:
            return Check(what, "found", found[0], required=True)
    return Check(
        what, "missing", "no DMARC policy: Gmail and Yahoo require one of bulk senders", paste, True
    )


def _mx(settings: Settings, lookup: Lookup) -> Check:
    domain = settings.REPLY_DOMAIN
    found = lookup(domain, "MX")
    paste = f"{domain}. IN MX 10 {settings.INBOUND_HOSTNAME}."
    what = f"MX for {domain} (where replies come back)"
    if not found:
        return Check(
            what, "missing", "replies to reply+… addresses have nowhere to go", paste, True
        )
    return Check(what, "found", ", ".join(sorted(found)), required=True)


def relay_check(settings: Settings) -> Check:
    """The relay answers, offers TLS (or is reached over it), and takes the login."""
    relay = Relay.parse(settings.SMTP_URL)  # read as the sender reads it
    host, port = relay.host, relay.port
    what = f"the relay at {host}:{port}"
    try:
        if relay.implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=TIMEOUT, context=ssl.create_default_context()
            )
            tls = "over TLS"
        else:
            smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
            smtp.ehlo()
            if relay.starttls:
                smtp.starttls(context=ssl.create_default_context())
                tls = "with STARTTLS"
            else:
                offered = smtp.has_extn("starttls")
                tls = (
                    "in the clear (it offers STARTTLS: add ?starttls=true)"
                    if offered
                    else "in the clear"
                )
        with smtp:
            if relay.username:
                if not tls.startswith(("over", "with")):
                    return Check(
                        what,
                        "failed",
                        f"answers {tls}: the login was not tried, as the password would cross "
                        "the network in the clear",
                        "SMTP_URL=…?starttls=true (or smtps://)",
                        True,
                    )
                smtp.login(relay.username, relay.password or "")
                return Check(what, "ok", f"answers {tls}, and the login works")
            return Check(what, "ok", f"answers {tls}, without a login")
    except (OSError, smtplib.SMTPException) as error:
        return Check(what, "failed", f"{type(error).__name__}: {error}", "check SMTP_URL", True)


def public_url_check(settings: Settings) -> Check:
    url = settings.PUBLIC_URL.rstrip("/") + "/healthz"
    what = f"PUBLIC_URL ({settings.PUBLIC_URL})"
    if not settings.PUBLIC_URL.startswith("https://"):
        state = "failed" if settings.is_production else "off"
        return Check(
            what,
            state,
            "not https: links in emails must be (fine on loopback while developing)",
            "PUBLIC_URL=https://…",
            settings.is_production,
        )
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:  # noqa: S310 - our own https URL
            return Check(what, "ok", f"/healthz answers {answer.status} over https")
    except (OSError, ValueError) as error:
        return Check(what, "failed", f"/healthz did not answer: {error}", required=True)


def reply_path_check(settings: Settings, addresses: Addresses) -> Check:
    """The inbound listener takes a reply address (a probe: RCPT, then nothing is sent)."""
    if not settings.tracked_replies:
        return Check("the reply path", "off", "REPLY_MODE=direct: replies go to THERAPIST_EMAIL")
    probe = addresses.address(AddressKind.REPLY, 0, 0, owner="doctor")
    where = f"{settings.INBOUND_SMTP_HOST}:{settings.INBOUND_SMTP_PORT}"
    host = (
        "127.0.0.1"
        if settings.INBOUND_SMTP_HOST in ("0.0.0.0", "::")
        else settings.INBOUND_SMTP_HOST
    )
    try:
        with smtplib.SMTP(host, settings.INBOUND_SMTP_PORT, timeout=TIMEOUT) as smtp:
            smtp.ehlo()
            smtp.mail("doctor@" + settings.mail_from_domain)
            code, said = smtp.rcpt(probe)
            smtp.rset()
    except (OSError, smtplib.SMTPException) as error:
        return Check(
            "the reply path",
            "failed",
            f"the listener at {where} did not answer: {error}",
            "start `coursemail inbound`",
            True,
        )
    if code != 250:
        return Check(
            "the reply path",
            "failed",
            f"the listener refused a reply address: {code} {said.decode(errors='replace')}",
            required=True,
        )
    return Check("the reply path", "ok", f"the listener at {where} accepts reply addresses")


def probe_address(addresses: Addresses) -> str:
    """A fresh ``probe+`` address for a test of the whole reply path (a random number names
    it, so the test knows its own message when it comes back)."""
    return addresses.address(AddressKind.PROBE, 0, secrets.randbelow(2**31), owner="doctor")


def probe_came_back(session: Session, address: str) -> datetime | None:
    """When the test sent to ``address`` reached the listener (or a webhook), if it has."""
    return session.scalar(
        select(func.min(InboundMessage.received_at)).where(
            func.lower(InboundMessage.rcpt_tos).contains(address.lower())
        )
    )


def last_probe_back(session: Session) -> datetime | None:
    """When a test of the reply path last came back (the desk's page shows it)."""
    return session.scalar(
        select(func.max(InboundMessage.received_at)).where(
            InboundMessage.address_kind == AddressKind.PROBE.value
        )
    )


def everything(settings: Settings, addresses: Addresses, *, offline: bool = False) -> list[Check]:
    """Every check, in the order a person sets things up. ``offline``: the DNS and network
    checks are not made, and say so."""
    if offline:
        skipped = "not checked (--offline): run again where this machine can reach DNS"
        dns_part = [Check("DNS records", "unknown", skipped, required=True)]
        if settings.DKIM_PRIVATE_KEY is None:  # a local fact: no DNS needed to say it
            dns_part.insert(
                0,
                Check(
                    "the DKIM key",
                    "missing",
                    "no DKIM_PRIVATE_KEY: mail goes unsigned, and Gmail, Yahoo and Outlook.com "
                    "junk or refuse it",
                    "coursemail dkim new, then DKIM_PRIVATE_KEY=/path/to/the/key.pem",
                    True,
                ),
            )
        relay = Check("the relay", "unknown", skipped.replace("DNS", "the relay"), required=True)
        public = Check("PUBLIC_URL", "unknown", skipped.replace("DNS", "it"))
    else:
        dns_part = dns_checks(settings, resolver_for(settings.DNS_NAMESERVER, timeout=TIMEOUT))
        relay, public = relay_check(settings), public_url_check(settings)
    return [*dns_part, relay, public, reply_path_check(settings, addresses)]


def records_to_publish(settings: Settings) -> list[str]:
    """The zone lines this setup needs, whatever DNS says now (for the page and the README)."""
    lines = [
        f'{_envelope_domain(settings)}. IN TXT "v=spf1 include:YOUR-RELAYS-SPF-DOMAIN ~all"',
    ]
    if settings.DKIM_PRIVATE_KEY is not None:
        name = dkim_keys.record_name(settings.DKIM_SELECTOR, settings.mail_from_domain)
        lines.append(dkim_keys.zone_line(name, dkim_keys.record_for(settings.DKIM_PRIVATE_KEY)))
    domain = settings.mail_from_domain
    lines.append(f'_dmarc.{domain}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{domain}"')
    if settings.tracked_replies:
        lines.append(f"{settings.REPLY_DOMAIN}. IN MX 10 {settings.INBOUND_HOSTNAME}.")
    return lines


def host_name() -> str:
    return socket.getfqdn()
