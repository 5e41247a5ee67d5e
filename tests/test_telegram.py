"""The real Telegram adapter, through python-telegram-bot, against a fake Bot API on 127.0.0.1."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from adapters import telegram
from bot.engine import AsyncEngine, Engine
from bot.store import Store
from tests.waiting import settle, until
from tests.fakes.telegram import FakeTelegram

ANN, BO, KIM, ROOT = 11, 12, 13, 99
GROUP = -1001


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


class Bot:
    """A running adapter: the real Application polling the fake server, over one engine."""

    def __init__(self, fake: FakeTelegram, db: Path) -> None:
        self.fake, self.db = fake, db
        self.engine = AsyncEngine(lambda: Engine(Store(db)))
        # Faster per-chat pacing than Telegram's one a second, so that a test answers 21 questions quickly.
        self.application = telegram.build(fake.token, self.engine, fake.url, chat_rate=100)

    async def start(self) -> None:
        await self.application.initialize()
        await self.application.post_init(self.application)
        await self.application.updater.start_polling(poll_interval=0.0, timeout=1,
                                                     allowed_updates=["message", "callback_query"])
        await self.application.start()

    async def stop(self) -> None:
        await self.application.updater.stop()
        await self.application.stop()
        await self.application.shutdown()
        self.engine.close()


@pytest.fixture
async def bot(fake: FakeTelegram, tmp_path: Path) -> AsyncIterator[Bot]:
    running = Bot(fake, tmp_path / "telegram.db")
    await running.start()
    yield running
    await running.stop()


async def say(fake: FakeTelegram, user: int, text: str, chat: int | None = None, **kwargs) -> None:
    before = len(fake.sent)
    fake.text(user, text, chat=chat, **kwargs)
    await settle(lambda: len(fake.sent), before)


async def press(fake: FakeTelegram, user: int, label: str, chat: int | None = None) -> None:
    """Presses the button with this label on the newest message to the chat that has one."""
    message = next(s for s in reversed(fake.to(chat or user)) if s.reply_markup)
    button = next(b for row in message.reply_markup["inline_keyboard"] for b in row if b["text"] == label)
    before = len(fake.sent)
    fake.press(user, message, button["callback_data"])
    await settle(lambda: len(fake.sent), before)


async def test_a_private_assessment_end_to_end(fake, bot, questions):
    await until(lambda: "nl" in fake.commands and "" in fake.commands)
    assert [c["command"] for c in fake.commands["nl"]][:2] == ["assess", "result"]
    await say(fake, ANN, "/start")
    assert "Stagecoach" in fake.last(ANN).text
    await say(fake, ANN, "/assess")
    question = fake.last(ANN)
    rows = question.reply_markup["inline_keyboard"]
    assert [b["text"] for b in rows[0]] == ["1", "2", "3", "4", "5", "6", "0"]
    assert "<b>1</b>" in question.text
    for _ in range(questions):
        await press(fake, ANN, "4")
    edited = fake.current(ANN, question.message_id)
    assert edited.text.endswith("✓ 4") and edited.reply_markup is None
    result = [s for s in fake.to(ANN) if "stage 4 of 6" in s.text][-1]
    buttons = [b["text"] for row in result.reply_markup["inline_keyboard"] for b in row]
    assert buttons == ["Get a tip", "My roadmap"]
    await until(lambda: fake.to(ANN)[-1].method == "sendPhoto")
    photo = fake.to(ANN)[-1]
    assert photo.method == "sendPhoto" and photo.photo[:8] == b"\x89PNG\r\n\x1a\n"
    await press(fake, ANN, "Get a tip")
    assert "Tip for stage 4" in fake.to(ANN)[-1].text


async def test_text_is_escaped_and_free_text_gets_a_kind_reply(fake, bot):
    await say(fake, ANN, "/frob<b>x</b>&")
    assert "/frob&lt;b&gt;x&lt;/b&gt;&amp;" in fake.last(ANN).text
    await say(fake, ANN, "hello there")
    assert "/assess" in fake.last(ANN).text
    await say(fake, ANN, "/assess")
    await say(fake, ANN, "<script>")
    assert "Please answer with the number" in fake.to(ANN)[-2].text


async def test_dutch_users_are_answered_in_dutch(fake, bot):
    await say(fake, BO, "/assess", language="nl")
    assert "Vraag 1 van" in fake.last(BO).text


async def test_redelivered_updates_and_double_taps_change_nothing_twice(fake, bot, tmp_path):
    await say(fake, ANN, "/assess", twice=True)
    await asyncio.sleep(0.3)
    assert sum("Question 1 of" in s.text for s in fake.to(ANN)) == 1
    question = fake.last(ANN)
    data = next(b["callback_data"] for b in question.reply_markup["inline_keyboard"][0] if b["text"] == "2")
    answered = len(fake.answered_callbacks)
    fake.press(ANN, question, data)
    fake.press(ANN, question, data)
    await until(lambda: len(fake.answered_callbacks) >= answered + 2)
    await asyncio.sleep(0.2)
    assert sum("Question 2 of" in s.text for s in fake.to(ANN)) == 1
    assert "already answered" in (fake.answered_callbacks[-1].get("text") or "")
    import sqlite3
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


async def test_a_429_storm_is_waited_out_and_every_message_arrives(fake, bot):
    fake.inject_429("sendMessage", retry_after=1, times=3)
    await say(fake, KIM, "/help")
    assert "/restart" in fake.last(KIM).text
    assert sum(1 for method, _ in fake.calls if method == "sendMessage") >= 4


async def test_a_team_assessment_in_a_group_with_three_members(fake, bot, questions):
    fake.text(ANN, "/team@stagecoach_bot", chat=GROUP, chat_type="supergroup", title="Marketing")
    await until(lambda: any(s.chat_id == GROUP for s in fake.sent))
    invite = fake.last(GROUP)
    button = invite.reply_markup["inline_keyboard"][0][0]
    assert button["text"] == "Take part" and button["url"].startswith("https://t.me/stagecoach_bot?start=")
    payload = button["url"].split("start=")[1]
    for user in (ANN, BO, KIM):
        await say(fake, user, f"/start {payload}")
        assert "answering for team “Marketing”" in fake.last(user).text
        for _ in range(questions):
            await press(fake, user, {ANN: "2", BO: "3", KIM: "5"}[user])
    progress = fake.current(GROUP, invite.message_id)
    assert "Answered (3)" in progress.text and "User11" in progress.text
    await say(fake, BO, "/team_close", chat=GROUP, chat_type="supergroup")
    assert "Only the person who started" in fake.last(GROUP).text
    fake.admins.add((GROUP, ROOT))
    before = len(fake.to(GROUP))
    fake.text(ROOT, "/team_close@stagecoach_bot", chat=GROUP, chat_type="supergroup")
    await until(lambda: len(fake.to(GROUP)) >= before + 2)
    result = [s for s in fake.to(GROUP) if "is at stage" in s.text][-1]
    assert "3 participants" in result.text and "some of you see stage 2, others stage 5" in result.text
    await until(lambda: fake.to(GROUP)[-1].method == "sendPhoto")
    closed = fake.current(GROUP, invite.message_id)
    assert "Closed on" in closed.text and closed.reply_markup is None
    assert not any("stage 2" in s.text and "User11" in s.text for s in fake.to(GROUP))


async def test_group_chatter_is_left_alone(fake, bot):
    fake.text(ANN, "just talking", chat=GROUP, chat_type="group")
    await say(fake, ANN, "/help", chat=GROUP, chat_type="group")
    assert len(fake.to(GROUP)) == 1


async def test_a_restart_in_the_middle_continues_where_everyone_was(fake, tmp_path):
    first = Bot(fake, tmp_path / "restart.db")
    await first.start()
    await say(fake, ANN, "/assess")
    await press(fake, ANN, "5")
    await press(fake, ANN, "5")
    await first.stop()
    second = Bot(fake, tmp_path / "restart.db")
    await second.start()
    await say(fake, ANN, "/assess")
    assert "Question 3 of" in fake.last(ANN).text and "Welcome back" in fake.last(ANN).text
    await second.stop()


async def test_a_webhook_with_a_wrong_secret_is_rejected(fake, tmp_path):
    running = Bot(fake, tmp_path / "hook.db")
    await running.application.initialize()
    port = 20000 + os.getpid() % 20000
    secret = telegram.webhook_secret(fake.token)
    await running.application.updater.start_webhook(
        listen="127.0.0.1", port=port, url_path="telegram", webhook_url=f"http://127.0.0.1:{port}/telegram",
        secret_token=secret)
    await running.application.start()
    assert fake.webhook["secret_token"] == secret
    update = {"update_id": 1, "message": {"message_id": 1, "date": 1767000000, "text": "/help",
              "chat": {"id": ANN, "type": "private"}, "from": {"id": ANN, "is_bot": False, "first_name": "A"},
              "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
    async with httpx.AsyncClient() as client:
        wrong = await client.post(f"http://127.0.0.1:{port}/telegram", json=update,
                                  headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
        assert wrong.status_code == 403
        right = await client.post(f"http://127.0.0.1:{port}/telegram", json=update,
                                  headers={"X-Telegram-Bot-Api-Secret-Token": secret})
        assert right.status_code == 200
        await until(lambda: bool(fake.to(ANN)))
        retried = await client.post(f"http://127.0.0.1:{port}/telegram", json=update,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": secret})
        assert retried.status_code == 200
    await asyncio.sleep(0.5)
    assert len(fake.to(ANN)) == 1  # the retried update is handled once
    await running.application.updater.stop()
    await running.application.stop()
    await running.application.shutdown()
    running.engine.close()


def test_stagecoach_run_talks_to_the_server_at_telegram_api_url(tmp_path, questions):
    """The real process, killed with SIGKILL mid-assessment and started again."""

    async def scenario() -> None:
        server = FakeTelegram()
        await server.start()
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.url,
               "STAGECOACH_DB": str(tmp_path / "run.db")}

        def start() -> subprocess.Popen:
            return subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        process = start()
        try:
            await say(server, ANN, "/assess")
            await press(server, ANN, "3")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            process = start()
            await say(server, ANN, "/assess")
            assert "Question 2 of" in server.last(ANN).text
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
            await server.stop()

    asyncio.run(scenario())


def test_every_button_fits_in_callback_data(engine, questions):
    """Telegram allows 64 bytes of callback data; every option the engine offers must fit."""
    from bot.testing import ChatClient

    person = ChatClient(engine, "ann", lang="nl")
    seen = []
    for text in ["/start", "/tips", "/tips stage", "/assess", *["6"] * questions, "/tips", "why",
                 "/roadmap", "/lang", "/forget", "no", "/team new Een heel lange teamnaam die niet past"]:
        seen.extend(o.value for r in person.send(text) for o in r.options)
    assert seen and max(len(v.encode()) for v in seen) <= telegram.MAX_CALLBACK_DATA


async def test_hostile_callback_data_and_commands_get_a_clear_answer(fake, bot):
    await say(fake, ANN, "/assess")
    question = fake.last(ANN)
    for data in ["q:1:nope:9", "", "x" * 64, "/team join <!here>", "/tips done ../../x"]:
        answered = len(fake.answered_callbacks)
        fake.press(ANN, question, data)
        await until(lambda: len(fake.answered_callbacks) > answered)
    await say(fake, ANN, "/start " + "%%%")
    assert "Stagecoach" in fake.to(ANN)[-2].text or "Stagecoach" in fake.last(ANN).text


async def test_a_group_admin_subscribes_the_group_to_weekly_tips(fake, bot):
    await say(fake, BO, "/tips_subscribe stage 2", chat=GROUP, chat_type="supergroup")
    assert "Only a champion" in fake.last(GROUP).text
    fake.admins.add((GROUP, ROOT))
    await say(fake, ROOT, "/tips_subscribe@stagecoach_bot wed 08:30 stage 2", chat=GROUP, chat_type="supergroup")
    assert "every Wednesday at 08:30 (Europe/Amsterdam)" in fake.last(GROUP).text
    await say(fake, ROOT, "/tips_preview", chat=GROUP, chat_type="supergroup")
    assert "Tip of the week for stage 2" in fake.last(GROUP).text
