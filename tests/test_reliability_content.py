"""Weekly tips and stored results outlive changes: a moved schedule re-plans its week, the
terminal's scheduler delivers, content ids that left the content never stop a round or a reply,
and exports refuse what they cannot answer."""
from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import render
from bot.engine import Engine
from bot.store import TeamRecord
from bot.store_sqlite import SQLiteStore
from bot.teams import TeamResult
from bot.testing import ChatClient
from tests.waiting import DEADLINE, until

MONDAY = datetime(2026, 3, 23, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam
THURSDAY_TEN = datetime(2026, 3, 26, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class Moment:
    def __init__(self, value: datetime) -> None:
        self.value = value

    def iso(self) -> str:
        return self.value.isoformat(timespec="seconds")


def channel(engine: Engine, chat: str = "-1001700000042") -> ChatClient:
    return ChatClient(engine, "184265301", chat=chat, platform="telegram", group=True, admin=True, lang="en")


def rows(engine: Engine) -> list[tuple[str, str]]:
    return engine.store.conn.execute("SELECT period, status FROM deliveries ORDER BY period").fetchall()


# 1. A changed schedule re-plans the current week

def test_a_week_skipped_on_monday_gets_its_tip_at_the_new_time_on_thursday(tmp_path):
    moment = Moment(MONDAY + timedelta(hours=1))  # subscribed on Monday after 09:00: this week is past
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso)
    admin = channel(engine)
    admin.send("/tips_subscribe stage 2")
    assert engine.claim_due(moment.value) == [] and rows(engine) == [("2026-W13", "skipped")]
    moment.value = MONDAY + timedelta(days=1)
    assert "every Thursday at 10:00" in admin.send("/tips_subscribe thu 10:00")[0].text
    moment.value = THURSDAY_TEN - timedelta(minutes=1)
    assert engine.claim_due(moment.value) == []
    moment.value = THURSDAY_TEN
    (tip,) = engine.claim_due(moment.value)
    assert "Tip of the week for stage 2" in tip.reply.text and "later than planned" not in tip.reply.text
    engine.delivery_sent(tip, "m1", moment.value)
    assert rows(engine) == [("2026-W13", "sent")]
    engine.store.close()


def test_a_week_whose_tip_was_sent_is_not_sent_again_after_a_move(tmp_path):
    moment = Moment(MONDAY - timedelta(days=1))
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso)
    admin = channel(engine)
    admin.send("/tips_subscribe stage 2")
    moment.value = MONDAY
    (tip,) = engine.claim_due(moment.value)
    engine.delivery_sent(tip, "m1", moment.value)
    moment.value = MONDAY + timedelta(days=1)
    admin.send("/tips_subscribe thu 10:00")
    moment.value = THURSDAY_TEN
    assert engine.claim_due(moment.value) == []
    moment.value = THURSDAY_TEN + timedelta(days=7)  # the next week comes at the new time
    assert len(engine.claim_due(moment.value)) == 1
    engine.store.close()


def test_a_move_to_a_time_already_past_this_week_starts_next_week_not_late_now(tmp_path):
    moment = Moment(MONDAY - timedelta(days=1))
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso)
    admin = channel(engine)
    admin.send("/tips_subscribe fri 09:00 stage 2")
    moment.value = MONDAY + timedelta(hours=2)
    admin.send("/tips_subscribe mon 09:00")
    assert engine.claim_due(moment.value) == [] and rows(engine) == [("2026-W13", "moved")]
    assert "2026-W13: no tip: the schedule moved" in admin.send("/tips_history")[0].text
    moment.value = MONDAY + timedelta(days=7)
    assert len(engine.claim_due(moment.value)) == 1
    engine.store.close()


# 2. The terminal's scheduler delivers to the terminal

