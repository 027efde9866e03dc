"""``coursemail dkim new`` and ``coursemail dkim record``: the key every outgoing message is
signed with (``workers.signing``), and the DNS record to publish for it."""

from __future__ import annotations

from pathlib import Path

import click

from workers.cli.common import settings_or_exit


@click.group()
def dkim() -> None:
    """The DKIM key that signs every message we send."""


@dkim.command("new")
@click.option("--selector", default=None, help="The selector (default: DKIM_SELECTOR).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the private key (default: instance/dkim-SELECTOR.pem).",
)
@click.option("--ed25519", is_flag=True, help="Make an ed25519 key for a second signature.")
def new(selector: str | None, out: Path | None, ed25519: bool) -> None:
    """Write a new private key (mode 0600) and print the DNS record to publish for it."""
    from service import dkim_keys

    settings = settings_or_exit()
    chosen = selector or (settings.DKIM_ED25519_SELECTOR if ed25519 else settings.DKIM_SELECTOR)
    path = out or settings.instance_path / f"dkim-{chosen}.pem"
    if path.exists():
        raise click.ClickException(f"{path} exists already: choose another --out or --selector")
    make = dkim_keys.new_ed25519 if ed25519 else dkim_keys.new_rsa
    made = make(path, chosen, settings.mail_from_domain)
    kind = "an ed25519" if ed25519 else "a 2048-bit RSA"
    click.echo(f"Wrote {kind} private key to {path} (only you can read it).")
    click.echo("")
    click.echo("1. Publish this TXT record in the DNS of " + settings.mail_from_domain + ":")
    click.echo("")
    click.echo("   " + dkim_keys.zone_line(made.name, made.record))
    click.echo("")
    click.echo("2. Then set, on every process that sends mail:")
    click.echo("")
    if ed25519:
        click.echo(f"   DKIM_ED25519_KEY={path}\n   DKIM_ED25519_SELECTOR={chosen}")
    else:
        click.echo(f"   DKIM_PRIVATE_KEY={path}\n   DKIM_SELECTOR={chosen}")
    click.echo("")
    click.echo("3. `coursemail doctor` checks the record once it is published.")


@dkim.command("record")
def record() -> None:
    """Print the DNS record(s) to publish for the keys in DKIM_PRIVATE_KEY and DKIM_ED25519_KEY."""
    from service import dkim_keys

    settings = settings_or_exit()
    domain = settings.mail_from_domain
    found = False
    if settings.DKIM_PRIVATE_KEY is not None:
        value = dkim_keys.record_for(settings.DKIM_PRIVATE_KEY)
        name = dkim_keys.record_name(settings.DKIM_SELECTOR, domain)
        click.echo(dkim_keys.zone_line(name, value))
        found = True
    if settings.DKIM_ED25519_KEY is not None:
        value = dkim_keys.record_for(settings.DKIM_ED25519_KEY, ed25519_key=True)
        name = dkim_keys.record_name(settings.DKIM_ED25519_SELECTOR, domain)
        click.echo(dkim_keys.zone_line(name, value))
        found = True
    if not found:
        raise click.ClickException("no DKIM key is set: `coursemail dkim new` makes one")
