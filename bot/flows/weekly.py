"""The weekly-tips flow: champions subscribe a channel to a tip a week, and manage it.

The deliveries themselves are made by the scheduler (bot/scheduler.py) from what is stored;
this flow only changes subscriptions, previews, and takes the channel's feedback on tips.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .. import coaching, render
from ..catalog import Catalog, Tip
from ..coaching import Profile
from ..events import ReplyKind
from ..model import Chat
from ..store import Store, Subscription
from ..teams import MIN_VISIBLE, TeamResult
from ..weekly import DEFAULT_TIME, DEFAULT_WEEKDAY, DEFAULT_ZONE, Schedule, parse_settings

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


def managing(action: Callable[[Weekly], None]) -> Callable[[Weekly], None]:
    """A change to a channel's weekly tips, which only its champions may make."""
    def checked(weekly: Weekly) -> None:
        if weekly.may_manage():
            action(weekly)
        else:
            weekly.chat.say("weekly_not_champion")
    checked.__doc__ = action.__doc__
    return checked


class Weekly:
    """A chat's subscription to a weekly tip, its champions, and its feedback on the tips."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    @property
    def subscription(self) -> Subscription | None:
        return self.chat.store.subscription_at(self.chat.row.platform, self.chat.row.chat_id)

    def may_manage(self) -> bool:
        """Champions manage a channel's tips: its admins and the people an admin named there (in
        that Slack workspace, that Telegram group). In a private chat a person manages their own."""
        event = self.chat.turn.event
        return event.private or event.is_admin or self.chat.store.is_champion(
            self.chat.row.platform, event.scope, self.chat.row.user_id)

    @managing
    def subscribe(self) -> None:
        chat = self.chat
        settings = parse_settings(chat.arg.split(), set(chat.turn.catalogs))
        if settings.unknown:
            chat.say("weekly_unknown_words", words=" ".join(settings.unknown)[:60])
            return
        current = self.subscription
        if settings.weekday is not None:
            weekday = settings.weekday
        else:
            weekday = current.weekday if current else DEFAULT_WEEKDAY
        at = settings.at or (current.at if current else DEFAULT_TIME)
        zone = settings.zone or (current.zone if current else DEFAULT_ZONE)
        lang = settings.lang or (current.lang if current else chat.turn.lang)
        stage = settings.stage or (current.stage if current else None)
        platform, chat_id, user_id = chat.who
        draft = Subscription(0, platform, chat_id, lang, stage, weekday, at, zone, "active", user_id, chat.turn.now)
        if channel_profile(chat.store, chat.catalog, draft) is None:
            chat.say("weekly_needs_stage")
            return
        chat.store.save_subscription(platform, chat_id, lang, stage, weekday, at, zone, user_id, chat.turn.now)
        saved = self.subscription
        if saved is not None and current is not None:
            moved = (current.weekday, current.at, current.zone) != (weekday, at, zone)
            if moved or current.status != "active":
                replan_week(chat.store, saved, datetime.fromisoformat(chat.turn.now), moved)
        self.status()

    def status(self) -> None:
        subscription = self.subscription
        if subscription is None or subscription.status == "stopped":
            self.chat.say("weekly_none")
            return
        self.chat.replies.append(render.weekly_status(
            self.chat.catalog, subscription, _next_slot(subscription, self.chat.turn.now),
            channel_profile(self.chat.store, self.chat.catalog, subscription)))

    def _next_tip(self, peek: bool) -> tuple[Catalog, tuple[Tip, Profile]] | None:
        """The channel's next tip, in its language; None (having said why) when there is none."""
        subscription = self.subscription
        if subscription is None:
            self.chat.say("weekly_none")
            return None
        catalog = self.chat.turn.catalogs[subscription.lang]
        chosen = next_channel_tip(self.chat.store, catalog, subscription, peek=peek)
        if chosen is None:
            self.chat.say("weekly_needs_stage")
            return None
        return catalog, chosen

    def preview(self) -> None:
        found = self._next_tip(peek=True)
        if found is not None:
            catalog, (tip, profile) = found
            self.chat.replies.append(render.weekly_tip(catalog, tip, profile, preview=True))

    @managing
    def send_now(self) -> None:
        found = self._next_tip(peek=False)
        if found is not None:
            catalog, (tip, profile) = found
            platform, chat_id, _ = self.chat.who
            self.chat.store.set_tip_status(platform, chat_id, CHANNEL, tip.id, "shown", self.chat.turn.now)
            self.chat.replies.append(render.weekly_tip(catalog, tip, profile))

    def _set_status(self, status: str, message: str) -> None:
        subscription = self.subscription
        if subscription is None:
            self.chat.say("weekly_none")
            return
        self.chat.store.set_subscription_status(subscription.id, status)
        self.chat.say(message, kind=ReplyKind.ANNOUNCEMENT)

    @managing
    def pause(self) -> None:
        self._set_status("paused", "weekly_paused")

    @managing
    def resume(self) -> None:
        self._set_status("active", "weekly_resumed")

    @managing
    def stop(self) -> None:
        self._set_status("stopped", "weekly_stopped")

    def history(self) -> None:
        subscription = self.subscription
        if subscription is None:
            self.chat.say("weekly_none")
            return
        catalog = self.chat.turn.catalogs[subscription.lang]
        self.chat.replies.append(render.weekly_history(catalog, self.chat.store.deliveries(subscription.id)))

    def _channel_feedback(self, status: str, message: str) -> None:
        chat = self.chat
        tip_id = chat.arg.strip()
        if chat.catalog.find_tip(tip_id) is None:
            chat.notice("no_tip_yet")
            return
        platform, chat_id, _ = chat.who
        chat.store.set_tip_status(platform, chat_id, CHANNEL, tip_id, status, chat.turn.now)
        chat.notice(message)

    def mark_done(self) -> None:
        self._channel_feedback("done", "weekly_done")

    def mark_dismissed(self) -> None:
        self._channel_feedback("dismissed", "tip_dismissed")

    def add_champion(self) -> None:
        """An admin names champions of this chat's scope, by a mention the platform resolved to a
        person: a bare name could be anyone, or no one, so it is refused with how to do it."""
        chat, event = self.chat, self.chat.turn.event
        if not event.is_admin:
            chat.say("weekly_not_admin")
            return
        if not event.mentions:
            specific = f"champion_how_{chat.row.platform}"
            chat.say(specific if specific in chat.catalog.messages else "champion_how")
            return
        for person in event.mentions:
            chat.store.add_champion(chat.row.platform, event.scope, person.user_id, chat.row.user_id, chat.turn.now)
            chat.say_naming("champion_added", person, kind=ReplyKind.ANNOUNCEMENT)


def _next_slot(subscription: Subscription, now: str) -> str:
    """The next delivery, in the subscription's own zone and words: "2026-03-09 09:00"."""
    schedule = Schedule(subscription.weekday, subscription.at, subscription.zone)
    moment = datetime.fromisoformat(now)
    slot = schedule.slot(schedule.period(moment))
    if slot <= moment:
        slot = schedule.slot(schedule.period(moment + timedelta(days=7)))
    return slot.astimezone(ZoneInfo(subscription.zone)).strftime("%Y-%m-%d %H:%M")
