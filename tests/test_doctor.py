"""``coursemail doctor`` against a DNS server on loopback (never the internet): each record
found, missing or wrong with the exact line to publish; the relay and the reply path checked
for real; exit 1 when something a mail provider requires is missing, 2 when it could not be
checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from service import dkim_keys
from tests.support.dns import DNSServer
from tests.support.env import settings_env
from tests.support.smtp import free_port
from workers.cli import main
from workers.runtime import Runtime


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    with DNSServer() as server:
        yield server


def _doctor(rt: Runtime, listener: int, dns: str, key: Path, *args: str) -> Result:
    env = settings_env(
        rt.settings,
        DNS_NAMESERVER=dns,
        DKIM_PRIVATE_KEY=str(key),
        INBOUND_SMTP_PORT=str(listener),
    )
    return CliRunner(env=env).invoke(main, ["doctor", *args])


def _key(tmp_path: Path, name: str = "dkim.pem") -> dkim_keys.NewKey:
    return dkim_keys.new_rsa(tmp_path / name, "coursemail", "example.test")


def _publish(rt: Runtime, server: DNSServer, record: str) -> None:
    domain = rt.settings.mail_from_domain
    server.zone.add(rt.settings.REPLY_DOMAIN, "TXT", "v=spf1 ip4:192.0.2.1 -all")
    server.zone.add(f"coursemail._domainkey.{domain}", "TXT", record)
    server.zone.add(f"_dmarc.{domain}", "TXT", f"v=DMARC1; p=none; rua=mailto:d@{domain}")
    server.zone.add(rt.settings.REPLY_DOMAIN, "MX", f"10 {rt.settings.INBOUND_HOSTNAME}.")


def test_missing_records_are_shown_with_the_lines_to_publish_and_fail(
    rt: Runtime, listener: int, dns_server: DNSServer, tmp_path: Path
) -> None:
    key = _key(tmp_path)
    done = _doctor(rt, listener, dns_server.address, key.path)
    assert done.exit_code == 1, done.output
    lines = done.output.splitlines()
    missing = [line for line in lines if line.strip().startswith("MISSING")]
    assert any("SPF for" in line for line in missing)
    assert any("DKIM at coursemail._domainkey." in line for line in missing)
    assert any("DMARC for" in line for line in missing)
    assert any("MX for" in line for line in missing)
    # the exact DKIM record of the key in use, ready to paste
    assert key.record.split("p=")[1][:40] in done.output
    assert "v=DMARC1; p=none; rua=mailto:" in done.output
    assert "the relay at" in done.output and "answers" in done.output  # the sink, for real
    assert "accepts reply addresses" in done.output  # the listener, for real


def test_published_records_pass_and_a_stale_dkim_key_is_wrong(
    rt: Runtime, listener: int, dns_server: DNSServer, tmp_path: Path
) -> None:
    key = _key(tmp_path)
    _publish(rt, dns_server, key.record)
    done = _doctor(rt, listener, dns_server.address, key.path)
    assert done.exit_code == 0, done.output
    assert "MISSING" not in done.output and "Everything a mail provider requires" in done.output
    assert "the published key matches DKIM_PRIVATE_KEY" in done.output
    # the key was changed, the record was not
    other = _key(tmp_path, "new.pem")
    stale = _doctor(rt, listener, dns_server.address, other.path)
    assert stale.exit_code == 1
    assert any(
        line.strip().startswith("WRONG") and "DKIM" in line for line in stale.output.splitlines()
    )
    assert other.record.split("p=")[1][:40] in stale.output
    # two SPF records are an error receivers treat as none
    dns_server.zone.add(rt.settings.REPLY_DOMAIN, "TXT", "v=spf1 -all")
    assert "2 SPF records" in _doctor(rt, listener, dns_server.address, key.path).output
    # one that lets nobody send, or the example pasted unchanged, is wrong too
    for record in ("v=spf1 -all", "v=spf1 include:YOUR-RELAYS-SPF-DOMAIN ~all"):
        dns_server.zone.clear(rt.settings.REPLY_DOMAIN, "TXT")
        dns_server.zone.add(rt.settings.REPLY_DOMAIN, "TXT", record)
        said = _doctor(rt, listener, dns_server.address, key.path)
        assert said.exit_code == 1 and any(
            line.strip().startswith("WRONG") and "SPF" in line for line in said.output.splitlines()
        ), said.output


def test_odd_settings_are_said_plainly_never_a_traceback(
    rt: Runtime, listener: int, dns_server: DNSServer, tmp_path: Path
) -> None:
    key = _key(tmp_path)
    env = settings_env(
        rt.settings,
        DNS_NAMESERVER=dns_server.address,
        DKIM_PRIVATE_KEY=str(key.path),
        INBOUND_SMTP_PORT=str(listener),
        MAIL_FROM="course@example..test",
    )
    said = CliRunner(env=env).invoke(main, ["doctor"])
    assert said.exit_code == 1 and isinstance(said.exception, SystemExit)  # not a traceback
    assert "is not a valid domain name" in said.output
    from service.desk.sending_setup import resolver_for

    resolver_for("::1")  # an IPv6 name server (no port of its own) is taken as it is


def test_without_dns_it_says_so_and_exits_two(rt: Runtime, listener: int, tmp_path: Path) -> None:
    key = _key(tmp_path)
    offline = _doctor(rt, listener, "127.0.0.1:1", key.path, "--offline")
    assert offline.exit_code == 2, offline.output
    assert "not checked (--offline)" in offline.output
    # what to publish is known without DNS: it is printed all the same
    assert "The records for your domain" in offline.output
    assert "v=DMARC1; p=none" in offline.output and "IN MX 10" in offline.output
    env = settings_env(rt.settings, INBOUND_SMTP_PORT=str(listener))  # no DKIM key at all
    unsigned = CliRunner(env=env).invoke(main, ["doctor", "--offline"])
    assert unsigned.exit_code == 1 and "no DKIM_PRIVATE_KEY" in unsigned.output
    silent = _doctor(rt, listener, f"127.0.0.1:{free_port()}", key.path)  # nobody answers
    assert silent.exit_code == 2, silent.output
    assert "no name server answered" in silent.output


def test_the_desks_sending_setup_page_shows_the_same_checks(
    rt: Runtime, listener: int, dns_server: DNSServer, tmp_path: Path
) -> None:
    from tests.support.desk import PASSWORD, desk_app, sign_in

    key = _key(tmp_path)
    app = desk_app(
        rt,
        ADMIN_USERNAME="lee",
        ADMIN_PASSWORD=PASSWORD,
        DNS_NAMESERVER=dns_server.address,
        DKIM_PRIVATE_KEY=str(key.path),
        INBOUND_SMTP_PORT=str(listener),
    )
    desk = app.test_client()
    assert desk.get("/admin/setup").status_code == 302  # hers alone
    sign_in(desk)
    page = desk.get("/admin/setup").get_data(as_text=True)
    assert "4 required things are not right yet" in page
    assert key.record.split("p=")[1][:40] in page and "v=DMARC1; p=none" in page
    _publish(rt, dns_server, key.record)
    page = desk.get("/admin/setup").get_data(as_text=True)
    assert "Everything a mail provider requires is in place" in page
    assert "Sending setup" in desk.get("/admin").get_data(as_text=True)  # in the desk's menu


def test_send_mails_the_therapist_and_follows_a_reply_round_the_path(
    rt: Runtime, listener: int, dns_server: DNSServer, tmp_path: Path
) -> None:
    """``--send``: a test to the therapist through the relay, DKIM-signed like course email,
    and one to a probe+ address that the relay carries on to the listener, where it is noted
    (the command waits for it) and never forwarded."""
    import dkim

    from service.store.models import InboundCategory, InboundMessage
    from tests.conftest import THERAPIST_TEST_EMAIL
    from tests.support.harness import work
    from tests.support.smtp import RoutingHandler, SMTPSink

    key = _key(tmp_path)
    _publish(rt, dns_server, key.record)
    relay = SMTPSink(
        handler=RoutingHandler(routes={rt.settings.REPLY_DOMAIN: ("127.0.0.1", listener)})
    ).start()
    try:
        env = settings_env(
            rt.settings,
            DNS_NAMESERVER=dns_server.address,
            DKIM_PRIVATE_KEY=str(key.path),
            INBOUND_SMTP_PORT=str(listener),
            SMTP_URL=relay.url,
        )
        done = CliRunner(env=env).invoke(main, ["doctor", "--send", "--wait", "20"])
    finally:
        relay.stop()
    assert "a test email to therapist@example.test" in done.output
    assert "came back to the listener" in done.output, done.output
    (to_her,) = relay.messages_to(THERAPIST_TEST_EMAIL)
    assert to_her["Subject"] == "[TEST] Your course email can leave"
    (raw,) = [r.data for r in relay.received if THERAPIST_TEST_EMAIL in r.rcpt_tos]
    published = key.record.encode()
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: published)
    # the probe is noted, and nothing reaches her inbox for it
    work(rt)
    with rt.database.session(read_only=True) as session:
        (probe,) = session.scalars(select(InboundMessage)).all()
        assert probe.category == InboundCategory.PROBE and probe.raw == b""
    assert len(relay.messages_to(THERAPIST_TEST_EMAIL)) == 1


def test_send_says_when_the_reply_never_comes_back(
    rt: Runtime, listener: int, dns_server: DNSServer, tmp_path: Path
) -> None:
    from tests.support.smtp import SMTPSink

    key = _key(tmp_path)
    _publish(rt, dns_server, key.record)
    relay = SMTPSink().start()  # takes everything, delivers nothing onward
    try:
        env = settings_env(
            rt.settings,
            DNS_NAMESERVER=dns_server.address,
            DKIM_PRIVATE_KEY=str(key.path),
            INBOUND_SMTP_PORT=str(listener),
            SMTP_URL=relay.url,
        )
        done = CliRunner(env=env).invoke(main, ["doctor", "--send", "--wait", "2"])
    finally:
        relay.stop()
    assert done.exit_code == 1
    assert "did not come back within 2 s" in done.output
    seedless = {**env, "THERAPIST_EMAIL": ""}  # the seed's own address is never written to
    refused = CliRunner(env=seedless).invoke(main, ["doctor", "--send"])
    assert refused.exit_code == 2 and "set THERAPIST_EMAIL first" in refused.output
    assert (
        "--send needs the network"
        in CliRunner(env=env).invoke(main, ["doctor", "--send", "--offline"]).output
    )


def test_the_desk_sends_the_tests_and_shows_the_reply_came_back(
    rt: Runtime, listener: int, dns_server: DNSServer
) -> None:
    from tests.conftest import THERAPIST_TEST_EMAIL
    from tests.support.desk import PASSWORD, desk_app, sign_in, token
    from tests.support.harness import work
    from tests.support.smtp import RoutingHandler, SMTPSink
    from tests.support.waiting import wait_for

    relay = SMTPSink(
        handler=RoutingHandler(routes={rt.settings.REPLY_DOMAIN: ("127.0.0.1", listener)})
    ).start()
    try:
        desk = desk_app(
            rt,
            ADMIN_USERNAME="lee",
            ADMIN_PASSWORD=PASSWORD,
            DNS_NAMESERVER=dns_server.address,
            INBOUND_SMTP_PORT=str(listener),
            SMTP_URL=relay.url,
        ).test_client()
        sign_in(desk)
        assert "No test reply has come back yet" in desk.get("/admin/setup").text
        assert desk.post("/admin/setup/test").status_code == 400  # the form's token, or nothing
        form = {"csrf_token": token(desk, "/admin/setup")}
        assert desk.post("/admin/setup/test", data=form).status_code == 303
        work(rt)
        wait_for(lambda: relay.messages_to(THERAPIST_TEST_EMAIL), 10, "the test to her inbox")
        assert "The last test reply came back" in desk.get("/admin/setup").text
    finally:
        relay.stop()


def test_under_make_run_the_mail_catcher_brings_the_test_reply_back(
    rt: Runtime, listener: int, dns_server: DNSServer, tmp_path: Path
) -> None:
    """Development: the catcher keeps mail for people and hands REPLY_DOMAIN's to the
    listener, as the domain's MX would, so ``doctor --send`` can pass on a laptop."""
    import threading

    from tests.conftest import THERAPIST_TEST_EMAIL
    from workers import mailcatcher

    port, stop = free_port(), threading.Event()
    replies = (rt.settings.REPLY_DOMAIN, "127.0.0.1", listener)
    caught = tmp_path / "caught"
    server = threading.Thread(
        target=mailcatcher.serve, args=("127.0.0.1", port, caught, stop, replies), daemon=True
    )
    server.start()
    try:
        from tests.support.waiting import wait_for

        wait_for(lambda: _answers(port), 10, "the catcher to listen")
        key = _key(tmp_path)
        _publish(rt, dns_server, key.record)
        env = settings_env(
            rt.settings,
            DNS_NAMESERVER=dns_server.address,
            DKIM_PRIVATE_KEY=str(key.path),
            INBOUND_SMTP_PORT=str(listener),
            SMTP_URL=f"smtp://127.0.0.1:{port}",
        )
        done = CliRunner(env=env).invoke(main, ["doctor", "--send", "--wait", "20"])
    finally:
        stop.set()
        server.join(10)
    assert "came back to the listener" in done.output, done.output
    kept = [p.read_bytes() for p in caught.glob("*.eml")]
    assert len(kept) == 1 and THERAPIST_TEST_EMAIL.encode() in kept[0]  # only hers is kept


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
