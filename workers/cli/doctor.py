"""``coursemail doctor``: is this service set up to send mail that arrives? Each DNS record
(SPF, DKIM, DMARC, MX), the relay, ``PUBLIC_URL`` and the reply path, checked live
(``service.desk.sending_setup``) and printed found / missing / wrong with the exact line to
publish. The desk's Sending setup page shows the same.

Exit status: 0 when everything a provider requires is right; 1 when something required is
missing, wrong or failing; 2 when nothing failed but something required could not be checked
(no DNS answered, or ``--offline``)."""

from __future__ import annotations

import click

from workers.cli.common import settings_or_exit

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
def doctor(offline: bool) -> None:
    """Check DNS records, the relay, PUBLIC_URL and the reply path; say what to fix."""
    from service.addresses import Addresses
    from service.desk import sending_setup

    settings = settings_or_exit()
    addresses = Addresses(settings.SECRET_KEY, settings.REPLY_DOMAIN)
    click.echo("Checking how mail leaves and comes back (this can take a few seconds)...", err=True)
    checks = sending_setup.everything(settings, addresses, offline=offline)
    width = max(len(c.what) for c in checks)
    for check in checks:
        mark = MARKS.get(check.state, check.state)
        need = " (required)" if check.required and not check.good else ""
        click.echo(f"{mark:>7}  {check.what.ljust(width)}  {check.detail}{need}")
        if check.paste and not check.good:
            click.echo(f"{'':>7}  publish or set: {check.paste}")
    broken, unknown = sending_setup.verdict(checks)
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
