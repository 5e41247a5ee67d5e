"""Nothing lost, nothing twice: crashes, duplicates, disorder, hostile input and a full disk."""
from __future__ import annotations

import asyncio
import html
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import slack as slack_adapter
from adapters import telegram as telegram_adapter
from bot.engine import Engine
from bot.events import Event, Option, Reply
from bot.store_sqlite import SQLiteStore
from bot.testing import ChatClient
from tests.fakes.telegram import FakeTelegram
from tests.waiting import exited, until

USERS = 40
KILLS = 3
CLAIM_TIMEOUT = 5  # seconds: far longer than a send takes under load, far shorter than the suite
PATIENCE = 15.0  # seconds a person waits for an answer before tapping again


def test_sigkill_at_random_moments_loses_nothing_and_applies_nothing_twice(tmp_path, questions):
    """`stagecoach run` against the fake Telegram server, 40 people answering at once, killed
    with SIGKILL three times at random points of the conversations. A person whose tap got no
    answer taps again, as people do. Two groups are due a weekly tip: one whose tip a dead
    process claimed and never sent, one not yet claimed."""
    db = tmp_path / "crash.db"
    rng = random.Random(7)
    claimed_group, due_group = -1001700000901, -1001700000902
    subscribe_due_now(db, str(claimed_group), claim=True)
    subscribe_due_now(db, str(due_group))
    choices = {user: [rng.randint(0, 6) for _ in range(questions)] for user in range(5012000001, 5012000001 + USERS)}
    groups = (claimed_group, due_group)
    # A copy is sent again, by design, when its sender died between sending and marking it sent:
    # neither platform can say whether the copy arrived. Those crashes, counted per group.
    died_after_sending = dict.fromkeys(groups, 0)
    copies: dict[int, int] = {}
    kills: list[int] = []

    async def scenario() -> None:
        fake = FakeTelegram()
        await fake.start()
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_URL": fake.url,
               "STAGECOACH_DB": str(db), "TELEGRAM_FLOOD_LIMITS": "off", "STAGECOACH_LOG_LEVEL": "WARNING",
               "STAGECOACH_CLAIM_TIMEOUT": str(CLAIM_TIMEOUT), "STAGECOACH_SCHEDULER_TICK": "0.5"}
        env.pop("SLACK_BOT_TOKEN", None)
        restarts = Restarts()

        def start() -> subprocess.Popen:
            return subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        async def person(user: int) -> None:
            question = await patient(fake, fake.message(user, "Question 1 of", method="sendMessage"),
                                     lambda: fake.text(user, "/assess"), restarts)
            for index, choice in enumerate(choices[user]):
                seen = len(fake.to(user))
                data = question.reply_markup["inline_keyboard"][0][(choice - 1) if choice else 6]["callback_data"]
                wanted = f"Question {index + 2} of" if index + 1 < questions else "of 6"
                question = await patient(fake, fake.message(user, wanted, after=seen, method="sendMessage"),
                                         lambda question=question, data=data: fake.press(user, question, data),
                                         restarts)

        process = start()
        people = asyncio.gather(*(person(user) for user in choices))
        try:
            counted = dict.fromkeys(groups, 0)
            for _ in range(KILLS):
                # Somewhere in the middle of the conversations, however slow the machine is.
                target = len(fake.sent) + rng.randint(50, 400)
                await fake.until(lambda target=target: len(fake.sent) >= target or people.done(), "the bot to carry on")
                if people.done():
                    break
                process.send_signal(signal.SIGKILL)
                await exited(process)
                kills.append(len(fake.sent))
                claimed = {chat: delivery_status(db, chat) == "claimed" for chat in groups}
                calls = len(fake.calls)
                process = start()
                restarts.happened()
                # Whatever the dead process had sent has reached the fake once the new one calls it.
                await fake.until(lambda calls=calls: any(method == "getMe" for method, _ in fake.calls[calls:]),
                                 "the bot to start again")
                for chat in groups:
                    if claimed[chat] and tips(fake, chat) > counted[chat]:
                        died_after_sending[chat] += 1
                        counted[chat] = tips(fake, chat)
            await asyncio.wait_for(people, timeout=240)
            await until(lambda: all(delivery_status(db, chat) == "sent" for chat in groups),
                        "every weekly tip to be marked sent")
        finally:
            people.cancel()
            process.send_signal(signal.SIGTERM)
            await exited(process)
            copies.update((chat, tips(fake, chat)) for chat in groups)
            await fake.stop()

    asyncio.run(scenario())
    assert len(kills) == KILLS, f"the people finished before the bot was killed {KILLS} times"
    for chat in groups:
        assert copies[chat] == 1 + died_after_sending[chat], ("a weekly tip lost or sent twice", chat, copies[chat])
    engine = Engine(SQLiteStore(db))
    catalog = engine.catalogs["en"]
    with sqlite3.connect(db) as check:
        for user, picked in choices.items():
            finished = check.execute(
                "SELECT id FROM assessments WHERE user_id = ? AND finished_at IS NOT NULL", [str(user)]).fetchall()
            assert len(finished) == 1, user
            answers = dict(check.execute("SELECT question_id, value FROM answers WHERE assessment_id = ?",
                                         [finished[0][0]]).fetchall())
            assert answers == {q.id: v for q, v in zip(catalog.questions, picked, strict=True)}, user
    engine.store.close()


