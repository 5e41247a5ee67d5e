"""A chart delays no text: it is drawn in a process of its own while the texts of its delivery
go, and sent after them, before the update counts as delivered; one that cannot be drawn is
left out, and the rest of the delivery still goes.

Through the real adapters over HTTP against the fakes on 127.0.0.1, each test with a renderer
of its own (a real one, in its own process) that it pauses or kills. While the renderer is
paused (SIGSTOP) no chart can be drawn, so whatever arrives meanwhile did not wait for one."""
from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from adapters import slack, telegram
from bot.charts import Renderer
from tests.drivers.slack import ANN as SLACK_ANN
from tests.drivers.slack import App as SlackApp
from tests.drivers.slack import answer_all as slack_answer_all
from tests.drivers.slack import dm as slack_dm
from tests.drivers.telegram import ANN, BO, RESULT, answer_all, position, say
from tests.fakes.slack import FakeSlack, im
from tests.fakes.telegram import FakeTelegram
from tests.waiting import unread, until

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def renderer(monkeypatch) -> AsyncIterator[Renderer]:
    own = Renderer()
    monkeypatch.setattr(telegram, "render", own.render)
    monkeypatch.setattr(slack, "render", own.render)
    yield own
    own.stop()


@contextmanager
def paused(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def delivered(db: Path, update: dict) -> bool:
    with sqlite3.connect(db) as connection:
        row = connection.execute("SELECT delivered_at FROM events WHERE key = ?",
                                 [f"telegram:{update['update_id']}"]).fetchone()
    return bool(row and row[0])


def photos(fake: FakeTelegram, chat: int, after: int = 0) -> list:
    return [s for s in fake.to(chat)[after:] if s.method == "sendPhoto"]


async def test_telegram_sends_every_text_of_a_delivery_before_its_charts_drawn_in_another_process(
        fake, bot, renderer, questions):
    await say(fake, ANN, "/assess", "Question 1 of")
    await answer_all(fake, ANN, "4", questions)
    await say(fake, ANN, "/assess", "Question 1 of")
    await answer_all(fake, ANN, "3", questions)
    await fake.until(lambda: len(photos(fake, ANN)) == 2, "both results' charts")
    pid = await renderer.pid()
    assert pid != os.getpid()
    seen = len(fake.to(ANN))
    with paused(pid):
        asking = fake.text(ANN, "/result")  # the latest result and the progress since, each with a chart
        result = await fake.message(ANN, RESULT, after=seen)
        progress = await fake.message(ANN, "Your stage over your last 2 results", after=seen)
        await say(fake, BO, "/assess", "Question 1 of")  # and nobody else waits either
        assert photos(fake, ANN, seen) == [] and not delivered(bot.db, asking)
    charts = await fake.until(lambda: len(photos(fake, ANN, seen)) == 2 and photos(fake, ANN, seen), "the charts")
    assert max(position(fake, ANN, t) for t in (result, progress)) < min(position(fake, ANN, c) for c in charts)
    assert [c.photo[:8] for c in charts] == [PNG, PNG]
    await until(lambda: delivered(bot.db, asking), "the update to be marked delivered after its charts")


async def test_a_chart_whose_renderer_is_killed_is_left_out_and_the_next_is_drawn_by_a_new_one(
        fake, bot, renderer, questions, caplog):
    caplog.set_level(logging.WARNING, logger=telegram.__name__)
    pid = await renderer.pid()
    await say(fake, ANN, "/assess", "Question 1 of")
    for number in range(2, questions + 1):
        await say(fake, ANN, "4", f"Question {number} of")
    with paused(pid):
        last = fake.text(ANN, "4")
        await fake.message(ANN, RESULT)
        await until(lambda: unread(pid) > 0, "the chart to be handed to the renderer")
        os.kill(pid, signal.SIGKILL)
    await until(lambda: delivered(bot.db, last), "the rest of the delivery")
    assert photos(fake, ANN) == []
    assert any("chart for chat" in r.getMessage() and "left out" in r.getMessage() for r in caplog.records)
    seen = len(fake.to(ANN))
    fake.text(ANN, "/result")
    photo = await fake.until(lambda: next(iter(photos(fake, ANN, seen)), None), "the chart of /result")
    assert photo.photo[:8] == PNG
    assert await renderer.pid() not in (pid, os.getpid())


async def test_slack_posts_every_text_of_a_delivery_before_its_charts(tmp_path, renderer, questions):
    server = FakeSlack(names={SLACK_ANN: "Ann"})
    await server.start()
    app = SlackApp(server, tmp_path / "slack.db")
    await app.start()
    dm = im(SLACK_ANN)
    try:
        for command, answer in (("assess", "4"), ("restart", "3")):
            await slack_dm(app, SLACK_ANN, command, "Question 1 of")
            await slack_answer_all(app, SLACK_ANN, answer, questions)
        await server.until(lambda: len(server.uploads) == 2, "both results' charts")
        with paused(await renderer.pid()):
            await slack_dm(app, SLACK_ANN, "result", RESULT)  # the latest result and the progress, each with a chart
            await server.message(dm, "Your stage over your last 2 results")
            assert len(server.uploads) == 2
        charts = await server.until(lambda: len(server.uploads) == 4 and server.uploads[2:], "the charts")
        assert [c["channel"] for c in charts] == [dm, dm] and [c["data"][:8] for c in charts] == [PNG, PNG]
        await server.until(lambda: "Your stage: 3" in json.dumps(server.views.get(SLACK_ANN, {})), "App Home")
    finally:
        await app.stop()
        await server.stop()
