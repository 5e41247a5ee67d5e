"""Names people chose never break a chart or a delivery, the Telegram webhook's secret tells
nothing about the bot token, and both servers listen where HOST says.

Through the real adapters over HTTP against the fakes on 127.0.0.1, as in test_telegram.py and
test_slack.py, whose helpers these tests reuse."""
from __future__ import annotations

import json
import logging
import re
import sqlite3
from pathlib import Path

import httpx
import matplotlib
import pytest

from adapters import slack, telegram
from bot.charts import Chart, render_png
from bot.engine import AsyncEngine, Engine
from bot.store_sqlite import SQLiteStore
from tests.drivers.slack import ANN as SLACK_ANN
from tests.drivers.slack import HELP as SLACK_HELP
from tests.drivers.slack import SECRET
from tests.drivers.slack import App as SlackApp
from tests.drivers.slack import answer_all as slack_answer_all
from tests.drivers.slack import dm as slack_dm
from tests.drivers.telegram import ANN, BO, GROUP, KIM, RESULT, answer_all, free_port, position, say
from tests.fakes.slack import FakeSlack, im
from tests.fakes.telegram import FakeTelegram
from tests.waiting import until

MARKUP = "X $\\undefinedcmd$"
ODD = (MARKUP, "$x^2$ and $", "two\nlines \\n", "100% sure %d %s", "🚀 Team 🎉", "\\textbf{x} _a^b_")
TELEGRAM_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
PLATFORM_ENV = ("TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_PORT", "HOST",
                "SLACK_APP_TOKEN")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """What the machine running the tests has set (a secret, a host) must not decide what they see."""
    for name in PLATFORM_ENV:
        monkeypatch.delenv(name, raising=False)


def delivered(db: Path, update: dict) -> bool:
    with sqlite3.connect(db) as connection:
        row = connection.execute("SELECT delivered_at FROM events WHERE key = ?",
                                 [f"telegram:{update['update_id']}"]).fetchone()
    return bool(row and row[0])


def events(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT COUNT(*) FROM events").fetchone()[0]


# 1. Charts never interpret text


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
@pytest.mark.parametrize("kind", ["bars", "progress"])
def test_a_chart_draws_formula_markup_and_odd_text_literally(kind):
    chart = Chart(kind, " ".join(ODD), ODD, ODD, ((1, 2, None, 4, 5, 6), (6, 5, 4, 3, 2, 1)), ODD[:2],
                  ((1, 3), None, (2, 6), None, None, None))
    # Even where matplotlib is told to read formulas and run TeX, which is not installed here.
    with matplotlib.rc_context({"text.parse_math": True, "text.usetex": True}):
        png = render_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


async def close_a_team_from_private(fake: FakeTelegram, questions: int) -> tuple[dict, int]:
    """A group whose title has formula markup runs a team of three; the starter closes it from
    her private chat, which sends her the team result and her comparison (each with a chart),
    then the group's result with its chart. Returns the closing update and where Ann's replies
    to it begin."""
    fake.text(ANN, "/team@stagecoach_bot", chat=GROUP, chat_type="supergroup", title=MARKUP)
    invite = await fake.message(GROUP, "Team assessment")
    payload = invite.reply_markup["inline_keyboard"][0][0]["url"].split("start=")[1]
    for user, label in ((ANN, "2"), (BO, "3"), (KIM, "5")):
        await say(fake, user, f"/start {payload}", f"answering for team “{MARKUP}”")
        await answer_all(fake, user, label, questions)
    seen = len(fake.to(ANN))
    return fake.text(ANN, "/team_close"), seen


async def test_a_team_named_with_formula_markup_gets_its_charts_and_every_reply(fake, bot, questions):
    closing, seen = await close_a_team_from_private(fake, questions)
    # Ann's own chart went before this: her chat's updates are delivered one after the other.
    own = await fake.message(ANN, RESULT, after=seen)
    result = await fake.message(GROUP, RESULT)
    photo = await fake.until(lambda: next((s for s in fake.to(GROUP)[position(fake, GROUP, result):]
                                           if s.method == "sendPhoto"), None), "the group's team chart")
    assert MARKUP in photo.text and photo.photo[:8] == b"\x89PNG\r\n\x1a\n"
    mine = [s for s in fake.to(ANN)[position(fake, ANN, own):] if s.method == "sendPhoto"]
    assert [MARKUP in s.text for s in mine] == [True, True]  # the team's chart, and Ann against it
    await until(lambda: delivered(bot.db, closing), "the closing update to be marked delivered")


async def test_a_chart_that_cannot_be_drawn_is_left_out_and_the_rest_still_goes(fake, bot, questions,
                                                                                 monkeypatch, caplog):
    async def broken(chart: Chart) -> bytes:
        raise ValueError(f"cannot draw {chart.title}")

    monkeypatch.setattr(telegram, "render", broken)
    caplog.set_level(logging.WARNING, logger=telegram.__name__)
    closing, seen = await close_a_team_from_private(fake, questions)
    own = await fake.message(ANN, RESULT, after=seen)
    await fake.message(ANN, "Your own answers against", after=position(fake, ANN, own) + 1)
    await fake.message(GROUP, RESULT)  # the last reply, after three charts that failed
    await until(lambda: delivered(bot.db, closing), "the closing update to be marked delivered")
    assert not any(s.method == "sendPhoto" for s in fake.sent)
    left_out = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert sum("undefinedcmd" in m for m in left_out) == 3  # the team's charts; each result had its own too


async def test_slack_leaves_out_a_chart_it_cannot_upload_and_finishes_the_delivery(tmp_path, monkeypatch,
                                                                                    questions):
    async def broken(chart: Chart) -> bytes:
        raise ValueError("cannot draw")

    monkeypatch.setattr(slack, "render", broken)
    server = FakeSlack(names={SLACK_ANN: "Ann"})
    await server.start()
    app = SlackApp(server, tmp_path / "slack.db")
    await app.start()
    try:
        await slack_dm(app, SLACK_ANN, "assess", "Question 1 of")
        await slack_answer_all(app, SLACK_ANN, "4", questions)
        # App Home is refreshed after the result's replies: the delivery went on past the chart.
        await server.until(lambda: "Your stage: 4" in json.dumps(server.views.get(SLACK_ANN, {})), "App Home")
        assert server.uploads == []
    finally:
        await app.stop()
        await server.stop()


# 2. The webhook's secret is random, kept, and shared


async def test_the_webhook_secret_is_random_and_not_derived_from_the_token(tmp_path):
    secrets = []
    for name in ("one.db", "two.db"):
        engine = AsyncEngine(lambda name=name: Engine(SQLiteStore(tmp_path / name)))
        secrets.append(await telegram.webhook_secret(engine))
        engine.close()
    assert secrets[0] != secrets[1]
    assert all(TELEGRAM_SECRET.fullmatch(s) and len(s) >= 40 for s in secrets)


def test_the_secret_survives_reopening_and_every_instance_shares_it(tmp_path):
    first, second = SQLiteStore(tmp_path / "shared.db"), SQLiteStore(tmp_path / "shared.db")
    with first.transaction():
        made = first.secret("telegram_webhook")
    with second.transaction():
        assert second.secret("telegram_webhook") == made
    first.close()
    second.close()
    reopened = SQLiteStore(tmp_path / "shared.db")
    with reopened.transaction():
        assert reopened.secret("telegram_webhook") == made
        assert reopened.secret("another") != made
    reopened.close()


async def test_telegram_webhook_secret_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "set_by-the_operator")
    engine = AsyncEngine(lambda: Engine(SQLiteStore(tmp_path / "env.db")))
    assert await telegram.webhook_secret(engine) == "set_by-the_operator"
    engine.close()