def subscribe_due_now(db: Path, chat: str, claim: bool = False) -> None:
    """A group whose weekly tip fell due two minutes ago, subscribed two hours ago; with `claim`,
    a process claimed the tip just now and died before sending it."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC)
    due = (now - timedelta(minutes=2)).astimezone(ZoneInfo("Europe/Amsterdam"))
    day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][due.weekday()]
    earlier = (now - timedelta(hours=2)).isoformat(timespec="seconds")
    engine = Engine(SQLiteStore(db), clock=lambda: earlier)
    ChatClient(engine, "184265301", chat=chat, platform="telegram", group=True, admin=True).send(
        f"/tips_subscribe stage 2 {day} {due:%H:%M}")
    if claim:
        assert [o.chat_id for o in engine.claim_due(now)] == [chat]
    engine.store.close()


def tips(fake: FakeTelegram, chat: int) -> int:
    return sum("Tip of the week" in s.text for s in fake.to(chat))


def delivery_status(db: Path, chat: int) -> str | None:
    with sqlite3.connect(db) as check:
        row = check.execute("SELECT d.status FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id"
                            " WHERE s.chat_id = ?", [str(chat)]).fetchone()
    return row[0] if row else None


class Restarts:
    """Tells the people waiting for an answer that the bot was restarted: what it was doing died with it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def happened(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def next(self) -> None:
        await self._event.wait()


async def patient(fake: FakeTelegram, waiting, tap, restarts: Restarts):
    """Taps, and waits for the bot's answer. Taps again when a restart killed the process that
    had taken the tap (the server no longer holds it for the next one), or when no answer came
    for a long while."""
    update = tap()
    task = asyncio.ensure_future(waiting)
    while True:
        restarted = asyncio.ensure_future(restarts.next())
        done, _ = await asyncio.wait({task, restarted}, timeout=PATIENCE, return_when=asyncio.FIRST_COMPLETED)
        restarted.cancel()
        if task in done:
            return task.result()
        if restarted not in done or update not in fake.updates:
            update = tap()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["/assess", "1", "4", "6", "0", "/back", "/skip"])),
                min_size=5, max_size=40),
       st.randoms())
def test_duplicates_and_late_redeliveries_reach_the_same_end_state(tmp_path_factory, steps, rng):
    def run(events: list[Event]) -> dict:
        db = tmp_path_factory.mktemp("dup") / "d.db"
        engine = Engine(SQLiteStore(db), clock=lambda: "2026-03-02T09:00:00+00:00")
        for event in events:
            engine.handle(event)
        with sqlite3.connect(db) as check:
            state = {
                "answers": sorted(check.execute("SELECT a.user_id, q.question_id, q.value FROM answers q"
                                                " JOIN assessments a ON a.id = q.assessment_id").fetchall()),
                "conversations": sorted(check.execute("SELECT user_id, state, cursor FROM conversations").fetchall()),
            }
        engine.store.close()
        return state

    once = [Event("test", f"u{u}", f"u{u}", text=text, key=f"k{i}") for i, (u, text) in enumerate(steps)]
    twice = []
    for event in once:
        twice.append(event)
        twice.insert(rng.randint(len(twice), len(twice) + 3), event)  # redelivered now or a little later
    assert run(once) == run(twice)


hostile = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["<!channel>", "<@U123>", "<b>bold</b>", "&amp;", "<script>alert(1)</script>", "\x00",
                     "/team join <!here>", "q:1:strategy.goals:9", "q:::", "/tips done ../../etc", "/lang 🇳🇱",
                     "x" * 10_000, "/start " + "A" * 500, "/" * 50, "﷽", "‮text"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(hostile, st.booleans(), st.booleans()), min_size=1, max_size=6))
def test_hostile_input_always_gets_a_clear_reply_and_no_markup_gets_through(engine, inputs):
    person = ChatClient(engine, "fuzz")
    for text, as_button, in_group in inputs:
        person.group = in_group
        replies = person.press(text) if as_button else person.send(text)
        assert replies, text
        for reply in replies:
            assert "something went wrong" not in reply.text
            rendered_tg = telegram_adapter.render_text(reply)
            assert "<!channel>" not in html.unescape(rendered_tg.replace("<b>", "").replace("</b>", "")) \
                or "<!channel>" in reply.text
            assert "<script" not in rendered_tg and "<!channel>" not in rendered_tg and "<@U123>" not in rendered_tg
            for block in slack_adapter.blocks_for(reply):
                shown = block.get("text", {}).get("text", "")
                assert "<!channel>" not in shown and "<@U123>" not in shown and "<script" not in shown


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200), st.text(max_size=80))
def test_both_platforms_escape_whatever_a_reply_echoes(text, label):
    reply = Reply(text, (Option("1", label * 3, "v"), Option("/x", label, "/x")))
    telegram_text = telegram_adapter.render_text(reply)
    assert "<" not in telegram_text.replace("<b>", "").replace("</b>", "")
    for block in slack_adapter.blocks_for(reply):
        assert "<" not in block.get("text", {}).get("text", "")


def test_a_full_disk_gets_a_try_again_and_leaves_the_state_consistent(tmp_path, clock):
    db = tmp_path / "full.db"
    engine = Engine(SQLiteStore(db), clock=clock)
    person = ChatClient(engine, "ann")
    person.send("/assess")
    person.send("3")
    pages = engine.store.conn.execute("PRAGMA page_count").fetchone()[0]
    engine.store.conn.execute(f"PRAGMA max_page_count = {pages}")
    failed = []
    for attempt in range(500):  # each handled event is logged, so the file must grow
        replies = person.send("/help", key=f"help-{attempt}")
        if "couldn't save" in replies[0].text:
            failed = replies
            break
    assert failed and len(failed) == 1 and "try again" in failed[0].text
    engine.store.conn.execute("PRAGMA max_page_count = 1073741823")
    person.send("/assess")
    assert person.replies[-1].kind == "question"
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        open_ones = check.execute("SELECT COUNT(*) FROM assessments WHERE finished_at IS NULL").fetchone()[0]
        assert open_ones == 1
    engine.store.close()
