"""Nothing the platform considers delivered is lost: `stagecoach run` killed at random moments on
each transport, and stopped with SIGTERM while requests are in hand. The harness is tests/crash.py;
bench/crash.py runs it at full size."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests import crash
from tests.drivers.slack import CHANNEL, App
from tests.fakes.slack import FakeSlack, Posted, im
from tests.waiting import DEADLINE, until

PEOPLE = 15
KILLS = 3
# A deploy's SIGKILL follows SIGTERM after about 10 s; the adapters take at most 8 s to finish
# what they hold. The assertion leaves room for a busy machine; the time measured is printed.
STOP_LIMIT = 15.0


@pytest.mark.parametrize("transport", crash.TRANSPORTS)
def test_sigkill_at_random_moments_loses_nothing_the_platform_considers_delivered(tmp_path, transport):
    """People press each answer once and never again: an update lost after the platform was told
    it arrived leaves its person waiting, and fails the run."""
    tally = asyncio.run(crash.run(transport, PEOPLE, KILLS, tmp_path, seed=11))
    assert tally.kills == KILLS, "the people finished before the bot was killed enough times"
    assert tally.clean, tally
    assert tally.confirmed == tally.applied >= PEOPLE * (crash.QUESTIONS + 1), tally


def test_sigterm_with_requests_in_hand_exits_in_time_and_a_restart_applies_them_all(tmp_path):
    """One process serving Telegram (polling) and Slack (HTTP). While it holds updates and
    requests it has confirmed (some not yet applied, some applied with their replies unsent),
    SIGTERM ends it within 10 s; the next start applies them all and sends their replies."""
    measured: list[float] = []

    async def scenario() -> None:
        telegram, slack = crash.TelegramPolling(), crash.SlackHttp()
        await telegram.start()
        await slack.start()
        db = tmp_path / "both.db"
        env = crash.environment(telegram, db) | slack.env(db)
        bot = crash.Bot(env, tmp_path / "both.log")
        tg_answering, tg_groups = telegram.users(3), [-1001800000001 - i for i in range(3)]
        sl_answering, sl_fresh = slack.users(6)[:3], slack.users(6)[3:]
        try:
            bot.start()
            firsts = {}
            for platform, user in [*((telegram, u) for u in tg_answering), *((slack, u) for u in sl_answering)]:
                seen = platform.seen(user)
                platform.begin(user)
                firsts[user] = await platform.question(user, "Question 1 of", seen, DEADLINE)
            await slack.settled()

            # Held at the platform: a reply after its press was applied, and the look-up an
            # update needs before it can be applied (Telegram's getChatMember for a group
            # command, Slack's users.info for a person the process has not seen).
            for method in ("sendMessage", "getChatMember"):
                telegram.fake.hold(method)
            for method in ("chat.postMessage", "users.info"):
                slack.fake.hold(method)
            tg_calls, sl_calls = len(telegram.fake.calls), len(slack.fake.calls)
            seen = {user: platform.seen(user) for platform, users in ((telegram, tg_answering),
                                                                      (slack, sl_answering)) for user in users}
            for user in tg_answering:
                telegram.press(user, firsts[user], 3)
            for user, group in zip(tg_answering, tg_groups, strict=True):
                telegram.pushed.add(telegram.fake.text(int(user), "/help", chat=group, chat_type="supergroup",
                                                       title="Crew")["update_id"])
            for user in sl_answering:
                slack.press(user, firsts[user], 3)
            for user in sl_fresh:
                slack.begin(user)
            await telegram.settled()
            await slack.settled()
            tg_held, sl_held = telegram.fake.calls, slack.fake.calls
            await telegram.fake.until(lambda: min(held(tg_held[tg_calls:], "sendMessage", "getChatMember")) >= 3,
                                      "Telegram's calls to be held")
            await slack.fake.until(lambda: min(held(sl_held[sl_calls:], "chat.postMessage", "users.info")) >= 3,
                                   "Slack's calls to be held")

            measured.append(await bot.terminate())
            for method in ("sendMessage", "getChatMember"):
                telegram.fake.drop(method)
            for method in ("chat.postMessage", "users.info"):
                slack.fake.drop(method)
            bot.start()
            for platform, user in [*((telegram, u) for u in tg_answering), *((slack, u) for u in sl_answering)]:
                await platform.question(user, "Question 2 of", seen[user], DEADLINE)
            for user in sl_fresh:
                await slack.question(user, "Question 1 of", 0, DEADLINE)
            for group in tg_groups:
                await telegram.fake.nth(group, 1)
            await bot.terminate()
        finally:
            if bot.process is not None and bot.process.poll() is None:
                bot.process.kill()
            await telegram.stop()
            await slack.stop()
        confirmed = telegram.confirmed() | slack.confirmed()
        assert len(confirmed) == 3 + 3 + 3 + 3 + 3 + 3  # the first /assess of six people, then twelve in hand
        assert not confirmed - applied_keys(db)
        assert inbox(db) == 0

    asyncio.run(scenario())
    print(f"SIGTERM with requests in hand: exited after {measured[0]:.2f} s")
    assert measured[0] < STOP_LIMIT, f"exited after {measured[0]:.1f} s"


def held(calls: list[tuple[str, dict]], *methods: str) -> list[int]:
    """How many calls of each method a fake received."""
    return [sum(name == method for name, _ in calls) for method in methods]


def applied_keys(db: Path) -> set[str]:
    with sqlite3.connect(db) as check:
        return {key for (key,) in check.execute("SELECT key FROM events")}


def inbox(db: Path) -> int:
    with sqlite3.connect(db) as check:
        return int(check.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])



async def test_a_slack_request_that_fails_before_the_engine_takes_it_waits_for_the_next_start(tmp_path):
    """Slack was told it arrived: a failing Web API call (here conversations.open, for a
    private button in a channel) must not drop it from the inbox."""
    fake = FakeSlack()
    await fake.start()
    db = tmp_path / "slack.db"
    app = App(fake, db)
    await app.start()
    button = {"type": "button", "action_id": "private:0", "value": "/assess",
              "text": {"type": "plain_text", "text": "Take the assessment"}}
    posted = Posted("chat.postMessage", CHANNEL, "1767000000.000001", "Join us",
                    [{"type": "actions", "elements": [button]}])
    fake.inject_429("conversations.open", retry_after=0, times=10)  # more than the client waits out
    try:
        assert (await app.click("U0CR00042", posted, "Take the assessment")).status_code == 200
        await until(lambda: not app.adapter._tasks, "the click to be handled")
        assert inbox(db) == 1
        fake.fail_next["conversations.open"].clear()
    finally:
        await app.stop()
    app = App(fake, db)
    await app.start()
    try:
        await fake.message(im("U0CR00042"), "Question 1 of")
        assert inbox(db) == 0
    finally:
        await app.stop()
        await fake.stop()
