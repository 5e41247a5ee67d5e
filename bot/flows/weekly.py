"""The weekly-tips flow: champions subscribe a channel to a tip a week, and manage it.

The deliveries themselves are made by the scheduler (bot/scheduler.py) from what is stored;
this flow only changes subscriptions, previews, and takes the channel's feedback on tips.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from transitions import EventData

from .. import coaching, render
from ..catalog import Catalog, Tip
from ..coaching import Profile
from ..model import ConversationBase
from ..store import Store, Subscription
from ..teams import MIN_VISIBLE, TeamResult
from ..weekly import DEFAULT_TIME, DEFAULT_WEEKDAY, DEFAULT_ZONE, Schedule, parse_settings

STATES: list[str] = []
ANNOUNCEMENT = "announcement"  # a change the whole channel should see
CHANNEL = "#channel"  # the user id under which a channel's own tip feedback is kept

MANAGING = ["weekly_subscribe", "weekly_now", "weekly_pause", "weekly_resume", "weekly_stop"]

TRANSITIONS = [
    *({"trigger": t, "source": "*", "dest": None, "unless": "may_manage_weekly",
       "after": ["refuse_weekly", "reask"]} for t in MANAGING),
    {"trigger": "weekly_subscribe", "source": "*", "dest": None, "after": ["subscribe_weekly", "reask"]},
    {"trigger": "weekly_status", "source": "*", "dest": None, "after": ["show_weekly", "reask"]},
    {"trigger": "weekly_preview", "source": "*", "dest": None, "after": ["preview_weekly", "reask"]},
    {"trigger": "weekly_now", "source": "*", "dest": None, "after": ["send_weekly_now", "reask"]},
    {"trigger": "weekly_pause", "source": "*", "dest": None, "after": ["pause_weekly", "reask"]},
    {"trigger": "weekly_resume", "source": "*", "dest": None, "after": ["resume_weekly", "reask"]},
    {"trigger": "weekly_stop", "source": "*", "dest": None, "after": ["stop_weekly", "reask"]},
    {"trigger": "weekly_history", "source": "*", "dest": None, "after": ["show_weekly_history", "reask"]},
    {"trigger": "weekly_done", "source": "*", "dest": None, "after": "mark_weekly_done"},
    {"trigger": "weekly_dismiss", "source": "*", "dest": None, "after": "mark_weekly_dismissed"},
    {"trigger": "champion_add", "source": "*", "dest": None, "after": ["add_champion", "reask"]},
]


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


class WeeklyActions(ConversationBase):
    @property
    def subscription(self) -> Subscription | None:
        return self.store.subscription_at(self.row.platform, self.row.chat_id)

    def may_manage_weekly(self, event: EventData) -> bool:
        """Champions manage a channel's tips: its admins and the people an admin named there (in
        that Slack workspace, that Telegram group). In a private chat a person manages their own."""
        event_ = self.turn.event
        return (event_.private or event_.is_admin
                or self.store.is_champion(self.row.platform, event_.scope, self.row.user_id))

    def refuse_weekly(self, event: EventData) -> None:
        self.say("weekly_not_champion")

    def subscribe_weekly(self, event: EventData) -> None:
        settings = parse_settings((event.kwargs.get("arg") or "").split(), set(self.turn.catalogs))
        if settings.unknown:
            self.say("weekly_unknown_words", words=" ".join(settings.unknown)[:60])
            return
        current = self.subscription
        if settings.weekday is not None:
            weekday = settings.weekday
        else:
            weekday = current.weekday if current else DEFAULT_WEEKDAY
        at = settings.at or (current.at if current else DEFAULT_TIME)
        zone = settings.zone or (current.zone if current else DEFAULT_ZONE)
        lang = settings.lang or (current.lang if current else self.turn.lang)
        stage = settings.stage or (current.stage if current else None)
        draft = Subscription(0, self.row.platform, self.row.chat_id, lang, stage, weekday, at, zone, "active",
                             self.row.user_id, self.turn.now)
        if channel_profile(self.store, self.catalog, draft) is None:
            self.say("weekly_needs_stage")
            return
        self.store.save_subscription(self.row.platform, self.row.chat_id, lang, stage, weekday, at, zone,
                                     self.row.user_id, self.turn.now)
        saved = self.subscription
        if saved is not None and current is not None:
            moved = (current.weekday, current.at, current.zone) != (weekday, at, zone)
            if moved or current.status != "active":
                replan_week(self.store, saved, datetime.fromisoformat(self.turn.now), moved)
        self.show_weekly(event)

    def show_weekly(self, event: EventData) -> None:
        subscription = self.subscription
        if subscription is None or subscription.status == "stopped":
            self.say("weekly_none")
            return
        self.replies.append(render.weekly_status(self.catalog, subscription, _next_slot(subscription, self.turn.now),
                                                 channel_profile(self.store, self.catalog, subscription)))

    def preview_weekly(self, event: EventData) -> None:
        subscription = self.subscription
        if subscription is None:
            self.say("weekly_none")
            return
        catalog = self.turn.catalogs[subscription.lang]
        chosen = next_channel_tip(self.store, catalog, subscription, peek=True)
        if chosen is None:
            self.say("weekly_needs_stage")
        else:
            self.replies.append(render.weekly_tip(catalog, *chosen, preview=True))

    def send_weekly_now(self, event: EventData) -> None:
        subscription = self.subscription
        if subscription is None:
            self.say("weekly_none")
            return
        catalog = self.turn.catalogs[subscription.lang]
        chosen = next_channel_tip(self.store, catalog, subscription)
        if chosen is None:
            self.say("weekly_needs_stage")
            return
        tip, profile = chosen
        self.store.set_tip_status(self.row.platform, self.row.chat_id, CHANNEL, tip.id, "shown", self.turn.now)
        self.replies.append(render.weekly_tip(catalog, tip, profile))

    def _set_status(self, status: str, message: str) -> None:
        subscription = self.subscription
        if subscription is None:
            self.say("weekly_none")
            return
        self.store.set_subscription_status(subscription.id, status)
        self.say(message, kind=ANNOUNCEMENT)

    def pause_weekly(self, event: EventData) -> None:
        self._set_status("paused", "weekly_paused")

    def resume_weekly(self, event: EventData) -> None:
        self._set_status("active", "weekly_resumed")

    def stop_weekly(self, event: EventData) -> None:
        self._set_status("stopped", "weekly_stopped")

    def show_weekly_history(self, event: EventData) -> None:
        subscription = self.subscription
        if subscription is None:
            self.say("weekly_none")
            return
        catalog = self.turn.catalogs[subscription.lang]
        self.replies.append(render.weekly_history(catalog, self.store.deliveries(subscription.id)))

    def _channel_feedback(self, event: EventData, status: str, message: str) -> None:
        tip_id = (event.kwargs.get("arg") or "").strip()
        try:
            self.catalog.tip(tip_id)
        except KeyError:
            self.notice("no_tip_yet")
            return
        self.store.set_tip_status(self.row.platform, self.row.chat_id, CHANNEL, tip_id, status, self.turn.now)
        self.notice(message)

    def mark_weekly_done(self, event: EventData) -> None:
        self._channel_feedback(event, "done", "weekly_done")

    def mark_weekly_dismissed(self, event: EventData) -> None:
        self._channel_feedback(event, "dismissed", "tip_dismissed")

    def add_champion(self, event: EventData) -> None:
        """An admin names champions of this chat's scope, by a mention the platform resolved to a
        person: a bare name could be anyone, or no one, so it is refused with how to do it."""
        event_ = self.turn.event
        if not event_.is_admin:
            self.say("weekly_not_admin")
            return
        if not event_.mentions:
            specific = f"champion_how_{self.row.platform}"
            self.say(specific if specific in self.catalog.messages else "champion_how")
            return
        for person in event_.mentions:
            self.store.add_champion(self.row.platform, event_.scope, person.user_id, self.row.user_id, self.turn.now)
            self.say_naming("champion_added", person, kind=ANNOUNCEMENT)


def _next_slot(subscription: Subscription, now: str) -> str:
    """The next delivery, in the subscription's own zone and words: "2026-03-09 09:00"."""
    schedule = Schedule(subscription.weekday, subscription.at, subscription.zone)
    moment = datetime.fromisoformat(now)
    slot = schedule.slot(schedule.period(moment))
    if slot <= moment:
        slot = schedule.slot(schedule.period(moment + timedelta(days=7)))
    return slot.astimezone(ZoneInfo(subscription.zone)).strftime("%Y-%m-%d %H:%M")
