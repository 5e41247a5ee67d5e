"""Champions' weekly tips: permissions, the schedule across DST, and an outbox that never loses
or doubles a delivery, through the real Telegram and Slack adapters against local fakes."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters import slack, telegram
from bot.engine import AsyncEngine, Engine
from bot.events import Person
from bot.scheduler import CLAIM_TIMEOUT, TICK, Scheduler
from bot.store_sqlite import SQLiteStore
from bot.testing import ChatClient
from bot.weekly import Schedule
from tests.fakes.slack import FakeSlack, im
from tests.fakes.telegram import FakeTelegram
from tests.waiting import exited

MONDAY = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam, the week before summer time
ANN, BO = "184265301", "184265302"  # Telegram user ids
ADMIN, MEMBER, CHANNEL = "U012AB3CD", "U061F7BK2", "C061F8WK5"  # Slack ids


def chat(number: int) -> str:
    """A Telegram supergroup's id."""
    return str(-1001700000000 - number)


class Moment:
    """One controlled clock for the engine (ISO text) and the scheduler (datetime)."""

    def __init__(self, value: datetime) -> None:
        self.value = value

    def __call__(self) -> datetime:
        return self.value

    def iso(self) -> str:
        return self.value.isoformat(timespec="seconds")


def group(engine: Engine, chat: str, user: str = ANN, admin: bool = True) -> ChatClient:
    return ChatClient(engine, user, chat=chat, platform="telegram", group=True, admin=admin)


def test_the_slot_stays_at_nine_in_amsterdam_across_both_switches():
    schedule = Schedule()
    assert schedule.slot("2026-W13") == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)
    assert schedule.slot("2026-W14") == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    assert schedule.slot("2026-W43") == datetime(2026, 10, 19, 7, 0, tzinfo=UTC)
    assert schedule.slot("2026-W44") == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert Schedule(2, "18:30", "America/New_York").slot("2026-W11") == datetime(2026, 3, 11, 22, 30, tzinfo=UTC)


def test_only_champions_change_a_channels_tips(tmp_path):
    moment = Moment(MONDAY - timedelta(days=3))
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso)
    member = ChatClient(engine, MEMBER, chat=CHANNEL, platform="slack", group=True)
    assert "Only a champion" in member.send("/tips subscribe stage 2")[0].text
    named = (Person(MEMBER, "Mia"),)
    assert "Only an admin" in member.send(f"/champion add @{MEMBER}", mentions=named)[0].text
    admin = ChatClient(engine, ADMIN, chat=CHANNEL, platform="slack", group=True, admin=True)
    assert "Mention the person" in admin.send("/champion add @mia")[0].text
    assert "Mia is now a champion" in admin.send(f"/champion add @{MEMBER}", mentions=named)[0].text
    assert "every Monday at 09:00 (Europe/Amsterdam)" in member.send("/tips subscribe stage 2")[0].text
    assert "I didn't understand: someday" in member.send("/tips subscribe someday")[0].text
    telegram_member = group(engine, chat(5), BO, admin=False)
    assert "Only a champion" in telegram_member.send("/tips_subscribe stage 2")[0].text
    assert "every Monday at 09:00" in group(engine, chat(5), ANN).send("/tips_subscribe stage 2")[0].text


def test_a_channel_is_coached_at_its_last_team_stage_unless_told_otherwise(tmp_path, questions):
    moment = Moment(MONDAY - timedelta(days=3))
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso)
    admin = group(engine, chat(6))
    assert "Which stage should the tips be for?" in admin.send("/tips subscribe")[0].text
    admin.send("/team")
    take_part = admin.replies[-1].options[0].value
    for member_id in ("184265311", "184265312", "184265313"):
        member = ChatClient(engine, member_id, platform="telegram")
        member.send(take_part)
        for _ in range(questions):
            member.send("4")
    admin.send("/team close")
    status = admin.send("/tips subscribe tue 10:30 nl")[0].text
    assert "every Tuesday at 10:30" in status and "in nl, for stage Formalized" in status
    preview = admin.send("/tips preview")[0].text  # the tips themselves come in the channel's language
    assert "Voorproefje" in preview and "Tip van de week voor fase 4" in preview
    assert "paused" in admin.send("/tips pause")[0].text
    assert "on again" in admin.send("/tips resume")[0].text
    assert "Tip van de week" in admin.send("/tips now")[0].text
    assert "nog geen weektips verstuurd" in admin.send("/tips history")[0].text
    assert "stopped" in admin.send("/tips stop")[0].text