def test_stagecoach_scheduler_prints_a_terminal_chats_tip_and_marks_it_sent(tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    due = (now - timedelta(minutes=2)).astimezone(AMSTERDAM)
    weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][due.weekday()]
    db = tmp_path / "terminal.db"
    engine = Engine(SQLiteStore(db), clock=Moment(now - timedelta(hours=2)).iso)
    ChatClient(engine, "ann", platform="console", lang="en").send(f"/tips subscribe stage 2 {weekday} {due:%H:%M}")
    engine.store.close()

    async def scenario() -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN")}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "scheduler", "--db", str(db), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        assert process.stdout is not None
        printed = ""
        try:
            async with asyncio.timeout(DEADLINE):
                while "Tip of the week" not in printed:
                    line = await process.stdout.readline()
                    assert line, "the scheduler ended without printing the tip"
                    printed += line.decode()
                    while "[/tips channel-dismiss" not in printed:
                        printed += (await process.stdout.readline()).decode()
            reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)  # only looks, while the process writes
            await until(lambda: reader.execute("SELECT status FROM deliveries").fetchone() == ("sent",),
                        "the delivery marked sent")
            reader.close()
        finally:
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), DEADLINE) == 0
        return printed

    printed = asyncio.run(scenario())
    assert printed.startswith("[ann]\n") and "[/tips channel-done " in printed


# 3. Content ids that left the content

def stale(engine: Engine, chat: str, tip_id: str, at: datetime) -> None:
    """A claim of a tip since removed from the content, whose sender died."""
    subscription = engine.store.subscription_at("telegram", chat)
    assert subscription is not None
    with engine.store.transaction():
        engine.store.claim_delivery(subscription.id, "2026-W13", tip_id, "claimed", MONDAY.isoformat(),
                                    at.isoformat(timespec="seconds"), False)


def test_a_removed_tip_or_a_broken_subscription_never_stops_the_round_for_others(tmp_path, caplog):
    moment = Moment(MONDAY - timedelta(days=1))
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=moment.iso)
    chats = ["-1001700000051", "-1001700000052", "-1001700000053"]
    for chat in chats:
        channel(engine, chat).send("/tips_subscribe stage 2")
    stale(engine, chats[0], "tip.renamed.since", MONDAY)
    with engine.store.transaction():
        engine.store.conn.execute("UPDATE subscriptions SET lang = 'xx' WHERE chat_id = ?", [chats[1]])
    moment.value = MONDAY + timedelta(minutes=11)
    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        claimed = engine.claim_due(moment.value)
    assert sorted(o.chat_id for o in claimed) == [chats[0], chats[2]]
    assert "subscription 2 skipped this round" in caplog.text
    assert engine.claim_due(moment.value + timedelta(minutes=1)) == []  # nothing half-written for the broken one
    history = channel(engine, chats[0]).send("/tips_history")[0].text
    assert "2026-W13: being sent" in history
    engine.store.close()


def test_history_result_and_team_result_name_a_removed_id_as_no_longer_available(tmp_path):
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=Moment(MONDAY - timedelta(days=1)).iso)
    catalog = engine.catalogs["en"]
    admin = channel(engine)
    admin.send("/tips_subscribe stage 2")
    stale(engine, admin.chat, "tip.removed", MONDAY)
    with engine.store.transaction():
        engine.store.conn.execute("UPDATE deliveries SET status = 'sent'")
    assert "2026-W13: sent · (no longer available)" in admin.send("/tips_history")[0].text
    ann = ChatClient(engine, "ann", lang="en")
    ann.answer_all([1 if q.dimension == "tools" else 4 for q in catalog.questions])
    with engine.store.transaction():  # the weakest dimension was renamed since
        engine.store.conn.execute("UPDATE assessments SET result = replace(result, '\"tools\"', '\"tooling\"')")
    shown = ann.send("/result")[0].text
    assert "Weakest: (no longer available)" in shown and "went wrong" not in shown
    team = TeamRecord(1, "test", "g", "Sales", "K7P2QXM4", "ann", "en", "closed", "", "2026-03-01", None)
    result = TeamResult(3, 3, {"tooling": 3, "strategy": 3}, {"tooling": (1, 5), "strategy": (3, 3)})
    assert "(no longer available)" in render.team_result(catalog, team, result).text


