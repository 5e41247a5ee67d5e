"""The weekly-tips flow: champions subscribe a channel to a tip a week, and manage it.

The deliveries themselves are made by the scheduler (bot/scheduler.py) from what is stored;
this flow only changes subscriptions, previews, and takes the channel's feedback on tips.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from .. import render, weekly
from ..catalog import Catalog, Tip
from ..coaching import Profile
from ..events import ReplyKind
from ..model import Part
from ..store import Subscription


def managing(action: Callable[[Weekly], None]) -> Callable[[Weekly], None]:
    """A change to a channel's weekly tips, which only its champions may make."""
    def checked(part: Weekly) -> None:
        if part.may_manage():
            action(part)
        else:
            part.chat.say("weekly_not_champion")
    checked.__doc__ = action.__doc__
    return checked


class Weekly(Part):
    """A chat's subscription to a weekly tip, its champions, and its feedback on the tips."""

    @property
    def subscription(self) -> Subscription | None:
        return self.store.subscription_at(self.row.platform, self.row.chat_id)

    def may_manage(self) -> bool:
        """Champions manage a channel's tips: its admins and the people an admin named there (in
        that Slack workspace, that Telegram group). In a private chat a person manages their own."""
        event = self.turn.event
        return event.private or event.is_admin or self.store.is_champion(
            self.row.platform, event.scope, self.row.user_id)

    @managing
    def subscribe(self) -> None:
        settings = weekly.parse_settings(self.chat.arg.split(), set(self.turn.catalogs))
        if settings.unknown:
            self.say("weekly_unknown_words", words=" ".join(settings.unknown)[:60])
            return
        current = self.subscription
        weekday = settings.weekday if settings.weekday is not None else (
            current.weekday if current else weekly.DEFAULT_WEEKDAY)
        at = settings.at or (current.at if current else weekly.DEFAULT_TIME)
        zone = settings.zone or (current.zone if current else weekly.DEFAULT_ZONE)
        lang = settings.lang or (current.lang if current else self.turn.lang)
        stage = settings.stage or (current.stage if current else None)
        platform, chat_id, user_id = self.who
        draft = Subscription(0, platform, chat_id, lang, stage, weekday, at, zone, "active", user_id, self.turn.now)
        if weekly.channel_profile(self.store, self.catalog, draft) is None:
            self.say("weekly_needs_stage")
            return
        self.store.save_subscription(platform, chat_id, lang, stage, weekday, at, zone, user_id, self.turn.now)
        saved = self.subscription
        if saved is not None and current is not None:
            moved = (current.weekday, current.at, current.zone) != (weekday, at, zone)
            if moved or current.status != "active":
                weekly.replan_week(self.store, saved, datetime.fromisoformat(self.turn.now), moved)
        self.status()

    def status(self) -> None:
        subscription = self.subscription
        if subscription is None or subscription.status == "stopped":
            self.say("weekly_none")
            return
        self.replies.append(render.weekly_status(
            self.catalog, subscription, weekly.next_slot(subscription, self.turn.now),
            weekly.channel_profile(self.store, self.catalog, subscription)))

    def _next_tip(self, peek: bool) -> tuple[Catalog, tuple[Tip, Profile]] | None:
        """The channel's next tip, in its language; None (having said why) when there is none."""
        subscription = self.subscription
        if subscription is None:
            self.say("weekly_none")
            return None
        catalog = self.turn.catalogs[subscription.lang]
        chosen = weekly.next_channel_tip(self.store, catalog, subscription, peek=peek)
        if chosen is None:
            self.say("weekly_needs_stage")
            return None
        return catalog, chosen

    def preview(self) -> None:
        found = self._next_tip(peek=True)
        if found is not None:
            catalog, (tip, profile) = found
            self.replies.append(render.weekly_tip(catalog, tip, profile, preview=True))

    @managing
    def send_now(self) -> None:
        found = self._next_tip(peek=False)
        if found is not None:
            catalog, (tip, profile) = found
            platform, chat_id, _ = self.who
            self.store.set_tip_status(platform, chat_id, weekly.CHANNEL, tip.id, "shown", self.turn.now)
            self.replies.append(render.weekly_tip(catalog, tip, profile))

    def _set_status(self, status: str, message: str) -> None:
        subscription = self.subscription
        if subscription is None:
            self.say("weekly_none")
            return
        self.store.set_subscription_status(subscription.id, status)
        self.say(message, kind=ReplyKind.ANNOUNCEMENT)

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
            self.say("weekly_none")
            return
        catalog = self.turn.catalogs[subscription.lang]
        self.replies.append(render.weekly_history(catalog, self.store.deliveries(subscription.id)))

    def _channel_feedback(self, status: str, message: str) -> None:
        tip_id = self.chat.arg.strip()
        if self.catalog.find_tip(tip_id) is None:
            self.notice("no_tip_yet")
            return
        platform, chat_id, _ = self.who
        self.store.set_tip_status(platform, chat_id, weekly.CHANNEL, tip_id, status, self.turn.now)
        self.notice(message)

    def mark_done(self) -> None:
        self._channel_feedback("done", "weekly_done")

    def mark_dismissed(self) -> None:
        self._channel_feedback("dismissed", "tip_dismissed")

    def add_champion(self) -> None:
        """An admin names champions of this chat's scope, by a mention the platform resolved to a
        person: a bare name could be anyone, or no one, so it is refused with how to do it."""
        event = self.turn.event
        if not event.is_admin:
            self.say("weekly_not_admin")
            return
        if not event.mentions:
            specific = f"champion_how_{self.row.platform}"
            self.say(specific if specific in self.catalog.messages else "champion_how")
            return
        for person in event.mentions:
            self.store.add_champion(self.row.platform, event.scope, person.user_id, self.row.user_id, self.turn.now)
            self.chat.say_naming("champion_added", person, kind=ReplyKind.ANNOUNCEMENT)
