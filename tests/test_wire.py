"""What leaves the transport, read as bytes: mail programs read structured headers literally,
so they are folded between their elements and never encoded; and we name ourselves properly
to the relay."""

from __future__ import annotations

import re
import socket
from dataclasses import replace

from tests.support.harness import enrolled, tick_and_work
from tests.support.smtp import SMTPSink
from workers.runtime import Runtime


def raw_headers(data: bytes) -> dict[str, str]:
    """Each header as it stands on the wire, continuation lines joined with their breaks."""
    head = data.split(b"\r\n\r\n")[0].decode("utf-8")
    found: dict[str, str] = {}
    for block in re.split(r"\r\n(?![ \t])", head):
        name, _, value = block.partition(":")
        found[name.lower()] = value
    return found


def test_structured_headers_are_folded_between_elements_never_encoded(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "sam@example.test", timezone="UTC", first_name="Sam")
    tick_and_work(rt)
    [received] = smtp_sink.received
    headers = raw_headers(received.data)
    for name in ("list-unsubscribe", "list-id", "message-id", "list-unsubscribe-post"):
        assert "=?" not in headers[name], f"{name} was encoded: {headers[name]!r}"
        for line in f"{name}:{headers[name]}".split("\r\n"):
            # 78 where it can be: only a single element longer than that stands alone
            assert len(line) <= 78 or line.strip().count("<") <= 1, line
    unfolded = re.sub(r"\r\n[ \t]+", " ", headers["list-unsubscribe"]).strip()
    https, mailto = re.fullmatch(r"<(https?://[^>]+)>, <(mailto:[^>]+)>", unfolded).groups()  # type: ignore[union-attr]
    assert https.startswith(rt.settings.PUBLIC_URL + "/u/")
    assert mailto.startswith("mailto:unsubscribe+") and mailto.endswith("?subject=unsubscribe")
    assert "\r\n " in headers["list-unsubscribe"]  # long enough to fold, and folded at ", "


def test_the_ehlo_name_is_a_host_name_never_an_address_literal(
    rt: Runtime, smtp_sink: SMTPSink
) -> None:
    enrolled(rt, "a@example.test", timezone="UTC")
    tick_and_work(rt)
    helo = smtp_sink.received[0].helo
    assert not helo.startswith("[") and "." in helo
    fqdn = socket.getfqdn()
    assert helo in (fqdn, rt.settings.mail_domain)

    rt.settings = replace(rt.settings, SMTP_HELO_NAME="mail.example.test")
    enrolled(rt, "b@example.test", timezone="UTC")
    tick_and_work(rt)
    assert smtp_sink.received[-1].helo == "mail.example.test"
