"""The crisis phrase list catches how people actually write about being in danger (word
forms, missing apostrophes, capitals) and leaves alone what nearly always means no harm. The
positive phrasings follow crisis-line screening questions (the Columbia protocol's "wished
you were dead", "go to sleep and not wake up", "thoughts of killing yourself") and what
readers of a course like this write; where a phrasing is ambiguous the list errs toward
flagging (emails/safety/crisis-phrases.txt says so)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from emails.safety import SHIPPED_PHRASES, SafetyFileError, crisis_phrases

PHRASES = crisis_phrases(SHIPPED_PHRASES)

IN_DANGER = [
    "Honestly some nights I think about ending it all",
    "I've thought about killing myself.",
    "i want to kill myself",
    "Sometimes I think I'd be better off dead",
    "Everyone would be better off without me.",
    "I wish I was dead",
    "I wished I were dead when I found out",
    "Some nights I wish I could go to sleep and never wake up",
    "I hope I don't wake up tomorrow",
    "I don’t want to be here anymore",
    "I dont want to live any more",
    "There's no reason to live now",
    "there is no point in going on",
    "I can't go on like this",
    "I cant do this anymore",
    "I've been cutting myself again",
    "I took an overdose last spring",
    "I'm thinking of taking my own life",
    "I have been feeling suicidal",
    "I want to die",
    "I wanna die",
    "I just want to end it",
    "I'm going to end it tonight",
    "I keep thinking about dying",
    "Self-harm has been on my mind",
    "My husband hits me when he drinks",
    "he choked me last night",
    "He threatened to kill me if I leave",
    "She said she would kill me",
    "I'm scared for my life",
    "I am afraid of my husband",
    "I don't feel safe at home",
    "He almost killed me",
    "my partner abuses me",
    "he pushed me down the stairs",
]

HARMLESS = [
    "this step killed me, ha",
    "I'm dying to read the next one",
    "The suspense is killing me!",
    "I could kill for a coffee right now",
    "He really hurt me when he lied",
    "It still hurts",
    "I nearly died laughing at the example",
    "He pushed me away for months",
    "She pushed me to write this reply",
    "I'd end this course happily again",
    "My grandmother is dying and I feel guilty about the affair",
]


@pytest.mark.parametrize("text", IN_DANGER)
def test_a_reply_in_danger_is_caught(text: str) -> None:
    assert PHRASES.find(text), text


@pytest.mark.parametrize("text", HARMLESS)
def test_a_harmless_figure_of_speech_is_left_alone(text: str) -> None:
    assert PHRASES.find(text) == [], text


def test_ambiguous_phrasings_err_toward_flagging() -> None:
    # "dying" about oneself is flagged; "dying to" and a grandmother who is dying are not
    assert PHRASES.find("Some days I feel like I'm dying inside")
    assert PHRASES.find("I'm afraid of her when she drinks")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("die", "too short"),
        ("kill (myself", "every ( needs its )"),
        ("want to die!", "cannot be used"),
        ("(a|(b|c))", "inside each other"),
    ],
)
def test_a_bad_phrase_is_reported_by_file_and_line(tmp_path: Path, line: str, words: str) -> None:
    path = tmp_path / "phrases.txt"
    path.write_text(f"# mine\nsuicide\n{line}\n", encoding="utf-8")
    with pytest.raises(SafetyFileError, match=rf"phrases\.txt:3: .*{re.escape(words)}"):
        crisis_phrases(path)


def test_harmless_lines_only_spare_what_lies_inside_them(tmp_path: Path) -> None:
    path = tmp_path / "phrases.txt"
    path.write_text("(im|i am) dying\nnot: dying to\n", encoding="utf-8")
    found = crisis_phrases(path)
    assert found.find("I'm dying to see you") == []
    assert found.find("I'm dying. I want to see you") == ["im dying"]
