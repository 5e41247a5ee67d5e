"""When a weekly tip is due: schedules in a channel's own time zone, one delivery per ISO week.

A week's slot is its weekday and time in the subscription's zone, so 09:00 in Amsterdam stays
09:00 across the March and October switches. Kept pure: the store and the clock come from outside.
What a channel is coached from, and its next tip, are here too: both the weekly-tips flow
(bot/flows/weekly.py) and the scheduler read them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import coaching
from .catalog import Catalog, Tip
from .coaching import Profile
from .store import Store, Subscription
from .teams import MIN_VISIBLE, TeamResult

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


CHANNEL = "#channel"  # the user id under which a channel's own tip feedback is kept


def channel_profile(store: Store, catalog: Catalog, subscription: Subscription) -> Profile | None:
    """What a channel is coached from: the stage its champion chose, else its place's last team
    result, with the team's dimensions and middle answers. A team under three participants counts
    as no result: its stage is, or gives away, a member's own."""
    if subscription.stage:
        return Profile(subscription.stage)
    teams = store.closed_teams_at(subscription.platform, subscription.chat_id, limit=1,
                                  min_participants=MIN_VISIBLE)
    if not teams or not teams[0].result:
        return None
    team = TeamResult.from_dict(teams[0].result)
    if not team.visible or team.stage is None:
        return None
    return coaching.from_result(team.as_result(), team=True)


def next_channel_tip(
    store: Store, catalog: Catalog, subscription: Subscription, peek: bool = False
) -> tuple[Tip, Profile] | None:
    """The channel's next tip, and the profile it was chosen for (which says why it fits):
    never one it dismissed or did, no repeat until the pool is used (then a new round begins;
    a peek only looks)."""
    profile = channel_profile(store, catalog, subscription)
    if profile is None:
        return None
    statuses = store.tip_statuses(subscription.platform, subscription.chat_id, CHANNEL)
    tip, new_round = coaching.choose_tip(catalog, profile, statuses)
    if tip is None:
        return None
    if new_round and not peek:
        store.clear_shown_tips(subscription.platform, subscription.chat_id, CHANNEL,
                               [t.id for t in coaching.tip_pool(catalog, profile)])
    return tip, profile


def replan_week(store: Store, subscription: Subscription, now: datetime, moved: bool) -> None:
    """A changed (or restarted) schedule plans this week again: a tip not yet sent goes out at the
    new time if that is still ahead. A time moved to a moment already past begins next week
    rather than sending a late tip at once. A tip sent or being sent stays the week's only one."""
    schedule = Schedule(subscription.weekday, subscription.at, subscription.zone)
    period = schedule.period(now)
    slot = schedule.slot(period)
    if slot > now:
        store.reopen_week(subscription.id, period)
    elif moved:
        store.claim_delivery(subscription.id, period, None, "moved", slot.isoformat(timespec="seconds"),
                             now.isoformat(timespec="seconds"), late=False)


def next_slot(subscription: Subscription, now: str) -> str:
    """The next delivery, in the subscription's own zone and words: "2026-03-09 09:00"."""
    schedule = Schedule(subscription.weekday, subscription.at, subscription.zone)
    moment = datetime.fromisoformat(now)
    slot = schedule.slot(schedule.period(moment))
    if slot <= moment:
        slot = schedule.slot(schedule.period(moment + timedelta(days=7)))
    return slot.astimezone(ZoneInfo(subscription.zone)).strftime("%Y-%m-%d %H:%M")
