"""``coursemail doctor``: is this service set up to send mail that arrives? Each DNS record
(SPF, DKIM, DMARC, MX), the relay, ``PUBLIC_URL`` and the reply path, checked live
(``service.desk.sending_setup``) and printed found / missing / wrong with the exact line to
publish. The desk's Sending setup page shows the same.

Exit status: 0 when everything a provider requires is right; 1 when something required is
missing, wrong or failing; 2 when nothing failed but something required could not be checked
(no DNS answered, or ``--offline``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from workers.cli.common import command_runtime, settings_or_exit

if TYPE_CHECKING:
    from service.desk.sending_setup import Check

MARKS = {
    "found": "ok",
    "ok": "ok",
    "off": "--",
    "missing": "MISSING",
    "wrong": "WRONG",
    "failed": "FAILED",
    "unknown": "??",
}


@click.command()
@click.option(
    "--offline", is_flag=True, help="Skip what needs the network (DNS, the relay, PUBLIC_URL)."
)
@click.option(
    "--send",
    is_flag=True,
    help="Also send a test to the therapist, and one round the reply path (and wait for it).",
)
@click.option(
    "--wait",
    type=click.IntRange(1, 3600),
    default=120,
    show_default=True,
    help="With --send: seconds to wait for the reply-path test to come back.",
)
def doctor(offline: bool, send: bool, wait: int) -> None:
    """Check DNS records, the relay, PUBLIC_URL and the reply path; say what to fix."""
    from service.addresses import Addresses
    from service.desk import sending_setup

    if offline and send:
        raise click.UsageError("--send needs the network: leave out --offline")
    settings = settings_or_exit()
    if send and not settings.THERAPIST_EMAIL:
        raise click.UsageError(
            "--send mails a test to the therapist: set THERAPIST_EMAIL first (the course "
            "file's address is the seed's, never written to from a test)"
        )
    addresses = Addresses(settings.SECRET_KEY, settings.REPLY_DOMAIN)
    click.echo("Checking how mail leaves and comes back (this can take a few seconds)...", err=True)
    checks = sending_setup.everything(settings, addresses, offline=offline)
    if send:
        checks += _round_trip(wait)
    width = max(len(c.what) for c in checks)
    for check in checks:
        mark = MARKS.get(check.state, check.state)
        need = " (required)" if check.required and not check.good else ""
        click.echo(f"{mark:>7}  {check.what.ljust(width)}  {check.detail}{need}")
        if check.paste and not check.good:
            click.echo(f"{'':>7}  publish or set: {check.paste}")
    broken, unknown = sending_setup.verdict(checks)
    if any(not c.good for c in checks):
        click.echo("\nThe records for your domain (whoever looks after its DNS can paste them):")
        for line in sending_setup.records_to_publish(settings):
            click.echo(f"  {line}")
    click.echo("")
    if broken:
        click.echo(
            f"{len(broken)} required thing(s) are not right (Gmail, Yahoo and Outlook.com junk "
            "or refuse mail without them): fix the lines marked above, then run coursemail "
            "doctor again."
        )
        raise SystemExit(1)
    if unknown:
        click.echo("Nothing failed, but some checks could not be made from here (see ?? above).")
        raise SystemExit(2)
    click.echo("Everything a mail provider requires is in place.")


def _round_trip(wait: int) -> list[Check]:
    """Send the two tests through the relay; wait for the reply-path one to come back."""
    from service.desk.sending_setup import Check, probe_came_back
    from workers.setup_tests import send_tests

    with command_runtime() as rt:
        sent = send_tests(rt)
        to_her = f"a test email to {sent.therapist}"
        checks = [
            Check(to_her, "failed", f"the relay refused it: {sent.therapist_error}", required=True)
            if sent.therapist_error
            else Check(to_her, "ok", "the relay took it: look for it in her inbox (and spam)")
        ]
        what = "a reply's way back"
        if sent.probe is None:
            return [*checks, Check(what, "off", "REPLY_MODE=direct: replies go to her inbox")]
        if sent.probe_error:
            detail = f"the relay refused the test to {sent.probe}: {sent.probe_error}"
            return [*checks, Check(what, "failed", detail, required=True)]
        click.echo(f"Waiting up to {wait} s for the test sent to {sent.probe}...", err=True)
        started = time.monotonic()
        while time.monotonic() - started < wait:
            with rt.database.session(read_only=True) as session:
                back = probe_came_back(session, sent.probe)
            if back is not None:
                took = time.monotonic() - started
                detail = f"a test sent through the relay came back to the listener in {took:.0f} s"
                return [*checks, Check(what, "ok", detail)]
            time.sleep(1)
        detail = (
            f"a test sent through the relay to {sent.probe} did not come back within {wait} s: "
            "check REPLY_DOMAIN's MX and that `coursemail inbound` is reachable on port 25"
        )
        return [*checks, Check(what, "failed", detail, required=True)]
