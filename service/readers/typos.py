"""Likely slips in the part of an address after the @ ("gmial.com", "gmail.con", "hotmail"),
with the address the reader probably meant. A suggestion only: the form never refuses an
address for it, and an address that is right as typed stays right."""

from __future__ import annotations

#: The providers most readers use; a domain one or two keystrokes away from one of these is
#: probably a slip. (The page's script gets the same list, to suggest as they type.)
KNOWN_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "comcast.net",
    "protonmail.com",
    "proton.me",
    # real providers close to those above, so they are never "corrected"
    "mail.com",
    "gmx.com",
    "ymail.com",
    "att.net",
    "sbcglobal.net",
    "verizon.net",
    "hotmail.co.uk",
    "yahoo.co.uk",
    "btinternet.com",
)
#: How far a domain may be from a known one and still be a slip of it.
MAX_DISTANCE = 2


def suggestion(address: str) -> str | None:
    """The address the reader probably meant, or None (nothing to suggest)."""
    local, at, domain = address.strip().rpartition("@")
    domain = domain.lower().rstrip(".")
    if not at or not local or not domain or domain in KNOWN_DOMAINS:
        return None
    best = min(KNOWN_DOMAINS, key=lambda known: _distance(domain, known))
    if "." not in domain and best.startswith(domain + "."):
        return f"{local}@{best}"  # "lee@gmail": the ending left off
    if _distance(domain, best) <= MAX_DISTANCE and len(domain) >= 5:
        return f"{local}@{best}"
    return None


def _distance(a: str, b: str) -> int:
    """Edits (insert, delete, change, swap two neighbours) that turn ``a`` into ``b``."""
    previous, current = None, list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        earlier, previous = previous, current
        current = [i] + [0] * len(b)
        for j, other in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            if earlier and i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == other:
                current[j] = min(current[j], earlier[j - 2] + 1)
    return current[-1]
