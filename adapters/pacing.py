"""Pacing messages within a platform's flood limits: a short burst goes at once, the rate holds
over time. Platform-free, with the clock and the sleep injected, so the rules are tested without
waiting; the Telegram adapter says which calls count and which chats are groups."""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
EPSILON = 1e-9  # what floating point leaves over after waiting exactly long enough


class TokenBucket:
    """Up to `capacity` messages at once, then `rate` a second: the edited question and the next
    one go together, yet a chat gets no more than its rate over any long stretch."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity, self.rate = capacity, rate
        self._tokens, self._stamp = capacity, now

    def wait(self, now: float) -> float:
        """Seconds until a message may go; 0 if it may go now."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 - EPSILON else (1 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now


class Window:
    """At most `limit` messages in any `period`, however the server counts them, bursts allowed.

    A message holds a place from the moment it leaves (`start`) until `period` after its answer
    is back (`finish`): the server saw it somewhere in between. So when a message leaves, every
    message the server may still count in one period with it holds a place, and with `limit`
    places no period ever holds more than `limit`, whatever the network's delays. Counting from
    the moment each message left would not do: one held up on the way and the message sent a
    period after it could arrive less than a period apart.
    """

    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self._sending = 0
        self._answered: deque[float] = deque()  # when answers came back, oldest first

    def wait(self, now: float) -> float:
        """Seconds until a place may be free (look again then); 0 if a message may go now."""
        while self._answered and self._answered[0] + self.period <= now:
            self._answered.popleft()
        if self._sending + len(self._answered) < self.limit:
            return 0.0
        # With every place sending, none frees before an answer comes back and a period passes.
        return self._answered[0] + self.period - now if self._answered else self.period

    def start(self) -> None:
        self._sending += 1

    def finish(self, now: float) -> None:
        self._sending -= 1
        self._answered.append(now)


@dataclass
class Chat:
    """One chat's pace: its bucket, its window if it is a group, and its queue."""

    bucket: TokenBucket
    window: Window | None
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


class Pacing:
    """Paces messages per chat (a burst of `burst`, then `chat_rate` a second), per group (at most
    `per_group` in `group_period` seconds) and overall (at most `overall` in any second; None for
    a platform that limits only per chat); waiting messages go in the order they came.
    `time_scale` is how long a second lasts (1.0 but in tests).

    At most `chats_kept` chats are remembered, the least recently used forgotten first. Forgetting
    costs nothing while `chats_kept` is well above what the overall limit lets through in a group
    period (30 a second for 60 s is 1,800): by the time a chat is forgotten, so many messages to
    other chats went out since its last one that its bucket was full and its window empty again.
    """

    def __init__(self, chat_rate: float = 1.0, burst: int = 3, overall: int | None = 30, per_group: int = 20,
                 group_period: float = 60.0, time_scale: float = 1.0, chats_kept: int = 10_000,
                 clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._burst, self._chat_rate = burst, chat_rate / time_scale
        self._per_group, self._group_period = per_group, group_period * time_scale
        self.chats_kept = chats_kept
        self.chats: OrderedDict[Hashable, Chat] = OrderedDict()
        self._overall = Window(overall, time_scale) if overall is not None else None
        self._turn = asyncio.Lock()
        self._clock, self._sleep = clock, sleep

    async def send(self, chat: Hashable, group: bool, message: Callable[[], Awaitable[T]]) -> T:
        """Sends `message` (a call that sends one) to `chat` as soon as the limits allow."""
        pace = self._chat(chat, group)
        async with pace.turn:
            await self._until(lambda now: max(pace.bucket.wait(now), pace.window.wait(now) if pace.window else 0))
            pace.bucket.take(self._clock())
            if pace.window:
                pace.window.start()
        try:
            if self._overall is None:
                return await message()
            async with self._turn:
                await self._until(self._overall.wait)
                self._overall.start()
            try:
                return await message()
            finally:
                self._overall.finish(self._clock())
        finally:
            if pace.window:
                pace.window.finish(self._clock())

    async def _until(self, wait: Callable[[float], float]) -> None:
        while (seconds := wait(self._clock())) > 0:
            await self._sleep(seconds)

    def _chat(self, chat: Hashable, group: bool) -> Chat:
        pace = self.chats.pop(chat, None) or Chat(
            TokenBucket(self._burst, self._chat_rate, self._clock()),
            Window(self._per_group, self._group_period) if group else None)
        self.chats[chat] = pace
        if len(self.chats) > self.chats_kept:
            self.chats.popitem(last=False)
        return pace
