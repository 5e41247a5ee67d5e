"""What comes in before the engine: Slack requests that are unsigned or not what Slack sends,
and a database that is damaged, read-only, not a database, or on a full disk."""
from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from bot import store_sqlite
from bot.engine import Engine
from bot.store import Unusable
from bot.store_sqlite import SQLiteStore
from bot.testing import ChatClient
from tests.drivers.slack import ANN, FORM, HELP, NAMES, SECRET, App, dm
from tests.fakes.slack import APP, TEAM, FakeSlack

JSON = "application/json"
DEEP = "[" * 100_000 + "]" * 100_000


def press(actions: list, kind: str = "block_actions") -> str:
    payload = {"type": kind, "team": {"id": TEAM}, "user": {"id": ANN}, "api_app_id": APP,
               "trigger_id": "13345224609.1.a1b2c3", "container": {"type": "message", "message_ts": "1.2",
                                                                   "channel_id": "D1"}, "actions": actions}
    return urlencode({"payload": json.dumps(payload)})


VIEW_SUBMISSION = urlencode({"payload": json.dumps({
    "type": "view_submission", "team": {"id": TEAM}, "user": {"id": ANN}, "api_app_id": APP,
    "view": {"id": "V1", "type": "modal", "callback_id": "x", "state": {"values": {}}}})})

MALFORMED = {
    "an empty actions list": (press([]), FORM),
    "a view_submission": (VIEW_SUBMISSION, FORM),
    "100k nested lists": (DEEP, JSON),
    "100k nested lists in a payload": (urlencode({"payload": DEEP}), FORM),
    "a JSON body that is not an object": ('"hello"', JSON),
    "a JSON list": ("[1, 2]", JSON),
    "a payload that is not JSON": (urlencode({"payload": "{broken"}), FORM),
    "an action without its id": (press([{"value": "1", "action_ts": "1.1"}]), FORM),
    "an im message without its user": (json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": "Ev1",
                                                   "event": {"type": "message", "channel_type": "im",
                                                             "channel": "D1", "ts": "1.1"}}), JSON),
    "a slash command without its channel": (urlencode({"command": "/stagecoach", "user_id": ANN, "text": "help",
                                                       "trigger_id": "1.2.3"}), FORM),
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(names=dict(NAMES))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def app(fake: FakeSlack, tmp_path: Path) -> AsyncIterator[App]:
    running = App(fake, tmp_path / "slack.db")
    await running.start()
    yield running
    await running.stop()


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_an_unsigned_or_wrongly_signed_malformed_request_gets_401(app, case):
    """The signature is checked before the body is read: a stranger learns nothing from how a body fails."""
    body, content_type = MALFORMED[case]
    assert (await app.post(body, content_type, secret="wrong")).status_code == 401
    assert (await app.post(body, content_type, headers={"X-Slack-Signature": ""})).status_code == 401


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_a_signed_malformed_request_gets_400_and_one_log_line(app, fake, caplog, case):
    body, content_type = MALFORMED[case]
    with caplog.at_level(logging.WARNING):
        assert (await app.post(body, content_type)).status_code == 400
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in logged] == ["adapters.slack_guard"]
    assert "malformed" in logged[0].getMessage()
    await dm(app, ANN, "help", HELP)  # and the app carries on