def test_a_personal_tip_and_a_roadmap_item_that_left_the_content_are_no_crash(tmp_path):
    engine = Engine(SQLiteStore(tmp_path / "w.db"), clock=Moment(MONDAY).iso)
    ann = ChatClient(engine, "ann", lang="en")
    ann.answer_all(3)
    with engine.store.transaction():
        engine.store.set_tip_status("test", "ann", "ann", "tip.gone", "done", MONDAY.isoformat())
        engine.store.mark_roadmap_item("test", "ann", "ann", "move.gone", MONDAY.isoformat())
        engine.store.conn.execute("UPDATE conversations SET tip_id = 'tip.gone', state = 'coaching'")
    assert "There is no tip to talk about yet" in ann.send("/tips why")[0].text
    assert "went wrong" not in ann.send("/roadmap")[0].text
    assert "Tip" in ann.send("/tips")[0].text


def content_check(db: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "content", "check", "--db", str(db)],
                          capture_output=True, text=True, timeout=60)


def test_content_check_lists_the_stored_ids_the_content_no_longer_has(tmp_path):
    db = tmp_path / "w.db"
    engine = Engine(SQLiteStore(db), clock=Moment(MONDAY).iso)
    ann = ChatClient(engine, "ann", lang="en")
    ann.answer_all(3)
    ann.send("/tips")
    clean = content_check(db)
    assert clean.returncode == 0 and f"{db}: every stored id is in the content" in clean.stdout
    with engine.store.transaction():
        engine.store.set_tip_status("test", "ann", "ann", "tip.gone", "done", MONDAY.isoformat())
        engine.store.mark_roadmap_item("test", "ann", "ann", "move.gone", MONDAY.isoformat())
        engine.store.conn.execute("UPDATE answers SET question_id = 'question.gone' WHERE rowid = 1")
        engine.store.conn.execute("UPDATE assessments SET result = replace(result, '\"tools\"', '\"tooling\"')")
    engine.store.close()
    found = content_check(db)
    assert found.returncode == 1
    for line in ("tip 'tip.gone'", "roadmap item 'move.gone'", "question 'question.gone'", "dimension 'tooling'"):
        assert f"{db}: {line}: stored, but no longer in the content" in found.stdout
    assert "exit code is 1" in subprocess.run([sys.executable, "-m", "bot.cli", "content", "check", "--help"],
                                               capture_output=True, text=True, timeout=60).stdout


# 4. Exports refuse what they cannot answer

def export(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "export", *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=60)


def test_exports_refuse_an_invalid_date_or_an_unknown_team_and_write_nothing(tmp_path):
    db = tmp_path / "w.db"
    engine = Engine(SQLiteStore(db), clock=Moment(MONDAY).iso)
    ChatClient(engine, "ann", lang="en").answer_all(3)
    engine.store.close()
    out = tmp_path / "out.csv"
    for args in (["people", "--since", "2026-13-45"], ["teams", "--until", "20260101"],
                 ["people", "--team", "NOSUCH99"], ["teams", "--team", "nosuch99"]):
        done = export(db, *args, "--out", str(out))
        assert done.returncode != 0 and done.stdout == "", args
        assert len(done.stderr.strip().splitlines()) == 1 and args[-1] in done.stderr, args
        assert not out.exists(), args


def test_an_empty_but_valid_export_still_has_its_header(tmp_path):
    db = tmp_path / "w.db"
    SQLiteStore(db).close()
    for what, last in (("people", "stage_culture"), ("teams", "high_culture")):
        done = export(db, what, "--since", "2026-01-01")
        assert done.returncode == 0
        (header,) = list(csv.reader(io.StringIO(done.stdout)))
        assert header[0] == "platform" and header[-1] == last
        assert json.loads(export(db, what, "--format", "json").stdout) == []
