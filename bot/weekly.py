"""When a weekly tip is due: schedules in a channel's own time zone, one delivery per ISO week.

A week's slot is its weekday and time in the subscription's zone, so 09:00 in Amsterdam stays
09:00 across the March and October switches. Kept pure: the store and the clock come from outside.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_WEEKDAY = 0  # Monday
DEFAULT_TIME = "09:00"
DEFAULT_ZONE = "Europe/Amsterdam"
LATE_LIMIT = timedelta(days=1)
WEEKDAYS = {
    "mon": 0, "monday": 0, "ma": 0, "maandag": 0,
    "tue": 1, "tuesday": 1, "di": 1, "dinsdag": 1,
    "wed": 2, "wednesday": 2, "wo": 2, "woensdag": 2,
    "thu": 3, "thursday": 3, "do": 3, "donderdag": 3,
    "fri": 4, "friday": 4, "vr": 4, "vrijdag": 4,
    "sat": 5, "saturday": 5, "za": 5, "zaterdag": 5,
    "sun": 6, "sunday": 6, "zo": 6, "zondag": 6,
}
TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


@dataclass(frozen=True)
class Schedule:
    weekday: int = DEFAULT_WEEKDAY
    at: str = DEFAULT_TIME
    zone: str = DEFAULT_ZONE

    def period(self, moment: datetime) -> str:
        """The ISO week a moment falls in, in this schedule's zone: "2026-W10"."""
        year, week, _ = moment.astimezone(ZoneInfo(self.zone)).isocalendar()
        return f"{year}-W{week:02d}"

    def slot(self, period: str) -> datetime:
        """When this schedule's tip is due in a week, in UTC."""
        year, week = (int(part) for part in period.split("-W"))
        hour, minute = (int(part) for part in self.at.split(":"))
        day = datetime.fromisocalendar(year, week, self.weekday + 1)
        local = datetime.combine(day.date(), time(hour, minute), tzinfo=ZoneInfo(self.zone))
        return local.astimezone(UTC)


@dataclass(frozen=True)
class Settings:
    """What a subscribe command asked for; None where it did not say."""

    weekday: int | None = None
    at: str | None = None
    zone: str | None = None
    lang: str | None = None
    stage: int | None = None
    unknown: tuple[str, ...] = ()


def parse_settings(words: list[str], languages: set[str]) -> Settings:
    """Reads `[day] [HH:MM] [Area/City] [nl|en] [stage N | N]` in any order."""
    values: dict = {}
    unknown = []
    tokens = [w for w in words if w]
    index = 0
    while index < len(tokens):
        word = tokens[index]
        lower = word.casefold()
        if lower in WEEKDAYS:
            values["weekday"] = WEEKDAYS[lower]
        elif match := TIME.match(lower):
            values["at"] = f"{int(match.group(1)):02d}:{match.group(2)}"
        elif lower in languages:
            values["lang"] = lower
        elif lower in ("stage", "fase") and index + 1 < len(tokens) and tokens[index + 1] in "123456":
            values["stage"] = int(tokens[index + 1])
            index += 1
        elif len(lower) == 1 and lower in "123456":
            values["stage"] = int(lower)
        elif "/" in word and _zone(word):
            values["zone"] = word
        else:
            unknown.append(word)
        index += 1
    return Settings(**values, unknown=tuple(unknown))


def _zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