def test_a_channel_is_coached_from_its_teams_middle_answers(tmp_path):
    moment = Moment(MONDAY - timedelta(days=3))
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso)
    catalog = engine.catalogs["en"]
    admin = ChatClient(engine, "11", chat="-7", platform="telegram", group=True, admin=True, lang="en")
    admin.send("/team")
    take_part = admin.replies[-1].options[0].value
    weak_tools = [1 if q.dimension == "tools" else 4 for q in catalog.questions]
    for user in ("21", "22", "23"):
        member = ChatClient(engine, user, platform="telegram", lang="en")
        member.send(take_part)
        for value in weak_tools:
            member.send(str(value))
    admin.send("/team close")
    admin.send("/tips subscribe en")
    preview = admin.send("/tips preview")[0].text
    assert "Tip of the week for stage 1 Planning · Tools & integration" in preview
    assert "your weakest dimension" in preview
    assert "It follows from your team's middle answer to" in preview
    assert any(f"“{q.text}”: “{q.options[0]}”" in preview for q in catalog.questions if q.dimension == "tools")


class Running:
    """The engine on its thread, the real Telegram Application's bot, and a scheduler."""

    def __init__(self, fake: FakeTelegram, db: Path, moment: Moment) -> None:
        self.engine = AsyncEngine(lambda: Engine(SQLiteStore(db), clock=moment.iso))
        # Telegram's flood limits, with each of their seconds lasting 10 ms.
        self.application = telegram.build(fake.token, self.engine, fake.url, time_scale=0.01)
        self.scheduler = Scheduler(self.engine, {}, clock=moment, backoff=0.01)

    async def __aenter__(self) -> Running:
        await self.application.initialize()
        self.scheduler.senders["telegram"] = telegram.sender(self.application)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.application.shutdown()
        self.engine.close()


def subscribe(db: Path, moment: Moment, chats: list[str], extra: str = "stage 2") -> None:
    engine = Engine(SQLiteStore(db), clock=moment.iso)
    for chat in chats:
        group(engine, chat, user=ANN).send(f"/tips_subscribe {extra}")
    engine.store.close()


async def test_weekly_delivery_at_the_local_time_across_the_spring_switch(fake, tmp_path):
    moment = Moment(MONDAY - timedelta(days=2))
    subscribe(tmp_path / "w.db", moment, [chat(100)])
    async with Running(fake, tmp_path / "w.db", moment) as running:
        for when, expected in [
            (MONDAY - timedelta(minutes=1), 0),
            (MONDAY, 1),
            (MONDAY + timedelta(minutes=5), 1),
            (datetime(2026, 3, 30, 6, 59, tzinfo=UTC), 1),  # 08:59 summer time
            (datetime(2026, 3, 30, 7, 0, tzinfo=UTC), 2),  # 09:00 summer time
        ]:
            moment.value = when
            await running.scheduler.tick()
            assert len(fake.to(int(chat(100)))) == expected, when
    first, second = fake.to(int(chat(100)))
    assert "Tip of the week for stage 2" in first.text and first.text != second.text
    assert [b["text"] for row in first.reply_markup["inline_keyboard"] for b in row] == ["Done it", "Not for us"]
    assert "later than planned" not in first.text


async def test_a_restart_in_the_middle_of_a_fan_out_neither_doubles_nor_loses(fake, tmp_path):
    moment = Moment(MONDAY - timedelta(days=1))
    chats = [chat(200 + i) for i in range(6)]
    subscribe(tmp_path / "w.db", moment, chats)
    moment.value = MONDAY
    async with Running(fake, tmp_path / "w.db", moment) as first:
        claimed = await first.engine.claim_due(moment())
        assert len(claimed) == 6
        for outgoing in claimed[:2]:  # two went out, then the process died
            message_id = await first.scheduler.senders["telegram"](outgoing.chat_id, outgoing.reply, False)
            await first.engine.delivery_sent(outgoing, message_id, moment())
    moment.value = MONDAY + CLAIM_TIMEOUT + timedelta(minutes=1)
    async with Running(fake, tmp_path / "w.db", moment) as second:
        await second.scheduler.tick()
        await second.scheduler.tick()
    assert sorted(len(fake.to(int(chat))) for chat in chats) == [1] * 6


