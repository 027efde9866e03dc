"""What DKIM signing costs per email: writing a course email's bytes, against writing and
signing them (rsa-sha256 with a 2048-bit key, then also ed25519-sha256)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import progress
from emails import wire
from emails.course import default_course
from emails.message import Routing, course_parts
from emails.render import Contact, Renderer
from service import dkim_keys
from workers.signing import Key, Signer

#: Emails written per measurement.
EMAILS = 300


def bench_dkim() -> list[tuple[str, str, str, str]]:
    progress("DKIM: writing an email vs. writing and signing it")
    renderer = Renderer(
        default_course(), Contact("Lee Miller", "lee@example.test", "1", "1 Main St")
    )
    routing = Routing("sam@example.test", "Sam", "course@example.test", "<1@example.test>", _now())
    parts = course_parts(
        renderer,
        2,
        routing,
        unsubscribe_url="https://example.test/u/x",
        unsubscribe_address=None,
        list_domain="example.test",
    )
    with tempfile.TemporaryDirectory() as folder:
        rsa_path, ed_path = Path(folder) / "rsa.pem", Path(folder) / "ed.pem"
        dkim_keys.new_rsa(rsa_path, "s", "example.test")
        dkim_keys.new_ed25519(ed_path, "e", "example.test")
        rsa_key = Key("s", dkim_keys.read_rsa_key("k", rsa_path), b"rsa-sha256")
        ed_key = Key("e", dkim_keys.read_ed25519_key("k", ed_path), b"ed25519-sha256")
    plain = _per_email(lambda: wire.write(*parts))
    one = Signer("example.test", [rsa_key])
    signed = _per_email(lambda: one.sign(wire.write(*parts)))
    both = Signer("example.test", [rsa_key, ed_key])
    twice = _per_email(lambda: both.sign(wire.write(*parts)))
    return [
        (
            "write a course email, then DKIM-sign it (rsa-sha256, 2048 bits)",
            f"{plain * 1000:.2f} ms",
            f"{signed * 1000:.2f} ms",
            f"{signed / plain:.1f}× (+{(signed - plain) * 1000:.2f} ms)",
        ),
        (
            "… with a second, ed25519-sha256 signature",
            f"{plain * 1000:.2f} ms",
            f"{twice * 1000:.2f} ms",
            f"{twice / plain:.1f}× (+{(twice - plain) * 1000:.2f} ms)",
        ),
    ]


def _per_email(write: object) -> float:
    assert callable(write)
    write()
    start = time.perf_counter()
    for _ in range(EMAILS):
        write()
    return (time.perf_counter() - start) / EMAILS


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 12, 5, 8, tzinfo=UTC)
