"""Weekly tips go out exactly once per channel per week, computed from the database.

The outbox: a delivery row keyed by (subscription, ISO week) is claimed before sending and
marked sent after. A claim older than the claim timeout with no mark means the sender died in
between; it is sent again, because a platform cannot tell us whether it arrived and a rare
second copy is better than a lost tip. After downtime a missed week goes out once, late and
saying so; more than a day late, it is skipped to the next week.
"""
from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from . import render
from .catalog import Catalog
from .events import Reply
from .store import Delivery, StorageError, Store, Subscription
from .weekly import CHANNEL, LATE_LIMIT, Schedule, channel_profile, next_channel_tip

if TYPE_CHECKING:
    from .engine import AsyncEngine

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=10)
TICK = 30.0
ON_TIME = timedelta(minutes=15)


class ChatGone(Exception):
    """The platform says the bot can no longer post in this chat (removed, archived, blocked)."""


# A platform's way to post: (chat id, reply, is the chat a person's) -> message id.
Sender = Callable[[str, Reply, bool], Awaitable[str]]


@dataclass(frozen=True)
class Outgoing:
    platform: str
    chat_id: str
    reply: Reply
    subscription_id: int
    period: str
    to_person: bool = False


def claim_due(store: Store, catalogs: dict[str, Catalog], now: datetime,
              claim_timeout: timedelta = CLAIM_TIMEOUT, platforms: frozenset[str] | None = None) -> list[Outgoing]:
    """Claims every delivery that is due on `platforms` (the ones this process can send to; None:
    all), and returns what to send. Run in one transaction.

    Each channel is planned on its own: one that fails (a language or tip no longer in the
    content, a broken row) is logged and left out, and every other channel still gets its tip."""

    def ours(platform: str) -> bool:
        return platforms is None or platform in platforms

    outgoing: list[Outgoing] = []
    for delivery in store.stale_claims((now - claim_timeout).isoformat(timespec="seconds")):
        owner = store.subscription(delivery.subscription_id)
        if owner is not None and not ours(owner.platform):
            continue
        outgoing += _each(store, f"stale claim {delivery.subscription_id}/{delivery.period}",
                          partial(_reclaim, store, catalogs, delivery, now))
    for subscription in store.active_subscriptions(claiming=True):
        if ours(subscription.platform):
            outgoing += _each(store, f"subscription {subscription.id}",
                              partial(_claim, store, catalogs, subscription, now))
    return outgoing


def _each(store: Store, what: str, plan: Callable[[], list[Outgoing]]) -> list[Outgoing]:
    """Runs one channel's part of a round; a failure undoes only that part, and is logged. A
    storage error is the whole round's, which the next tick tries again."""
    try:
        with store.savepoint():
            return plan()
    except StorageError:
        raise
    except Exception:
        log.exception("weekly tips: %s skipped this round", what)
        return []


def _claim(store: Store, catalogs: dict[str, Catalog], subscription: Subscription, now: datetime) -> list[Outgoing]:
    stamp = now.isoformat(timespec="seconds")
    schedule = Schedule(subscription.weekday, subscription.at, subscription.zone)
    period = schedule.period(now)
    slot = schedule.slot(period)
    if now < slot or store.delivery(subscription.id, period) is not None:
        return []
    due = slot.isoformat(timespec="seconds")
    if now - slot > LATE_LIMIT or slot < datetime.fromisoformat(subscription.created_at):
        store.claim_delivery(subscription.id, period, None, "skipped", due, stamp, late=True)
        return []
    catalog = catalogs[subscription.lang]
    chosen = next_channel_tip(store, catalog, subscription)
    if chosen is None:
        return []
    tip, profile = chosen
    late = now - slot > ON_TIME
    reply = render.weekly_tip(catalog, tip, profile, late=late)
    if not store.claim_delivery(subscription.id, period, tip.id, "claimed", due, stamp, late):
        return []
    store.set_tip_status(subscription.platform, subscription.chat_id, CHANNEL, tip.id, "shown", stamp)
    return [Outgoing(subscription.platform, subscription.chat_id, reply, subscription.id, period)]


