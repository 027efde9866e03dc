"""What the desk keeps for itself: the snapshot of its costly figures."""

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
