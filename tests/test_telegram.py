"""The real Telegram adapter, through python-telegram-bot, against a fake Bot API on 127.0.0.1.

Every step waits for what it expects the fake to receive (a reply with some text, the next
question, an edit), with a generous deadline; a check that something did NOT happen first waits
for the reply to a later update in the same chat, which the adapter handles after it."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys

import httpx

from adapters import telegram
from bot.registry import COMMANDS
from tests.drivers.telegram import (
    ANN,
    BO,
    GROUP,
    KIM,
    NAMES,
    RESULT,
    ROOT,
    SMALL_GROUP,
    Bot,
    answer_all,
    free_port,
    position,
    press,
    say,
)
from tests.fakes.telegram import FakeTelegram
from tests.waiting import exited


async def test_a_private_assessment_end_to_end(fake, bot, questions):
    assert [c["command"] for c in fake.commands["nl"]][:2] == ["assess", "result"]
    assert fake.commands[""] == fake.commands["en"]
    await say(fake, ANN, "/start", "Stagecoach. I help")
    question = await say(fake, ANN, "/assess", "Question 1 of")
    rows = question.reply_markup["inline_keyboard"]
    assert [b["text"] for b in rows[0]] == ["1", "2", "3", "4", "5", "6", "0"]
    assert "<b>1</b>" in question.text
    result = await answer_all(fake, ANN, "4", questions)
    assert "stage 4 of 6" in result.text
    edited = fake.current(ANN, question.message_id)
    assert edited.text.endswith("✓ 4") and edited.reply_markup is None
    buttons = [b["text"] for row in result.reply_markup["inline_keyboard"] for b in row]
    assert buttons == ["Get a tip", "My roadmap"]
    photo = await fake.until(lambda: next((s for s in fake.to(ANN)[position(fake, ANN, result):]
                                           if s.method == "sendPhoto"), None), "the result's chart")
    assert photo.photo[:8] == b"\x89PNG\r\n\x1a\n"
    await press(fake, ANN, "Get a tip", "Tip for stage 4")


async def test_text_is_escaped_and_free_text_gets_a_kind_reply(fake, bot):
    await say(fake, ANN, "/frob<b>x</b>&", "/frob&lt;b&gt;x&lt;/b&gt;&amp;")
    await say(fake, ANN, "hello there", "/assess")
    await say(fake, ANN, "/assess", "Question 1 of")
    hint = await say(fake, ANN, "<script>", "Please answer with the number")
    assert "<script>" not in hint.text
    await fake.message(ANN, "Question 1 of", after=position(fake, ANN, hint) + 1)


async def test_dutch_users_are_answered_in_dutch(fake, bot):
    await say(fake, BO, "/assess", "Vraag 1 van", language="nl")


async def test_redelivered_updates_and_double_taps_change_nothing_twice(fake, bot, tmp_path):
    fake.text(ANN, "/assess", twice=True)
    question = await fake.message(ANN, "Question 1 of")
    marker = await say(fake, ANN, "/help", "/restart")  # handled after both copies of /assess
    assert sum("Question 1 of" in s.text for s in fake.to(ANN)[:position(fake, ANN, marker)]) == 1
    data = next(b["callback_data"] for b in question.reply_markup["inline_keyboard"][0] if b["text"] == "2")
    first, second = fake.press(ANN, question, data), fake.press(ANN, question, data)
    assert (await fake.answered(first)).get("text") is None
    assert "already answered" in (await fake.answered(second)).get("text", "")
    marker = await say(fake, ANN, "/help", "/restart")
    before = fake.to(ANN)[position(fake, ANN, question):position(fake, ANN, marker)]
    assert sum("Question 2 of" in s.text for s in before) == 1
    assert fake.current(ANN, question.message_id).text.endswith("✓ 2")  # the second tap kept the mark
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1


async def test_a_429_storm_is_waited_out_and_every_message_arrives(fake, bot):
    fake.inject_429("sendMessage", retry_after=1, times=3)
    await say(fake, KIM, "/help", "/restart")
    assert sum(1 for method, _ in fake.calls if method == "sendMessage") == 4
    assert sum("/restart" in s.text for s in fake.to(KIM)) == 1


async def test_a_team_assessment_in_a_group_with_three_members(fake, bot, questions):
    fake.text(ANN, "/team@stagecoach_bot", chat=GROUP, chat_type="supergroup", title="Marketing")
    invite = await fake.message(GROUP, "Team assessment")
    button = invite.reply_markup["inline_keyboard"][0][0]
    assert button["text"] == "Take part" and button["url"].startswith("https://t.me/stagecoach_bot?start=")
    payload = button["url"].split("start=")[1]

    def progress() -> str:
        return fake.current(GROUP, invite.message_id).text

    for answered, (user, label) in enumerate(((ANN, "2"), (BO, "3"), (KIM, "5")), 1):
        await say(fake, user, f"/start {payload}", "answering for team “Marketing”")
        await answer_all(fake, user, label, questions)
        await fake.until(lambda answered=answered: f"Answered ({answered})" in progress(),
                         lambda answered=answered: f"Answered ({answered}): {progress()}")
    assert "Ann" in progress() and "Bo" in progress() and "Kim" in progress()
    await say(fake, BO, "/team_close", "Only the person who started", chat=GROUP, chat_type="supergroup")
    fake.admins.add((GROUP, ROOT))
    result = await say(fake, ROOT, "/team_close@stagecoach_bot", RESULT, chat=GROUP, chat_type="supergroup")
    assert "3 participants" in result.text and "some of you see stage 2, others stage 5" in result.text
    await fake.until(lambda: any(s.method == "sendPhoto" for s in fake.to(GROUP)[position(fake, GROUP, result):]),
                     "the team's chart")
    await fake.until(lambda: "Closed on" in progress(), lambda: f"the team message to close: {progress()}")
    assert fake.current(GROUP, invite.message_id).reply_markup is None
    names = re.compile(r"\b(Ann|Bo|Kim)\b")
    assert not any("stage 2" in s.text and names.search(s.text) for s in fake.to(GROUP))


async def test_group_chatter_is_left_alone(fake, bot):
    fake.text(ANN, "just talking", chat=SMALL_GROUP, chat_type="group")
    await say(fake, ANN, "/help", "/restart", chat=SMALL_GROUP, chat_type="group")  # handled after the chatter
    assert len(fake.to(SMALL_GROUP)) == 1


async def test_a_restart_in_the_middle_continues_where_everyone_was(fake, tmp_path):
    first = Bot(fake, tmp_path / "restart.db")
    await first.start()
    await say(fake, ANN, "/assess", "Question 1 of")
    await press(fake, ANN, "5", "Question 2 of")
    await press(fake, ANN, "5", "Question 3 of")
    await first.stop()
    second = Bot(fake, tmp_path / "restart.db")
    await second.start()
    resumed = await say(fake, ANN, "/assess", "Welcome back")
    assert "Question 3 of" in resumed.text
    await second.stop()


async def test_a_webhook_with_a_wrong_secret_is_rejected(fake, tmp_path):
    running = Bot(fake, tmp_path / "hook.db")
    port = free_port()
    secret = await telegram.webhook_secret(running.engine)
    url = f"http://127.0.0.1:{port}/telegram"
    await running.start(telegram.Webhook(url, secret, listen="127.0.0.1", port=port))
    assert fake.webhook["url"] == url and fake.webhook["secret_token"] == secret

    def update(update_id: int, text: str) -> dict:
        return {"update_id": update_id, "message": {
            "message_id": update_id, "date": 1767000000, "text": text,
            "chat": {"id": ANN, "type": "private"}, "from": {"id": ANN, "is_bot": False, "first_name": "Ann"},
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}}

    async with httpx.AsyncClient() as client:
        async def post(body: dict, token: str) -> int:
            response = await client.post(url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": token})
            return response.status_code

        assert await post(update(1, "/help"), "wrong") == 403
        assert await post(update(1, "/help"), secret) == 200
        await fake.message(ANN, "/restart")
        assert await post(update(1, "/help"), secret) == 200  # Telegram retries what it thinks failed
        assert await post(update(2, "/start"), secret) == 200
    await fake.message(ANN, "Stagecoach. I help")  # the later update, handled after the retried one
    assert sum("/restart" in s.text for s in fake.to(ANN)) == 1
    await running.stop()


def test_stagecoach_run_talks_to_the_server_at_telegram_api_url(tmp_path):
    """The real process, killed with SIGKILL mid-assessment and started again."""

    async def scenario() -> None:
        server = FakeTelegram(names=dict(NAMES))
        await server.start()
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.url,
               "STAGECOACH_DB": str(tmp_path / "run.db")}
        env.pop("SLACK_BOT_TOKEN", None)

        def start() -> subprocess.Popen:
            return subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        process = start()
        try:
            await say(server, ANN, "/assess", "Question 1 of")
            await press(server, ANN, "3", "Question 2 of")
            process.send_signal(signal.SIGKILL)
            await exited(process)
            process = start()
            resumed = await say(server, ANN, "/assess", "Welcome back")
            assert "Question 2 of" in resumed.text
        finally:
            process.send_signal(signal.SIGTERM)
            assert await exited(process) == 0
            await server.stop()

    asyncio.run(scenario())


def test_every_button_fits_in_callback_data(engine, questions):
    """Telegram allows 64 bytes of callback data; every option the engine offers must fit."""
    from bot.testing import ChatClient

    person = ChatClient(engine, str(ANN), platform="telegram", lang="nl")
    seen = []
    for text in ["/start", "/tips", "/tips stage", "/assess", *["6"] * questions, "/tips", "why",
                 "/roadmap", "/lang", "/forget", "no", "/team new Een heel lange teamnaam die niet past"]:
        seen.extend(o.value for r in person.send(text) for o in r.options)
    assert seen and max(len(v.encode()) for v in seen) <= telegram.MAX_CALLBACK_DATA


async def test_hostile_callback_data_and_commands_get_a_clear_answer(fake, bot, tmp_path):
    question = await say(fake, ANN, "/assess", "Question 1 of")
    for data, answer in [
        ("q:1:nope:9", "already answered"),
        ("", "Please answer with the number"),
        ("x" * 64, "Please answer with the number"),
        ("/team join <!here>", "know a team with the code &lt;!HERE&gt;"),
        ("/tips done ../../x", "There is no tip to talk about yet"),
    ]:
        seen = len(fake.to(ANN))
        update = fake.press(ANN, question, data)
        notice = (await fake.answered(update)).get("text") or ""
        if answer not in notice:  # not a short notice on the button: a message, and the question again
            told = await fake.message(ANN, answer, after=seen, method="sendMessage")
            await fake.message(ANN, "Question 1 of", after=position(fake, ANN, told) + 1)
    welcome = await say(fake, ANN, "/start " + "%%%", "Stagecoach. I help")
    assert "%%%" not in welcome.text
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0


async def test_a_group_admin_subscribes_the_group_to_weekly_tips(fake, bot):
    await say(fake, BO, "/tips_subscribe stage 2", "Only a champion", chat=GROUP, chat_type="supergroup")
    fake.admins.add((GROUP, ROOT))
    await say(fake, ROOT, "/tips_subscribe@stagecoach_bot wed 08:30 stage 2",
              "every Wednesday at 08:30 (Europe/Amsterdam)", chat=GROUP, chat_type="supergroup")
    await say(fake, ROOT, "/tips_preview", "Tip of the week for stage 2", chat=GROUP, chat_type="supergroup")


SLASH = re.compile(r"(?<![\w/.:~@&=?#%+-])/([a-z][\w-]*)(?: ([a-z][\w-]*))?")


async def test_every_command_the_bot_names_is_one_telegram_users_can_type(fake, bot):
    """A Telegram command is one word: `/team_join`, as in the command menu, never `/team join`."""
    await say(fake, ANN, "/start", "Stagecoach. I help")
    helped = await say(fake, ANN, "/help", "/restart")
    assert "/team_join CODE" in helped.text and "/team_close" in helped.text
    fake.text(ANN, "/team@stagecoach_bot", chat=GROUP, chat_type="supergroup", title="Marketing")
    invite = await fake.message(GROUP, "Team assessment")
    assert "send me /team_join " in invite.text and "with /team_close." in invite.text
    redirect = await say(fake, BO, "/assess", "private chat", chat=GROUP, chat_type="supergroup")
    assert "type /team." in redirect.text
    menu = {c["command"] for commands in fake.commands.values() for c in commands}
    named = [m for sent in fake.sent for m in SLASH.finditer(sent.text)]
    assert len(named) > 20
    for mention in named:
        command = mention.group(1)
        assert command in menu or command in COMMANDS or command.replace("_", " ", 1) in COMMANDS, mention.group(0)
        assert f"{command} {mention.group(2)}" not in COMMANDS, mention.group(0)  # not two tokens
