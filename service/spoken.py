"""Times as a person says them, in the reader's own time zone ("Tuesday 8 December, 8:00 in
the morning, New York time"), and as the desk shows them, in the therapist's ("Tue 8 Dec,
08:00 PST"). Readers never see "UTC" or a zone's code name."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

#: Zones whose last part does not say the place as people do.
_PLACES = {"Etc/UTC": "UTC", "UTC": "UTC", "Etc/GMT": "UTC", "GMT": "UTC"}


def place(zone: str) -> str:
    """ "New York time" for America/New_York; "UTC" for UTC."""
    if zone in _PLACES:
        return _PLACES[zone]
    return zone.rsplit("/", 1)[-1].replace("_", " ") + " time"


def part_of_day(hour: int) -> str:
    if hour < 12:
        return "in the morning"
    if hour < 18:
        return "in the afternoon"
    return "in the evening" if hour < 22 else "at night"


def when(moment: datetime, zone: str) -> str:
    """ "Tuesday 8 December, 8:00 in the morning, New York time"."""
    local = moment.astimezone(ZoneInfo(zone))
    clock = f"{local.hour % 12 or 12}:{local.minute:02d}"
    return f"{day(moment, zone)}, {clock} {part_of_day(local.hour)}, {place(zone)}"


def day(moment: datetime, zone: str) -> str:
    """ "Tuesday 8 December"."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%A} {local.day} {local:%B}"


def on_the_desk(moment: datetime | None, zone: str) -> str:
    """ "Tue 8 Dec 2026, 08:00 PST": short, in the therapist's own zone."""
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".rstrip()
