"""What the desk and its health check keep for themselves: the snapshot of the costly
figures, and the row every /healthz probe writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Float,
    Integer,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.store.models.base import Base


class DeskSnapshot(Base):
    """The desk's costly figures (the funnel, sign-ups per day), refreshed by the tick so the
    overview answers at once whatever the size of the list. One row."""

    __tablename__ = "desk_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    taken_at: Mapped[datetime]
    #: how long the refresh took: the tick spaces refreshes by it
    seconds: Mapped[float] = mapped_column(Float)
    #: JSON: {"funnel": [[label, count], ...], "per_day": [[date, count], ...]}
    data: Mapped[str] = mapped_column(Text)


class HealthProbe(Base):
    """One row, written by every ``/healthz``: reads alone would call a full disk healthy."""

    __tablename__ = "health_probe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    written_at: Mapped[datetime]
