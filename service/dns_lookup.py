"""DNS questions, asked live with dnspython: through ``DNS_NAMESERVER`` when it is set (a
loopback server in tests), else the system's resolver. Used by the Sending setup checks
(SPF, DKIM, DMARC, MX) and by pacing (which provider receives a reader's mail)."""

from __future__ import annotations

from collections.abc import Callable

import dns.exception
import dns.name
import dns.resolver


class Offline(Exception):
    """No name server answers."""


class NoAnswerFor(Offline):
    """The name servers answered, but not usefully for this one name (SERVFAIL and the
    like): other names may still be asked about."""


class BadName(Exception):
    """A domain that no DNS question can be asked about."""


Lookup = Callable[[str, str], list[str]]


def resolver_for(nameserver: str, *, timeout: float = 5) -> Lookup:
    """A TXT/MX lookup through ``nameserver`` ("host" or "host:port"; empty: the system's).

    Raises ``Offline`` when nobody answers within ``timeout`` seconds, ``BadName`` for a
    name DNS cannot hold; a name with no such record is an empty list."""
    resolver = dns.resolver.Resolver(configure=not nameserver)
    if nameserver:
        # "host:port" for IPv4; an IPv6 address has colons of its own (port 53)
        host, _, port = (
            nameserver.rpartition(":") if nameserver.count(":") == 1 else (nameserver, "", "")
        )
        resolver.nameservers = [host]
        resolver.port = int(port or 53)
    resolver.lifetime = timeout

    def lookup(name: str, kind: str) -> list[str]:
        try:
            answer = resolver.resolve(name, kind)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.YXDOMAIN):
            return []
        except dns.exception.Timeout:
            raise Offline(f"no answer within {timeout:g} s") from None
        except dns.resolver.NoNameservers:
            raise NoAnswerFor(f"the name servers could not answer for {name}") from None
        except (dns.name.NameTooLong, dns.name.EmptyLabel, dns.name.LabelTooLong) as error:
            raise BadName(f"{name} is not a valid domain name ({error})") from None
        except dns.exception.DNSException as error:  # anything else DNS can say: no answer
            raise NoAnswerFor(f"no usable answer for {name} ({type(error).__name__})") from None
        if kind == "TXT":
            return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
        return [r.to_text() for r in answer]

    return lookup
