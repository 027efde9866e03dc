"""Repeated measurements: the median, with the spread (min-max) beside it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: list[float]) -> Figure:
        assert samples, "a figure needs at least one measurement"
        return cls(tuple(samples))

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def show(self, unit: str = "/s", digits: int = 0) -> str:
        """``612/s (545-640, n=5)``."""
        low, high = min(self.samples), max(self.samples)
        return (
            f"{self.median:,.{digits}f}{unit} ({low:,.{digits}f}-{high:,.{digits}f}, "
            f"n={len(self.samples)})"
        )


def ratio(ours: Figure, baseline: Figure) -> float:
    return ours.median / baseline.median


@dataclass
class Goal:
    """One goal of an issue, measured beside its baseline, as docs/BENCHMARKS.md shows it."""

    number: int
    what: str
    target: str
    measured: str
    met: bool | None
    details: list[str] = field(default_factory=list)