def _reclaim(store: Store, catalogs: dict[str, Catalog], delivery: Delivery, now: datetime) -> list[Outgoing]:
    """A claim whose sender died: sent again. When its tip left the content since, the claim is
    let go, so that the channel's next tip is chosen in this same round."""
    stamp = now.isoformat(timespec="seconds")
    subscription = store.subscription(delivery.subscription_id)
    if subscription is None or subscription.status != "active" or delivery.tip_id is None:
        store.finish_delivery(delivery.subscription_id, delivery.period, "skipped", stamp)
        return []
    catalog = catalogs[subscription.lang]
    tip = catalog.find_tip(delivery.tip_id)
    if tip is None:
        log.warning("weekly tips: tip %s is no longer in the content; choosing another", delivery.tip_id)
        store.release_delivery(delivery.subscription_id, delivery.period)
        return []
    store.reclaim_delivery(delivery.subscription_id, delivery.period, stamp)
    profile = channel_profile(store, catalog, subscription)
    reply = render.weekly_tip(catalog, tip, profile, late=delivery.late)
    return [Outgoing(subscription.platform, subscription.chat_id, reply, subscription.id, delivery.period)]


def mark_sent(store: Store, outgoing: Outgoing, message_id: str, now: datetime) -> None:
    store.finish_delivery(outgoing.subscription_id, outgoing.period, "sent", now.isoformat(timespec="seconds"),
                          message_id)


def mark_gone(store: Store, catalogs: dict[str, Catalog], outgoing: Outgoing, now: datetime) -> list[Outgoing]:
    """The bot was removed: pause the subscription and tell the champion who set it up."""
    store.finish_delivery(outgoing.subscription_id, outgoing.period, "gone", now.isoformat(timespec="seconds"))
    subscription = store.subscription(outgoing.subscription_id)
    if subscription is None:
        return []
    store.set_subscription_status(subscription.id, "paused")
    catalog = catalogs[store.user_lang(subscription.platform, subscription.champion_id) or subscription.lang]
    notice = Reply(catalog.message("weekly_removed", chat=subscription.chat_id))
    return [Outgoing(subscription.platform, subscription.champion_id, notice, subscription.id, outgoing.period,
                     to_person=True)]


class Scheduler:
    """Runs inside `stagecoach run`: every tick, claims what is due and sends it through the
    platforms' senders, a few at a time (the senders keep each platform's rate limits). Every
    wait on the clock is a parameter, so that tests of these rules need not wait."""

    def __init__(self, engine: AsyncEngine, senders: dict[str, Sender], clock: Callable[[], datetime] | None = None,
                 every: float = TICK, attempts: int = 4, backoff: float = 1.0, parallel: int = 32,
                 claim_timeout: timedelta = CLAIM_TIMEOUT) -> None:
        self.engine, self.senders = engine, senders
        self.clock = clock or (lambda: datetime.now(UTC))
        self.every, self.attempts, self.backoff = every, attempts, backoff
        self.claim_timeout = claim_timeout
        self._parallel = asyncio.Semaphore(parallel)

    @classmethod
    def from_environment(cls, engine: AsyncEngine, senders: dict[str, Sender]) -> Scheduler:
        """STAGECOACH_SCHEDULER_TICK and STAGECOACH_CLAIM_TIMEOUT, in seconds, when set."""
        every = float(os.environ.get("STAGECOACH_SCHEDULER_TICK") or TICK)
        timeout = os.environ.get("STAGECOACH_CLAIM_TIMEOUT")
        claim_timeout = timedelta(seconds=float(timeout)) if timeout else CLAIM_TIMEOUT
        return cls(engine, senders, every=every, claim_timeout=claim_timeout)

    async def tick(self) -> int:
        """One round; returns how many tips went out."""
        due = await self.engine.claim_due(self.clock(), self.claim_timeout, frozenset(self.senders))
        results = await asyncio.gather(*(self._deliver(o) for o in due))
        return sum(results)

    async def _deliver(self, outgoing: Outgoing) -> bool:
        send = self.senders[outgoing.platform]
        async with self._parallel:
            for attempt in range(self.attempts):
                try:
                    message_id = await send(outgoing.chat_id, outgoing.reply, outgoing.to_person)
                except ChatGone:
                    if not outgoing.to_person:
                        for notice in await self.engine.delivery_gone(outgoing, self.clock()):
                            await self._tell(notice)
                    return False
                except Exception as error:  # a passing failure: try again, a little later each time
                    log.warning("sending to %s failed (%s), attempt %d", outgoing.chat_id, error, attempt + 1)
                    await asyncio.sleep(self.backoff * 2 ** attempt)
                    continue
                if not outgoing.to_person:
                    await self.engine.delivery_sent(outgoing, message_id, self.clock())
                return True
        await self.engine.release_delivery(outgoing)
        return False

    async def _tell(self, notice: Outgoing) -> None:
        try:
            await self.senders[notice.platform](notice.chat_id, notice.reply, True)
        except Exception as error:
            log.warning("could not tell %s that a channel was lost: %s", notice.chat_id, error)

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("a scheduler round failed")
            try:
                await asyncio.wait_for(stopping.wait(), self.every)
            except TimeoutError:
                pass
