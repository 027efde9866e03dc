"""The desk's search finds readers by any part of their address or first name, the same
whether the trigram index answers (a rare text) or the list is read newest first (a common
one), and the index follows every change to an address or a name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text, update

from service.desk import lists, search
from service.store.models import Reader
from workers.runtime import Runtime

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _add(rt: Runtime, people: list[tuple[str, str | None]]) -> None:
    with rt.database.session() as session:
        session.execute(
            insert(Reader),
            [
                {
                    "email": e,
                    "first_name": n,
                    "timezone": "UTC",
                    "status": "active",
                    "created_at": NOW,
                }
                for e, n in people
            ],
        )


def _found(rt: Runtime, q: str) -> list[str]:
    """Every reader the desk finds for ``q``, page after page."""
    emails: list[str] = []
    before = None
    with rt.database.session(read_only=True) as session:
        while True:
            rows, before = lists.find_readers(session, q=q, before=before)
            emails += [r.email for r in rows]
            if before is None:
                return emails


@pytest.fixture
def readers(rt: Runtime) -> list[tuple[str, str | None]]:
    people: list[tuple[str, str | None]] = [
        ("amelie.dupont@example.test", "Amelie"),
        ("sam@example.test", "Samantha"),
        ("o'brien_100%@example.test", None),
        ("zed@example.test", "Zed"),
    ]
    # more readers at one provider than the trigram table is asked about
    people += [(f"reader{n}@gmail.test", f"Reader{n}") for n in range(search.RARE + 150)]
    _add(rt, people)
    return people


@pytest.mark.parametrize(
    "q",
    [
        "dupont",
        "DUPONT",
        "samantha",
        "sam",
        "SA",
        "z",
        "@gmail",
        "reader21",
        "mail.te",
        "o'brien_100%",
        "100%",
        "_",
        "nobody-at-all",
        'quo"te',
    ],
)
def test_every_reader_holding_the_text_is_found_newest_first(
    rt: Runtime, readers: list[tuple[str, str | None]], q: str
) -> None:
    wanted = [
        e for e, n in reversed(readers) if q.lower() in e.lower() or q.lower() in (n or "").lower()
    ]
    assert _found(rt, q) == wanted


def test_the_index_follows_changed_and_removed_readers(
    rt: Runtime, readers: list[tuple[str, str | None]]
) -> None:
    with rt.database.session() as session:
        session.execute(
            update(Reader)
            .where(Reader.email == "zed@example.test")
            .values(email="erased-1@erased.invalid", first_name=None)
        )
        session.delete(session.scalars(select(Reader).where(Reader.first_name == "Amelie")).one())
    assert _found(rt, "zed@example") == [] and _found(rt, "dupont") == []
    assert _found(rt, "erased-1") == ["erased-1@erased.invalid"]


def test_a_rare_text_is_looked_up_in_the_index_and_a_common_one_read_newest_first(
    rt: Runtime, readers: list[tuple[str, str | None]]
) -> None:
    with rt.database.session(read_only=True) as session:
        rare = str(search.matching(session, "dupont"))
        common = str(search.matching(session, "@gmail"))
        short = str(search.matching(session, "du"))
    # (PostgreSQL's planner makes this choice itself, with its pg_trgm indexes)
    assert ("subscriber_search" in rare) == rt.database.is_sqlite
    assert "subscriber_search" not in common and "subscriber_search" not in short


def test_each_database_has_its_trigram_index(rt: Runtime) -> None:
    with rt.database.session(read_only=True) as session:
        if rt.database.is_sqlite:
            found = session.scalars(
                select(text("name"))
                .select_from(text("sqlite_master"))
                .where(text("name LIKE 'subscriber_search%'"))
            ).all()
            assert "subscriber_search" in found
        else:
            found = session.scalars(
                select(text("indexname"))
                .select_from(text("pg_indexes"))
                .where(text("schemaname = current_schema() AND indexname LIKE '%_trgm'"))
            ).all()
            assert sorted(found) == ["ix_subscribers_email_trgm", "ix_subscribers_first_name_trgm"]