async def test_a_non_numeric_timestamp_is_refused_as_unsigned(app, fake):
    body = json.dumps({"type": "event_callback", "team_id": TEAM, "event": {"type": "app_home_opened", "user": ANN}})
    signature = SignatureVerifier(SECRET).generate_signature(timestamp="soon", body=body)
    headers = {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": signature}
    assert (await app.post(body, JSON, headers=headers)).status_code == 401
    headers["X-Slack-Request-Timestamp"] = "9" * 5000
    assert (await app.post(body, JSON, headers=headers)).status_code == 401
    await dm(app, ANN, "help", HELP)
    assert ANN not in fake.views


async def test_slack_s_unsigned_ssl_check_still_reaches_the_app(app):
    assert (await app.post(urlencode({"ssl_check": "1", "token": "t"}), FORM, secret="wrong")).status_code == 200


# The database at start-up

def stagecoach(command: str, db: Path) -> subprocess.CompletedProcess:
    """`stagecoach COMMAND` in the terminal mode, on this database file, with no platform tokens."""
    env = {"PATH": "/usr/bin:/bin", "STAGECOACH_DB": str(db), "STAGECOACH_LOG": str(db.parent / "log"),
           "STAGECOACH_SCHEDULER_TICK": "0.01"}
    return subprocess.run([sys.executable, "-m", "bot.cli", command], input="/help\n", capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def damaged(db: Path) -> Path:
    """A real database with one of its table pages overwritten."""
    engine = Engine(SQLiteStore(db))
    for n in range(40):
        ChatClient(engine, f"u{n}").send("/assess")
    engine.store.close()
    page = sqlite3.connect(db).execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as file:
        file.seek(3 * page)
        file.write(b"\xde\xad\xbe\xef" * (page // 4))
    return db


@pytest.mark.parametrize("command", ["chat", "run", "scheduler"])
@pytest.mark.parametrize("kind", ["garbage", "damaged"])
def test_a_broken_database_stops_start_up_with_one_clear_line(tmp_path, command, kind):
    db = tmp_path / "stagecoach.db"
    if kind == "garbage":
        db.write_bytes(b"these are not the bytes of a database\n" * 200)
    else:
        damaged(db)
    before = db.read_bytes()
    done = stagecoach(command, db)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(db) in lines[0] and "backup" in lines[0] and "move it aside" in lines[0]
    assert ("not a database" if kind == "garbage" else "damaged") in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert db.read_bytes() == before


def test_a_read_only_database_is_named_as_such(tmp_path):
    db = tmp_path / "stagecoach.db"
    SQLiteStore(db).close()
    with pytest.raises(Unusable, match="read-only"):
        store_sqlite.check(f"file:{db}?mode=ro")
    store_sqlite.check(str(db))


def test_a_healthy_database_starts_as_before(tmp_path):
    done = stagecoach("chat", tmp_path / "new.db")
    assert done.returncode == 0 and "/restart" in done.stdout and done.stderr == ""


# The write-ahead log and a full disk

def test_the_write_ahead_log_is_truncated_when_the_store_closes(tmp_path):
    db = tmp_path / "wal.db"
    store = SQLiteStore(db)
    assert store.conn.execute("PRAGMA journal_size_limit").fetchone()[0] == store_sqlite.JOURNAL_SIZE_LIMIT
    engine = Engine(store)
    for n in range(30):
        ChatClient(engine, f"u{n}").send("/assess")
    wal = Path(f"{db}-wal")
    assert wal.stat().st_size > 0
    other = sqlite3.connect(db)  # another process holds the database open, so the log stays
    other.execute("SELECT 1 FROM users").fetchall()
    store.close()
    assert not wal.exists() or wal.stat().st_size == 0
    other.close()


def test_the_write_ahead_log_left_by_a_crash_is_truncated_at_start_up(tmp_path):
    db = tmp_path / "crash.db"
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=wal")
    writer.execute("CREATE TABLE filler (x)")
    writer.executemany("INSERT INTO filler VALUES (?)", [("x" * 1000,)] * 500)
    writer.commit()
    wal = Path(f"{db}-wal")
    assert wal.stat().st_size > 500_000  # left behind, as by a process killed before it closed
    store = SQLiteStore(db)
    assert wal.stat().st_size == 0
    store.close()
    writer.close()


def test_after_a_full_disk_the_next_event_is_stored_without_a_restart(tmp_path):
    db = tmp_path / "full.db"
    engine = Engine(SQLiteStore(db), clock=lambda: "2026-03-02T09:00:00+00:00")
    ann = ChatClient(engine, "ann")
    ann.send("/assess")
    pages = engine.store.conn.execute("PRAGMA page_count").fetchone()[0]
    engine.store.conn.execute(f"PRAGMA max_page_count = {pages}")
    replies = []
    for attempt in range(500):  # each event is kept with its key, so the file must grow
        replies = ann.send("/help", key=f"help-{attempt}")
        if replies[0].kind != "menu" and "/restart" not in replies[0].text:
            break
    assert len(replies) == 1 and "try again" in replies[0].text
    assert not engine.store.conn.in_transaction
    engine.store.conn.execute("PRAGMA max_page_count = 1073741823")
    ann.send("1", key="after-the-disk-freed")
    assert "Question 2 of" in ann.replies[-1].text
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1
        assert check.execute("SELECT 1 FROM events WHERE key = 'after-the-disk-freed'").fetchone()
        assert check.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    engine.store.close()