async def test_after_downtime_a_missed_week_goes_out_once_late_and_a_day_late_is_skipped(fake, tmp_path):
    moment = Moment(MONDAY - timedelta(days=1))
    subscribe(tmp_path / "w.db", moment, [chat(300)])
    async with Running(fake, tmp_path / "w.db", moment) as running:
        moment.value = MONDAY + timedelta(hours=23)
        await running.scheduler.tick()
        await running.scheduler.tick()
        assert len(fake.to(int(chat(300)))) == 1 and "later than planned" in fake.last(int(chat(300))).text
        moment.value = MONDAY + timedelta(days=8, hours=1)  # the next week, 25 hours late
        await running.scheduler.tick()
        assert len(fake.to(int(chat(300)))) == 1
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso)
    history = group(engine, chat(300)).send("/tips history")[0].text
    assert "2026-W14: skipped" in history and "2026-W13: sent late" in history


async def test_429s_are_waited_out_and_the_tip_still_arrives(fake, tmp_path):
    moment = Moment(MONDAY - timedelta(days=1))
    subscribe(tmp_path / "w.db", moment, [chat(400)])
    fake.inject_429("sendMessage", retry_after=1, times=2)
    async with Running(fake, tmp_path / "w.db", moment) as running:
        moment.value = MONDAY
        assert await running.scheduler.tick() == 1
    assert len(fake.to(int(chat(400)))) == 1


async def test_a_removed_bot_pauses_the_subscription_and_tells_the_champion(fake, tmp_path):
    moment = Moment(MONDAY - timedelta(days=1))
    subscribe(tmp_path / "w.db", moment, [chat(500)])
    fake.gone.add(int(chat(500)))
    async with Running(fake, tmp_path / "w.db", moment) as running:
        moment.value = MONDAY
        assert await running.scheduler.tick() == 0
        moment.value = MONDAY + timedelta(days=7)
        assert await running.scheduler.tick() == 0
    champion = [s for s in fake.sent if s.chat_id > 0]
    assert [s.chat_id for s in champion] == [int(ANN)] and "I seem to have been removed" in champion[0].text
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso)
    assert "paused" in group(engine, chat(500)).send("/tips weekly")[0].text


async def test_weekly_tips_rotate_without_repeats_and_feedback_steers_them(fake, tmp_path, engine):
    moment = Moment(MONDAY - timedelta(days=1))
    subscribe(tmp_path / "w.db", moment, [chat(600)])
    pool = [t.id for t in engine.catalogs["en"].tips if t.stage == 2]
    async with Running(fake, tmp_path / "w.db", moment) as running:
        for week in range(len(pool) + 1):
            schedule = Schedule()
            moment.value = schedule.slot(schedule.period(MONDAY + timedelta(days=7 * week)))
            await running.scheduler.tick()
            if week == 0:
                dismissed = fake.last(int(chat(600))).reply_markup["inline_keyboard"][1][0]["callback_data"]
                ChatClient(Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso), BO, chat=chat(600),
                           platform="telegram", group=True).press(dismissed)
    texts = [s.text for s in fake.to(int(chat(600)))]
    assert len(texts) == len(pool) + 1 and len(set(texts)) == len(pool)
    assert texts[-1] == texts[1]  # the new round begins again, without the dismissed tip
    assert not any("later than planned" in text for text in texts)


