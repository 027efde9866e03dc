"""Every message we send is DKIM-signed (issue 21): `coursemail dkim new` writes a key (0600)
and prints the TXT record; with DKIM_PRIVATE_KEY set, a course email, the confirmation and a
notice to the therapist verify with dkimpy against that record, h= covers both
List-Unsubscribe headers, and an ed25519 key adds a second signature that verifies too. A bad
key is refused at start-up by name."""

from __future__ import annotations

import re
import stat
from dataclasses import replace
from pathlib import Path

import dkim
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from service import dkim_keys
from service.settings import Settings
from service.variables import ConfigError
from tests.support.env import settings_env
from tests.support.harness import enrolled, tick_and_work, work
from tests.support.mail import reply_address, reply_to, send
from tests.support.smtp import SMTPSink
from workers.cli import main
from workers.runtime import Runtime


def _records(output: str) -> dict[bytes, bytes]:
    """The TXT records `dkim new` printed, as a DNS lookup would give them."""
    found = {}
    for name, quoted in re.findall(r"(\S+\._domainkey\.\S+)\. IN TXT ((?:\"[^\"]*\" ?)+)", output):
        found[(name + ".").encode()] = "".join(re.findall(r"\"([^\"]*)\"", quoted)).encode()
    return found


def _verify_all(data: bytes, records: dict[bytes, bytes]) -> list[bytes]:
    """The h= of each DKIM signature in ``data``, each verified against ``records``."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    checker = dkim.DKIM(data)
    signed = []
    for index in range(data.count(b"DKIM-Signature:")):
        assert checker.verify(idx=index, dnsfunc=lookup), f"signature {index} does not verify"
        header = checker.signature_fields
        signed.append(header[b"h"])
    return signed


@pytest.fixture
def keys(rt: Runtime) -> dict[bytes, bytes]:
    """An RSA and an ed25519 key made by the command, in use; their DNS records."""
    runner = CliRunner(env=settings_env(rt.settings))
    made = runner.invoke(main, ["dkim", "new"])
    assert made.exit_code == 0, made.output
    second = runner.invoke(main, ["dkim", "new", "--ed25519"])
    assert second.exit_code == 0, second.output
    path = rt.settings.instance_path / "dkim-coursemail.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = runner.invoke(main, ["dkim", "new"])
    assert again.exit_code == 1 and "exists already" in again.output
    rt.settings = replace(
        rt.settings,
        DKIM_PRIVATE_KEY=path,
        DKIM_ED25519_KEY=rt.settings.instance_path / "dkim-coursemail-ed25519.pem",
    )
    records = _records(made.output + second.output)
    assert len(records) == 2
    return records


def test_every_kind_of_message_is_signed_and_verifies(
    rt: Runtime, smtp_sink: SMTPSink, listener: int, keys: dict[bytes, bytes]
) -> None:
    enrolled(rt, "sam@example.test", timezone="UTC")
    tick_and_work(rt)  # the welcome
    [welcome] = smtp_sink.received
    signed = _verify_all(welcome.data, keys)
    assert len(signed) == 2  # rsa-sha256, then ed25519-sha256
    assert b"a=rsa-sha256" in welcome.data and b"a=ed25519-sha256" in welcome.data
    covered = [h.strip() for h in signed[0].lower().split(b":")]
    for header in (b"from", b"list-unsubscribe", b"list-unsubscribe-post", b"list-id", b"subject"):
        assert header in covered
    assert f"d={rt.settings.mail_from_domain}".encode() in welcome.data
    altered = welcome.data.replace(b"\r\nSubject: ", b"\r\nSubject: Fwd: ", 1)
    assert not dkim.DKIM(altered).verify(dnsfunc=lambda name, timeout=5: keys.get(name))
    # the therapist's notice of a reply is signed too
    data = reply_to(welcome.message, "Thank you.", sender="sam@example.test")
    assert send(listener, "sam@example.test", [reply_address(welcome.message)], data) == {}
    work(rt)
    notice = smtp_sink.received[-1]
    assert notice.rcpt_tos != welcome.rcpt_tos
    assert len(_verify_all(notice.data, keys)) == 2


def test_the_record_command_prints_what_to_publish(rt: Runtime, keys: dict[bytes, bytes]) -> None:
    env = settings_env(
        rt.settings,
        DKIM_PRIVATE_KEY=str(rt.settings.DKIM_PRIVATE_KEY),
        DKIM_ED25519_KEY=str(rt.settings.DKIM_ED25519_KEY),
    )
    printed = CliRunner(env=env).invoke(main, ["dkim", "record"])
    assert printed.exit_code == 0, printed.output
    assert _records(printed.output) == keys
    none = CliRunner(env=settings_env(rt.settings)).invoke(main, ["dkim", "record"])
    assert none.exit_code == 1 and "dkim new" in none.output


def test_a_bad_or_weak_key_is_refused_by_name(rt: Runtime, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    weak = tmp_path / "weak.pem"
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    weak.write_bytes(
        small.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    base = settings_env(rt.settings)
    for path, words in ((junk, "is not a PEM private key"), (weak, "1024-bit key")):
        with pytest.raises(ConfigError, match=words) as caught:
            Settings.from_env(environ={**base, "DKIM_PRIVATE_KEY": str(path)})
        assert "DKIM_PRIVATE_KEY" in str(caught.value)
    with pytest.raises(ConfigError, match="DKIM_SELECTOR"):
        Settings.from_env(environ={**base, "DKIM_SELECTOR": "not a label!"})
    assert dkim_keys.zone_line("s._domainkey.x.test", "a" * 300).count('"') == 4
