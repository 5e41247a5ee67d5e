"""Pacing within flood limits, on a clock that moves only when a message waits: bursts go at
once, the rates hold over time, and no period ever holds more than its limit."""
from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Hashable

import pytest

from adapters.pacing import Pacing, TokenBucket, Window
from adapters.telegram import FloodLimiter


class FakeTime:
    """A clock that a wait moves forward at once, so that pacing is tested without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def pacing(time: FakeTime, **limits) -> Pacing:
    return Pacing(clock=time, sleep=time.sleep, **limits)


async def send_all(pace: Pacing, time: FakeTime, chats: list[Hashable], group: bool = False,
                   round_trip: float = 0.0) -> list[float]:
    """Sends one message to each chat in turn; returns when each left."""
    left = []

    async def message() -> None:
        left.append(time.now)
        time.now += round_trip

    for chat in chats:
        await pace.send(chat, group, message)
    return left


def most_in_any(period: float, moments: list[float]) -> int:
    moments = sorted(moments)
    return max(sum(1 for m in moments[i:] if m < start + period) for i, start in enumerate(moments))


def test_a_bucket_lets_a_burst_go_at_once_then_one_a_second():
    bucket = TokenBucket(capacity=3, rate=1.0, now=0.0)
    for _ in range(3):
        assert bucket.wait(0.0) == 0
        bucket.take(0.0)
    assert bucket.wait(0.0) == pytest.approx(1.0)
    assert bucket.wait(0.5) == pytest.approx(0.5)
    bucket.take(1.0)
    assert bucket.wait(1.0) == pytest.approx(1.0)
    assert bucket.wait(10.0) == 0  # refilled, but never beyond its capacity:
    for _ in range(3):
        bucket.take(10.0)
    assert bucket.wait(10.0) == pytest.approx(1.0)


async def test_an_answer_in_a_chat_goes_at_once_and_the_chat_then_gets_one_a_second():
    time = FakeTime()
    left = await send_all(pacing(time), time, [1] * 8)
    assert left == pytest.approx([0, 0, 0, 1, 2, 3, 4, 5])


async def test_a_chat_s_messages_that_wait_go_in_the_order_they_came():
    time, order = FakeTime(), []
    pace = pacing(time)

    async def message(n: int) -> None:
        order.append((n, time.now))
        await asyncio.sleep(0)  # still on its way while the next one waits its turn

    await asyncio.gather(*(pace.send(1, False, lambda n=n: message(n)) for n in range(6)))
    assert order == [(0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 3)]


async def test_thirty_go_at_once_and_no_second_ever_holds_more():
    time = FakeTime()
    left = await send_all(pacing(time), time, list(range(100)))
    assert left == pytest.approx([0] * 30 + [1] * 30 + [2] * 30 + [3] * 10)
    assert most_in_any(1.0, left) == 30


async def test_a_place_in_the_second_frees_a_second_after_the_answer_came_back():
    time = FakeTime()
    left = await send_all(pacing(time), time, list(range(31)), round_trip=0.01)
    assert left[29] == pytest.approx(0.29)
    assert left[30] == pytest.approx(1.01)  # the first answer came back at 0.01


def test_no_second_holds_more_than_thirty_however_long_messages_take_on_the_way():
    """Messages sent as soon as the window allows, each taking up to half a second to come back
    and seen by the server at any moment on the way."""
    rng = random.Random(16)
    window, now, waiting, seen = Window(30, 1.0), 0.0, 600, []
    answers: list[float] = []
    while waiting or answers:
        while waiting and window.wait(now) == 0:
            window.start()
            trip = rng.uniform(0.0, 0.5)
            seen.append(now + rng.uniform(0.0, trip))
            heapq.heappush(answers, now + trip)
            waiting -= 1
        next_look = now + window.wait(now) if waiting else float("inf")
        now = min(next_look, answers[0]) if answers else next_look
        while answers and answers[0] <= now:
            window.finish(heapq.heappop(answers))
    assert most_in_any(1.0, seen) == 30
    assert now < 600 / 30 * (1 + 0.5)  # each place held a period and a trip at most: the limit is used


def test_a_window_full_of_messages_on_the_way_waits_at_least_a_period():
    window = Window(2, 1.0)
    window.start()
    window.start()
    assert window.wait(5.0) == 1.0  # no answer yet: no place frees before one comes back, plus a period
    window.finish(5.5)
    assert window.wait(5.5) == pytest.approx(1.0)
    assert window.wait(6.5) == 0


async def test_a_group_gets_no_more_than_twenty_messages_a_minute():
    time = FakeTime()
    left = await send_all(pacing(time), time, [-100] * 25, group=True, round_trip=0.01)
    assert most_in_any(60.0, left) == 20
    assert left[20] == pytest.approx(60.01)  # a minute after the first answer came back
    assert left[:4] == pytest.approx([0, 0.01, 0.02, 1.0])  # a burst, then the chat's own pace


async def test_a_private_chat_has_no_group_limit():
    time = FakeTime()
    left = await send_all(pacing(time), time, [100] * 25)
    assert left[20] == pytest.approx(18)


async def test_time_scale_shrinks_every_period_alike():
    time = FakeTime()
    assert await send_all(pacing(time, time_scale=0.01), time, [1] * 5) == pytest.approx([0, 0, 0, 0.01, 0.02])
    time = FakeTime()
    left = await send_all(pacing(time, time_scale=0.01), time, [-1] * 22, group=True)
    assert left[19:] == pytest.approx([0.17, 0.6, 0.6])


async def test_chats_beyond_the_cap_are_forgotten_least_recently_used_first():
    time = FakeTime()
    pace = pacing(time, chats_kept=2)
    await send_all(pace, time, [1, 1, 1, 2, 3])
    assert list(pace.chats) == [2, 3]
    assert await send_all(pace, time, [1]) == [0]  # forgotten: a fresh burst
    await send_all(pace, time, [3])
    assert list(pace.chats) == [1, 3]


@pytest.mark.parametrize("endpoint", ["sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup"])
def test_sending_and_editing_a_message_count_toward_the_limits(endpoint):
    assert FloodLimiter.counts(endpoint)


@pytest.mark.parametrize("endpoint", ["answerCallbackQuery", "getUpdates", "setMyCommands", "getChatMember",
                                      "sendChatAction", "getMe"])
def test_other_calls_are_not_paced_as_messages(endpoint):
    assert not FloodLimiter.counts(endpoint)


def test_negative_chats_and_names_are_groups():
    assert FloodLimiter.is_group(-1001876543210) and FloodLimiter.is_group("@news")
    assert not FloodLimiter.is_group(184265301)


async def test_without_an_overall_limit_only_each_chat_is_paced():
    time = FakeTime()
    left = await send_all(pacing(time, overall=None, burst=1), time, list(range(100)))
    assert left == [0.0] * 100  # a hundred chats, one message each: none waits
    assert await send_all(pacing(time, overall=None, burst=1), time, ["a", "a"]) == [0.0, 1.0]
