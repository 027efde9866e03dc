"""The crisis phrase list's little language, kept readable for a therapist who edits it.

- One phrase per line; lines starting with ``#`` are notes.
- Capitals, apostrophes (straight, curly or left out), hyphens and extra spaces are ignored:
  ``don't`` also matches "dont" and "don’t", ``self-harm`` also "self harm".
- ``*`` after letters stands for any ending of that word: ``end*`` matches end, ends, ended,
  ending.
- ``(a|b|c)`` matches any one of the choices; an empty choice makes it optional:
  ``(really |)``.
- A line starting with ``not:`` names a harmless way of saying something a phrase would catch
  ("not: dying to" keeps "I'm dying to read the next one" from counting): a match that
  overlaps one of these is ignored.

Phrases match whole words only. Each line is compiled once into a regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: What a phrase may be written with, once normalised.
_ALLOWED = re.compile(r"^[a-z0-9 *()|]+$")
#: The shortest phrase that is safe to match (in letters): fewer catch ordinary words.
MIN_LETTERS = 4
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`")
_EDGE_BEFORE, _EDGE_AFTER = r"(?<![a-z0-9])", r"(?![a-z0-9])"


class PhraseError(ValueError):
    """A phrase that cannot be used; the message says why."""


def normalise(text: str) -> str:
    """Lower case, no apostrophes, hyphens as spaces, single spaces: how text is compared."""
    return " ".join(text.lower().translate(_APOSTROPHES).replace("-", " ").split())


def compile_phrase(phrase: str) -> re.Pattern[str]:
    """One line of the list as a regular expression over normalised text."""
    text = normalise(phrase)
    if not _ALLOWED.match(text):
        bad = sorted(set(re.sub(r"[a-z0-9 *()|]", "", text)))
        raise PhraseError(f"{''.join(bad)!r} cannot be used in a phrase (letters, *, ( | ) only)")
    if text.count("(") != text.count(")") or re.search(r"\([^)]*\(", text):
        raise PhraseError("every ( needs its ), and groups cannot be inside each other")
    if _fewest_letters(text) < MIN_LETTERS:
        raise PhraseError(
            f"is too short to match safely: its shortest form needs {MIN_LETTERS} or more letters"
        )
    # a space may also be missing, so an optional group ("my (own |)life", "my (own|) life")
    # reads the same however its spaces were typed
    pattern = "".join(
        {"*": "[a-z0-9]*", "(": "(?:", ")": ")", "|": "|", " ": " ?"}.get(c, re.escape(c))
        for c in text
    )
    return re.compile(_EDGE_BEFORE + pattern + _EDGE_AFTER)


def _fewest_letters(text: str) -> int:
    """Letters in the shortest text a phrase can match (each group's shortest choice)."""
    outside = len(re.sub(r"[^a-z]", "", re.sub(r"\([^)]*\)", "", text)))
    groups = re.findall(r"\(([^)]*)\)", text)
    return outside + sum(min(len(re.sub(r"[^a-z]", "", c)) for c in g.split("|")) for g in groups)


@dataclass(frozen=True)
class PhraseList:
    phrases: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    harmless: tuple[re.Pattern[str], ...] = ()

    def find(self, text: str) -> list[str]:
        """The words that matched, as found in ``text`` (normalised: "dont want to live"),
        in the order of the list, once each."""
        plain = normalise(text)
        spared = [m.span() for h in self.harmless for m in h.finditer(plain)]
        found: list[str] = []
        for pattern in self.patterns:
            for match in pattern.finditer(plain):
                start, end = match.span()
                if not any(start < b and a < end for a, b in spared):
                    if match.group(0) not in found:
                        found.append(match.group(0))
                    break
        return found
