"""Checks shared by the sign-up form and the import: what a first name may hold."""

from __future__ import annotations

import unicodedata

MAX_NAME = 100

#: Format characters that belong inside real names: zero-width joiner (emoji sequences) and
#: non-joiner (Persian, Kurdish and other scripts write names with it, e.g. "علی‌رضا").
NAME_JOINERS = frozenset({"\u200c", "\u200d"})


def _not_a_name_character(ch: str) -> bool:
    """Control characters, line breaks and invisible formatting (bidi overrides...)."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in NAME_JOINERS


def name_problem(name: str) -> str | None:
    """What is wrong with a first name, in words for the person who typed it; None if fine."""
    if len(name) > MAX_NAME:
        return f"Please keep your name under {MAX_NAME} characters."
    if any(_not_a_name_character(ch) for ch in name):
        return "Please use just letters, spaces and ordinary punctuation in your name."
    return None
