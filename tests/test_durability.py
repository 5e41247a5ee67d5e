"""Nothing confirmed before it is saved, and no failure shown as a success: the write lock, the
inbox, failures the person can retry, text that cannot be stored, updates nobody can read."""
from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from adapters import telegram
from bot.engine import Engine
from bot.events import Event, ReplyKind
from bot.store_sqlite import SQLiteStore
from bot.testing import ChatClient
from tests.drivers import slack as slack_driver
from tests.drivers import telegram as telegram_driver
from tests.drivers.slack import ANN as SLACK_ANN
from tests.drivers.telegram import ANN, free_port, say
from tests.fakes.slack import FakeSlack, im
from tests.waiting import DEADLINE

ROOT = Path(__file__).resolve().parents[1]


def test_two_processes_on_one_file_wait_for_each_other_instead_of_failing(db_path):
    """Each handle reads, then writes: a deferred transaction could not wait for the other
    writer and failed at once with "database is locked"; BEGIN IMMEDIATE waits."""
    SQLiteStore(db_path).close()
    failures: list[str] = []

    def person(name: str) -> None:
        try:
            engine = Engine(SQLiteStore(db_path))  # its own connection, as another process has
            for number in range(150):
                replies = engine.handle(Event("test", name, name, text="/help", key=f"{name}-{number}"))
                failures.extend(r.text for r in replies if r.kind == ReplyKind.FAILURE)
            engine.store.close()
        except Exception as error:
            failures.append(repr(error))

    threads = [threading.Thread(target=person, args=(name,)) for name in ("ann", "bo", "kim")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE * 2)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 450


def test_a_failed_save_is_a_failure_and_leaves_nothing_in_the_inbox(engine, db_path):
    ann = ChatClient(engine, "ann")
    ann.send("/assess")
    engine.receive("test", [("k-5", "ann", "{}")])
    with sqlite3.connect(db_path) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON answers WHEN NEW.value = 5"
                   " BEGIN SELECT RAISE(ABORT, 'refused'); END")
    failed = ann.send("5", key="k-5")
    assert [r.kind for r in failed] == [ReplyKind.FAILURE] and "couldn't save" in failed[0].text
    assert engine.inbox("test") == []  # they were told to try again: a restart must not apply it
    with sqlite3.connect(db_path) as db:
        db.execute("DROP TRIGGER refuse")
    assert "Question 2 of" in ann.send("5", key="k-5-again")[-1].text


def test_text_that_cannot_be_stored_as_utf8_is_made_valid_at_the_boundary(engine):
    ann = ChatClient(engine, "ann")
    reply = ann.send("/team new x\ud800y")[0].text
    assert "x\ufffdy" in reply and "went wrong" not in reply


def test_assess_while_the_result_is_on_its_way_shows_the_result(engine, questions):
    ann = ChatClient(engine, "ann")
    ann.send("/assess")
    for number in range(questions):
        ann.send("4", key=f"answer-{number}")
    assert any(r.kind == "result" for r in ann.replies)  # handed out, not yet sent (flood limits)
    again = ann.send("/assess", key="assess-again")
    assert [r.kind for r in again][:1] == ["result"] and not any(r.kind == "question" for r in again)
    engine.delivered(f"answer-{questions - 1}")
    engine.delivered("assess-again")
    assert ann.send("/assess", key="assess-later")[-1].kind == "question"


# Through the real adapters


async def test_a_failed_save_keeps_the_question_to_press_again(fake, bot, tmp_path):
    question = await say(fake, ANN, "/assess", "Question 1 of")
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON answers BEGIN SELECT RAISE(ABORT, 'full'); END")
    data = question.reply_markup["inline_keyboard"][0][4]["callback_data"]
    seen = len(fake.to(ANN))
    fake.press(ANN, question, data)
    await fake.message(ANN, "save that just now", after=seen)
    assert fake.current(ANN, question.message_id).reply_markup is not None  # not marked as answered
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        db.execute("DROP TRIGGER refuse")
    seen = len(fake.to(ANN))
    fake.press(ANN, question, data)
    await fake.message(ANN, "Question 2 of", after=seen)
    assert fake.current(ANN, question.message_id).text.endswith("✓ 5")


async def test_an_update_nobody_can_read_is_set_aside_and_traffic_goes_on(fake, bot, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="adapters.telegram")
    bad = fake.push({"message": {"message_id": 1, "date": 1767000000, "chat": "not a chat", "text": "/assess"}})
    await say(fake, ANN, "/help", "/restart")
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        assert db.execute("SELECT key, status FROM inbox").fetchall() == [
            (f"telegram:{bad['update_id']}", "unreadable")]
    assert sum("cannot be read" in r.getMessage() for r in caplog.records) == 1
    assert bad not in fake.updates  # confirmed: Telegram does not send it again and again