# 3. Servers listen where HOST says; the webhook refuses updates without the secret


async def test_the_webhook_listens_on_every_interface_unless_host_narrows_it(tmp_path, monkeypatch):
    engine = AsyncEngine(lambda: Engine(SQLiteStore(tmp_path / "hook.db")))
    assert await telegram.webhook(engine) is None  # long polling
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", "https://bot.example.org/telegram")
    assert (await telegram.webhook(engine)).listen == "0.0.0.0"
    monkeypatch.setenv("HOST", "127.0.0.1")
    assert (await telegram.webhook(engine)).listen == "127.0.0.1"
    engine.close()


async def test_start_serves_the_webhook_on_host_and_refuses_a_wrong_secret(fake, tmp_path, monkeypatch):
    port, db = free_port(), tmp_path / "start.db"
    url = f"http://127.0.0.1:{port}/telegram"
    for name, value in {"TELEGRAM_API_URL": fake.url, "TELEGRAM_WEBHOOK_URL": url, "HOST": "127.0.0.1",
                        "TELEGRAM_WEBHOOK_PORT": str(port), "TELEGRAM_FLOOD_LIMITS": "off"}.items():
        monkeypatch.setenv(name, value)
    engine = AsyncEngine(lambda: Engine(SQLiteStore(db)))
    application = await telegram.start(fake.token, engine)
    try:
        secret = fake.webhook["secret_token"]
        with sqlite3.connect(db) as connection:
            stored = connection.execute("SELECT value FROM settings WHERE key = 'telegram_webhook'").fetchone()
        assert fake.webhook["url"] == url and stored == (secret,)
        update = {"update_id": 1, "message": {
            "message_id": 1, "date": 1767000000, "text": "/help", "chat": {"id": ANN, "type": "private"},
            "from": {"id": ANN, "is_bot": False, "first_name": "Ann"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
        async with httpx.AsyncClient() as client:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                assert (await client.post(url, json=update, headers=headers)).status_code == 403
            assert events(db) == 0 and fake.to(ANN) == []
            signed = {"X-Telegram-Bot-Api-Secret-Token": secret}
            assert (await client.post(url, json=update, headers=signed)).status_code == 200
        await fake.message(ANN, "/restart")
        assert events(db) == 1
    finally:
        await telegram.stop(application)
        engine.close()


async def test_slack_http_mode_listens_on_host(tmp_path, monkeypatch):
    server = FakeSlack(names={SLACK_ANN: "Ann"})
    await server.start()
    port = free_port()
    for name, value in {"SLACK_BOT_TOKEN": server.token, "SLACK_SIGNING_SECRET": SECRET, "HOST": "127.0.0.1",
                        "SLACK_API_URL": server.api_url, "PORT": str(port)}.items():
        monkeypatch.setenv(name, value)
    engine = AsyncEngine(lambda: Engine(SQLiteStore(tmp_path / "slack.db")))
    stop, _ = await slack.start(engine)
    client = SlackApp.__new__(SlackApp)
    client.url = f"http://127.0.0.1:{port}/slack/events"
    try:
        assert (await client.dm(SLACK_ANN, "help")).status_code == 200
        await server.message(im(SLACK_ANN), SLACK_HELP)
    finally:
        await stop()
        engine.close()
        await server.stop()