async def test_a_slack_channel_gets_its_weekly_tip_and_a_lost_channel_pauses(tmp_path):
    server = FakeSlack()
    await server.start()
    moment = Moment(MONDAY - timedelta(days=1))
    engine = Engine(SQLiteStore(tmp_path / "s.db"), clock=moment.iso)
    good, gone = "C061F8GD1", "C061F8GN2"
    for channel in (good, gone):
        ChatClient(engine, ADMIN, chat=channel, platform="slack", group=True, admin=True).send(
            "/tips subscribe stage 3 en")
    engine.store.close()
    running = AsyncEngine(lambda: Engine(SQLiteStore(tmp_path / "s.db"), clock=moment.iso))
    _, adapter = slack.build(running, server.token, None, server.api_url, time_scale=0.01)
    server.fail_next["chat.postMessage"] = []
    original = server._chat_postMessage

    async def post(params: dict) -> dict:
        if params.get("channel") == gone:
            return {"ok": False, "error": "channel_not_found"}
        return await original(params)

    server._chat_postMessage = post  # type: ignore[method-assign]
    scheduler = Scheduler(running, {"slack": adapter.sender()}, clock=moment, backoff=0.01)
    moment.value = MONDAY
    assert await scheduler.tick() == 1
    assert "Tip of the week for stage 3" in server.last(good).text
    assert "removed" in server.last(im(ADMIN)).text
    running.close()
    await server.stop()


async def test_a_claim_is_sent_again_only_once_the_claim_timeout_has_passed(fake, tmp_path):
    """The timeout is the scheduler's to set: the rule holds for ten minutes as for three seconds."""
    moment = Moment(MONDAY - timedelta(days=1))
    subscribe(tmp_path / "w.db", moment, [chat(800)])
    moment.value = MONDAY
    timeout = timedelta(seconds=3)
    async with Running(fake, tmp_path / "w.db", moment) as first:
        assert len(await first.engine.claim_due(moment(), timeout)) == 1  # claimed, then the process died
    async with Running(fake, tmp_path / "w.db", moment) as second:
        second.scheduler.claim_timeout = timeout
        moment.value = MONDAY + timeout - timedelta(seconds=1)
        assert await second.scheduler.tick() == 0
        moment.value = MONDAY + timeout + timedelta(seconds=1)
        assert await second.scheduler.tick() == 1
        assert await second.scheduler.tick() == 0
    assert len(fake.to(int(chat(800)))) == 1


async def test_the_running_scheduler_sends_what_falls_due_on_a_later_tick(fake, tmp_path):
    moment = Moment(MONDAY - timedelta(days=1))
    subscribe(tmp_path / "w.db", moment, [chat(900)])
    async with Running(fake, tmp_path / "w.db", moment) as running:
        running.scheduler.every = 0.01
        stopping = asyncio.Event()
        task = asyncio.create_task(running.scheduler.run(stopping))
        moment.value = MONDAY  # due from now on: one of the next ticks sends it
        tip = await fake.message(int(chat(900)), "Tip of the week")
        stopping.set()
        await task
    assert fake.to(int(chat(900))) == [tip]


def test_the_scheduler_takes_its_tick_and_claim_timeout_from_the_environment(monkeypatch):
    assert (Scheduler.from_environment(None, {}).every, Scheduler.from_environment(None, {}).claim_timeout) \
        == (TICK, CLAIM_TIMEOUT)
    monkeypatch.setenv("STAGECOACH_SCHEDULER_TICK", "0.5")
    monkeypatch.setenv("STAGECOACH_CLAIM_TIMEOUT", "3")
    scheduler = Scheduler.from_environment(None, {})
    assert (scheduler.every, scheduler.claim_timeout) == (0.5, timedelta(seconds=3))


@pytest.mark.parametrize("command", ["run", "scheduler"])
def test_stagecoach_sends_what_is_due_when_it_starts(tmp_path, command):
    """`stagecoach run` schedules alongside the bot; `stagecoach scheduler` on its own."""
    import os
    import signal
    import subprocess
    import sys
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC).replace(microsecond=0)
    due = (now - timedelta(minutes=2)).astimezone(ZoneInfo("Europe/Amsterdam"))
    weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][due.weekday()]
    db = tmp_path / "due.db"
    subscribe(db, Moment(now - timedelta(hours=2)), [chat(700)], f"stage 2 {weekday} {due:%H:%M}")

    async def scenario() -> None:
        server = FakeTelegram()
        await server.start()
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.url,
               "STAGECOACH_DB": str(db)}
        env.pop("SLACK_BOT_TOKEN", None)
        process = await asyncio.to_thread(subprocess.Popen, [sys.executable, "-m", "bot.cli", command], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await server.message(int(chat(700)), "Tip of the week")
        finally:
            process.send_signal(signal.SIGTERM)
            assert await exited(process) == 0
            await server.stop()

    asyncio.run(scenario())