async def test_the_webhook_answers_only_once_the_update_is_stored(fake, tmp_path, monkeypatch):
    running = telegram_driver.Bot(fake, tmp_path / "hook.db")
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    await running.start(telegram.Webhook(url, "s3cret", listen="127.0.0.1", port=port))
    try:
        unreadable = {"update_id": 70001, "message": {"message_id": 1, "date": 1, "chat": "x", "text": "/x"}}
        update = fake.text(ANN, "/help")
        fake.updates.clear()
        async with httpx.AsyncClient(timeout=DEADLINE) as client:
            for body in (unreadable, update):
                answer = await client.post(url, content=json.dumps(body),
                                           headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
                assert answer.status_code == 200
                with sqlite3.connect(tmp_path / "hook.db") as db:  # stored (or already applied)
                    key = f"telegram:{body['update_id']}"
                    stored = db.execute("SELECT COUNT(*) FROM inbox WHERE key = ?", [key]).fetchone()[0]
                    applied = db.execute("SELECT COUNT(*) FROM events WHERE key = ?", [key]).fetchone()[0]
                    assert stored + applied == 1
        await fake.message(ANN, "/restart")
    finally:
        await running.stop()


async def test_a_restart_sends_the_replies_a_stopped_process_never_sent(fake, tmp_path):
    db = tmp_path / "resend.db"
    engine = Engine(SQLiteStore(db))
    engine.handle(Event("telegram", str(ANN), str(ANN), text="/help", key="telegram:9001"))  # saved, never sent
    engine.store.close()
    running = telegram_driver.Bot(fake, db)
    await running.start()
    try:
        await fake.message(ANN, "/restart")
        with sqlite3.connect(db) as check:
            assert check.execute("SELECT delivered_at IS NOT NULL FROM events").fetchall() == [(1,)]
    finally:
        await running.stop()


@pytest.fixture
async def slack_app(tmp_path: Path) -> AsyncIterator[slack_driver.App]:
    fake = FakeSlack(names={SLACK_ANN: "Ann"})
    await fake.start()
    app = slack_driver.App(fake, tmp_path / "slack.db")
    await app.start()
    yield app
    await app.stop()
    await fake.stop()


async def test_a_slack_double_click_keeps_the_mark(slack_app):
    fake = slack_app.fake
    question = await slack_driver.dm(slack_app, SLACK_ANN, "assess", "Question 1 of")
    seen = len(fake.to(im(SLACK_ANN)))
    for _ in range(2):  # the second click carries the message as it was before the first
        assert (await slack_app.click(SLACK_ANN, question, "2")).status_code == 200
    await fake.message(im(SLACK_ANN), "already answered", after=seen, method="chat.postEphemeral")
    marks = [b for b in fake.current(im(SLACK_ANN), question.ts).blocks if b.get("type") == "context"]
    assert marks and "✓ 2" in json.dumps(marks, ensure_ascii=False)


def test_the_scheduler_claims_only_the_tips_it_can_send(engine):
    """A process with a Telegram sender only must not claim Slack's tips and leave them claimed."""
    for platform, chat in (("slack", "C061F8WK5"), ("telegram", "-1001700000042")):
        ChatClient(engine, "root", chat=chat, platform=platform, group=True, admin=True).send(
            "/tips subscribe stage 2 mon 10:00")
    now = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)  # 10:05 in Amsterdam, on the Monday
    assert [o.platform for o in engine.claim_due(now, platforms=frozenset({"telegram"}))] == ["telegram"]
    assert [o.platform for o in engine.claim_due(now, platforms=frozenset({"slack"}))] == ["slack"]


async def test_a_failed_save_on_slack_keeps_the_buttons(slack_app, tmp_path):
    question = await slack_driver.dm(slack_app, SLACK_ANN, "assess", "Question 1 of")
    with sqlite3.connect(tmp_path / "slack.db") as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON answers BEGIN SELECT RAISE(ABORT, 'full'); END")
    await slack_driver.click(slack_app, SLACK_ANN, "2", "save that just now")
    assert slack_app.fake.current(im(SLACK_ANN), question.ts).buttons()  # nothing recorded: there to press again
    with sqlite3.connect(tmp_path / "slack.db") as db:
        db.execute("DROP TRIGGER refuse")
    await slack_driver.click(slack_app, SLACK_ANN, "2", "Question 2 of")


async def test_an_update_that_cannot_be_stored_is_not_confirmed(fake, bot, tmp_path):
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'full'); END")
    calls = len(fake.calls)
    update = fake.text(ANN, "/help")
    await fake.until(lambda: sum(method == "getUpdates" for method, _ in fake.calls[calls:]) >= 3,
                     "getUpdates to be tried again")
    assert update in fake.updates and not fake.to(ANN)  # never confirmed, never answered
    with sqlite3.connect(tmp_path / "telegram.db") as db:
        db.execute("DROP TRIGGER refuse")
    await fake.message(ANN, "/restart")


DELIVER_AND_DIE = """
import os, signal, sys
from bot.engine import Engine
from bot.events import Event
from bot.store_sqlite import SQLiteStore
engine = Engine(SQLiteStore(sys.argv[1]))
for key in ("k-1", "k-2"):
    engine.handle(Event("test", "ann", "ann", text="/help", key=key))
engine.delivered("k-1")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_delivered_mark_survives_the_process_being_killed_and_a_redelivery_gets_no_replies(db_path):
    """The mark does not wait for the disk, but it is committed: a process that dies right after
    it keeps it, and after the restart only the update whose replies were never sent is resent."""
    killed = subprocess.run([sys.executable, "-c", DELIVER_AND_DIE, str(db_path)], cwd=ROOT,
                            capture_output=True, timeout=DEADLINE * 2)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    restarted = Engine(SQLiteStore(db_path))
    assert restarted.handle(Event("test", "ann", "ann", text="/help", key="k-1")) == []
    assert restarted.handle(Event("test", "ann", "ann", text="/help", key="k-2")) != []
    # Handed out once by this run: neither the start's resend nor another redelivery has them again.
    assert restarted.undelivered("test") == []
    assert restarted.handle(Event("test", "ann", "ann", text="/help", key="k-2")) == []
    restarted.store.close()
    again = Engine(SQLiteStore(db_path))  # the next start: an earlier run's unsent replies are resent
    assert [key for key, *_ in again.undelivered("test")] == ["k-2"]
    again.store.close()


def test_after_a_delivered_mark_the_next_update_is_committed_durably(engine):
    ann = ChatClient(engine, "ann")
    ann.send("/help", key="k-1")
    engine.delivered("k-1")
    assert engine.store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
