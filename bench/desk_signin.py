"""The desk's sign-in, timed from outside: a wrong name must cost what a wrong password costs,
or the answer's speed tells a stranger which names have accounts (issue 22 measured 77 ms
against 240 ms)."""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime

from bench.common import progress
from service.desk import accounts
from service.store.db import Database
from service.store.migrate import upgrade

#: Sign-in attempts timed per kind.
TRIES = 15


def bench_desk_signin() -> list[tuple[str, str, str, str]]:
    progress("desk sign-in: a wrong password for a real name vs. a name nobody has")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        database = Database(url)
        with database.session() as session:
            accounts.add(session, "lee", "correct horse battery staple", datetime.now(UTC))

        def median_ms(name: str) -> float:
            times = []
            for n in range(TRIES):
                with database.session() as session:
                    start = time.perf_counter()
                    assert accounts.check_password(session, name, f"guess {n}") is None
                    times.append(time.perf_counter() - start)
            return statistics.median(times) * 1000

        median_ms("nobody")  # the decoy hash is made once, on first use
        wrong_password = median_ms("lee")
        unknown_name = median_ms("nobody")
        database.dispose()
    return [
        (
            "desk sign-in, median of 15: a name nobody has (vs. a real name, wrong password)",
            f"{wrong_password:.0f} ms",
            f"{unknown_name:.0f} ms",
            f"{unknown_name / wrong_password:.2f}×",
        )
    ]
