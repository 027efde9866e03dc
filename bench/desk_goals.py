"""Issue 12's figures: the therapist's desk at 1,000,000 readers and 5,000,000 emails, each
beside a baseline measured in the same run (bench/desk_scale.py measures)."""

from __future__ import annotations

from pathlib import Path

from bench import desk_scale
from bench.common import progress
from bench.stats import Goal, ratio

REPS = 7
LIMIT = 0.300  # seconds of server time


def desk_at_scale(folder: Path) -> list[Goal]:
    overview_rows, search_rows, details = [], [], []
    overview_met = search_met = True
    for kind in ("sqlite", "postgres"):
        progress(f"goal 8-9: the desk on {kind}, 10,000 and 1,000,000 readers")
        small = desk_scale.measure(kind, 10_000, folder, reps=REPS)
        large = desk_scale.measure(kind, 1_000_000, folder, reps=REPS)
        overview_met = overview_met and large.overview.median < LIMIT
        overview_rows.append(
            f"{kind}: {large.overview.show('s', 3)} (counting live on each visit: "
            f"{ratio(large.live, large.overview):,.0f}× longer)"
        )
        details.append(
            f"{kind}: the overview took {large.overview.show('s', 3)} at 1,000,000 readers "
            f"and {small.overview.show('s', 3)} at 10,000 (counted live there); counting the "
            f"funnel and sign-ups live at 1,000,000 takes {large.live.show('s', 3)}, which the "
            f"tick now does every {desk_scale.spacing_for(large.refresh_seconds)} "
            f"({large.refresh_seconds:.2f} s a time)."
        )
        slowest = max(large.searches.values(), key=lambda f: f.median)
        search_met = search_met and slowest.median < LIMIT
        search_rows.append(f"{kind}: slowest {slowest.show('s', 3)}")
        details.append(
            f"{kind} searches at 1,000,000 (at 10,000): "
            + "; ".join(
                f"{label} {figure.show('s', 3)} ({small.searches[label].show('s', 3)})"
                for label, figure in large.searches.items()
            )
            + "."
        )
    how = (
        "Server time: each page asked through the real app by a signed-in test client "
        "(routing, session, queries, template), median of "
        f"{REPS}. The list: 1,000,000 readers who signed up over 60 days, each sent 5 emails "
        "(5,000,000 deliveries) with the next due within nine days."
    )
    return [
        Goal(
            8,
            "the desk's overview at 1,000,000 readers and 5,000,000 emails",
            "< 300 ms of server time, both databases",
            "; ".join(overview_rows),
            overview_met,
            [how, *[d for d in details if "overview" in d]],
        ),
        Goal(
            9,
            "a search of the readers at 1,000,000",
            "< 300 ms of server time, both databases",
            "; ".join(search_rows),
            search_met,
            [d for d in details if "searches" in d],
        ),
        export_at_scale(folder),
    ]


def export_at_scale(folder: Path) -> Goal:
    progress("goal 10: exporting 10,000 and 1,000,000 readers")
    small_kib = desk_scale.export_peak(folder, 10_000)
    large_kib = desk_scale.export_peak(folder, 1_000_000)
    growth = large_kib / small_kib
    return Goal(
        10,
        "exporting 1,000,000 readers",
        "peak memory within 2× of exporting 10,000",
        f"{growth:.2f}× ({large_kib:,} KiB vs {small_kib:,} KiB)",
        growth <= 2,
        [
            "`coursemail readers export` (CSV) in a fresh interpreter on SQLite; peak "
            "resident memory from getrusage."
        ],
    )
