"""Who receives a reader's mail: Google, Microsoft, Yahoo/AOL or Apple, known by the
address's domain or, for a domain of its own (a practice hosted at Google), by its MX records
(the tick asks DNS, a few domains a pass, outside any transaction, and keeps the answer a
week); any other domain is its own provider. Pacing counts, and a policy refusal holds, by
these groups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.dns_lookup import BadName, Lookup, NoAnswerFor, Offline
from service.store.models import Delivery, DeliveryKind, DeliveryStatus, Reader, ReceivingDomain


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


def spoken_provider(scope: str) -> str:
    """How the therapist's email names a held provider: a large one by name; any other
    (often one reader's own domain) without naming it."""
    return PROVIDERS.get(scope, "one smaller mail provider")


#: The providers pacing knows by name, and how the desk says them.
PROVIDERS = {
    "google": "Google (Gmail)",
    "microsoft": "Microsoft (Outlook, Hotmail)",
    "yahoo": "Yahoo and AOL",
    "apple": "Apple (iCloud)",
}
#: Address domains whose provider is known without asking DNS.
KNOWN_DOMAINS = {
    **dict.fromkeys(("gmail.com", "googlemail.com"), "google"),
    **dict.fromkeys(
        ("outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk", "outlook.fr"),
        "microsoft",
    ),
    **dict.fromkeys(
        ("yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "aol.com", "aim.com"),
        "yahoo",
    ),
    **dict.fromkeys(("icloud.com", "me.com", "mac.com"), "apple"),
}
#: MX host names (their ending) that say who receives a domain's mail.
MX_ENDINGS = (
    ("google.com.", "google"),
    ("googlemail.com.", "google"),
    ("outlook.com.", "microsoft"),
    ("yahoodns.net.", "yahoo"),
    ("icloud.com.", "apple"),
)
#: How long a domain's provider, read from its MX, is trusted.
MX_KEPT = timedelta(days=7)
#: MX lookups one pass of the tick makes at most (each waits at most ``MX_TIMEOUT``).
MX_LOOKUPS_PER_PASS = 20
MX_TIMEOUT = 2.0


def provider_for_mx(records: Iterable[str]) -> str | None:
    """The provider an MX answer's preferred hosts name (``"10 aspmx.l.google.com."``),
    if a known one: a backup MX at Google does not make a domain Google's."""
    parsed = []
    for record in records:
        parts = record.split()
        if len(parts) == 2 and parts[0].isdigit():
            parsed.append((int(parts[0]), parts[1].lower().rstrip(".") + "."))
    if not parsed:
        return None
    best = min(preference for preference, _ in parsed)
    found = {
        provider
        for preference, host in parsed
        if preference == best
        for ending, provider in MX_ENDINGS
        if host == ending or host.endswith("." + ending)
    }
    return found.pop() if len(found) == 1 else None


def providers(session: Session, domains: Iterable[str]) -> dict[str, str]:
    """Each domain's provider group: a known provider's name, or the domain itself."""
    wanted = set(domains)
    found = {d: KNOWN_DOMAINS[d] for d in wanted if d in KNOWN_DOMAINS}
    unknown = sorted(wanted - found.keys())
    for start in range(0, len(unknown), 500):
        chunk = unknown[start : start + 500]
        rows = session.execute(
            select(ReceivingDomain.domain, ReceivingDomain.provider).where(
                ReceivingDomain.domain.in_(chunk)
            )
        )
        found.update((domain, provider) for domain, provider in rows)
    return {d: found.get(d, d) for d in wanted}


def domains_to_learn(session: Session, *, now: datetime, limit: int) -> list[str]:
    """Domains of course email waiting to go whose provider is not known (or is stale)."""
    emails = session.scalars(
        select(Reader.email)
        .join(Delivery, Delivery.reader_id == Reader.id)
        .where(Delivery.kind == DeliveryKind.STEP, Delivery.status == DeliveryStatus.PENDING)
        .order_by(Delivery.id)
        .limit(2000)
    )
    domains = {domain_of(e) for e in emails} - KNOWN_DOMAINS.keys()
    if not domains:
        return []
    fresh = set(
        session.scalars(
            select(ReceivingDomain.domain).where(
                ReceivingDomain.domain.in_(sorted(domains)),
                ReceivingDomain.checked_at > now - MX_KEPT,
            )
        )
    )
    return sorted(domains - fresh)[:limit]


#: A domain whose name servers would not answer is asked again after this long (meanwhile it
#: is its own provider).
MX_RETRY = timedelta(days=1)


def look_up(domains: Sequence[str], lookup: Lookup) -> dict[str, tuple[str, bool]]:
    """Each domain's provider from its MX records (the domain itself when they name none),
    and whether the answer was whole. Stops when DNS does not answer at all (the next pass
    tries again); a name whose own servers fail is the domain itself, asked again later."""
    learned: dict[str, tuple[str, bool]] = {}
    for domain in domains:
        try:
            records = lookup(domain, "MX")
        except NoAnswerFor:
            learned[domain] = (domain, False)
            continue
        except Offline:
            break
        except BadName:
            records = []
        learned[domain] = (provider_for_mx(records) or domain, True)
    return learned


def remember(session: Session, learned: Mapping[str, tuple[str, bool]], *, now: datetime) -> None:
    for domain, (provider, whole) in learned.items():
        checked = now if whole else now - MX_KEPT + MX_RETRY
        session.merge(ReceivingDomain(domain=domain, provider=provider, checked_at=checked))
