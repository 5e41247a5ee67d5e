"""The storage contract, held to the same tests on SQLite and on a real PostgreSQL server.

Every test runs on both (see tests/postgres.py for how the server is found); what only one
backend can show (SKIP LOCKED, a lock another connection waits on) says so in its name.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.events import Event
from bot.store import IMPERSONAL, PERSONAL, ConversationRow, StorageError, Store, Unusable, open_store
from bot.store_sql import migrations
from bot.testing import ChatClient
from tests.conftest import Clock
from tests.postgres import fresh_schema, require_server
from tests.waiting import until

NOW = "2026-03-02T09:00:00+00:00"
LATER = "2026-03-02T10:00:00+00:00"


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "stagecoach.db")
    else:
        with fresh_schema(require_server()) as url:
            yield url


@pytest.fixture
def store(location: str) -> Iterator[Store]:
    opened = open_store(location)
    yield opened
    opened.close()


def test_a_conversation_reads_back_as_it_was_saved_and_a_new_one_says_so(store):
    assert store.load_conversation("tg", "c1", "ann").new
    row = ConversationRow("tg", "c1", "ann", state="assessing", assessment_id=7, cursor=3, quick="1,2",
                          coach_focus="tools=2", team_id=None, last_key="k1")
    with store.transaction():
        store.save_conversation(row, NOW)
        row.cursor = 4
        store.save_conversation(row, LATER)  # the second save updates the first
    loaded = store.load_conversation("tg", "c1", "ann")
    assert (loaded.new, loaded.state, loaded.assessment_id, loaded.cursor, loaded.quick, loaded.last_key) == \
        (False, "assessing", 7, 4, "1,2", "k1")


def test_assessments_keep_answers_and_find_the_unfinished_one_per_team(store):
    with store.transaction():
        alone = store.start_assessment("tg", "c1", "ann", NOW)
        team = store.create_team("tg", "", "g1", "Marketing", "ABC123", "ann", "en", NOW)
        for_team = store.start_assessment("tg", "c1", "ann", NOW, team_id=team)
        store.record_answer(alone, "q1", 2, NOW)
        store.record_answer(alone, "q1", 3, LATER)  # a changed answer replaces the first
        store.record_answer(alone, "q2", 1, NOW)
        store.suspend_assessment(for_team, 5)
    assert store.answers(alone) == {"q1": 3, "q2": 1} and store.answer(alone, "q9") is None
    assert store.unfinished_assessment("tg", "c1", "ann", None) == (alone, 0)
    assert store.unfinished_assessment("tg", "c1", "ann", team) == (for_team, 5)
    assert store.assessment_team(for_team) == team
    with store.transaction():
        store.finish_assessment(alone, 3, {"stage": 3, "answers": {"q1": 3}}, LATER)
    [done] = store.finished_assessments("tg", "c1", "ann")
    assert (done.id, done.result["stage"], done.finished_at) == (alone, 3, LATER)
    assert store.unfinished_assessment("tg", "c1", "ann", None) is None
    with store.transaction():
        store.discard_assessment(for_team)
    assert store.unfinished_assessment("tg", "c1", "ann", team) is None


def test_an_event_is_kept_once_its_replies_are_claimed_once_and_forgotten_when_delivered(store):
    with store.transaction():
        store.remember_event("k1", "tg", "ann", "c1", "private", [{"text": "hi ann"}], NOW, owner="a/1")
        store.remember_event("k2", "tg", "bob", "c2", "private", [{"text": "hi bob"}], NOW, owner="a/1")
    with pytest.raises(StorageError), store.transaction():
        store.remember_event("k1", "tg", "ann", "c1", "private", [], NOW)  # a second handling is undone
    seen = store.stored_event("k1")
    assert seen is not None and (seen.replies, seen.delivered, seen.owner) == ([{"text": "hi ann"}], False, "a/1")
    with store.transaction():
        assert store.claim_event("k1", "b/2", "a/1", LATER)
        assert not store.claim_event("k1", "c/3", "a/1", LATER)  # b took them first
    assert [(e.key, e.owner, e.claimed_at) for e in store.undelivered("tg", NOW)] == \
        [("k1", "b/2", LATER), ("k2", "a/1", NOW)]
    store.commit_delivered("k1", LATER, "a/1")  # no longer a's: b took them over, and sends them
    assert not store.stored_event("k1").delivered
    store.commit_delivered("k1", LATER, "b/2")
    done = store.stored_event("k1")
    assert done.delivered and done.replies == []  # the text that named ann goes
    assert [e.key for e in store.undelivered("tg", NOW)] == ["k2"]
    with store.transaction():
        assert not store.claim_event("k1", "c/3", "b/2", LATER)  # delivered: nobody takes them over
        assert store.prune_events(LATER, 1) == 1 and store.prune_events(LATER, 5) == 1
    assert store.stored_event("k1") is None and store.stored_event("k2") is None


def test_the_inbox_keeps_updates_once_in_the_order_they_came(store):
    with store.transaction():
        store.remember_event("done", "tg", "ann", "c1", "private", [], NOW)
    with store.transaction():
        store.receive("tg", [("u3", "ann", "{3}"), ("u1", "bob", "{1}"), ("done", "ann", "{0}")], NOW, "a/1")
    with store.transaction():
        store.receive("tg", [("u3", "ann", "{3 again}"), ("u2", None, "{2}")], LATER, "b/2")
    assert store.inbox("tg") == [("u3", "{3}", "a/1", NOW), ("u1", "{1}", "a/1", NOW), ("u2", "{2}", "b/2", LATER)]
    with store.transaction():
        store.inbox_done("u3")
        store.set_aside("u1")
    assert [key for key, *_ in store.inbox("tg")] == ["u2"] and store.in_inbox("u1") and not store.in_inbox("u3")


def test_teams_members_invites_and_closing(store):
    with store.transaction():
        team = store.create_team("tg", "w1", "g1", "Sales", "XYZ789", "ann", "nl", NOW)
        store.add_member(team, "tg", "ann", NOW)
        store.add_member(team, "tg", "bob", LATER)
        store.remember_name("tg", "bob", "Bob <b>", NOW)
        answered = store.start_assessment("tg", "ann", "ann", NOW, team_id=team)
        store.record_answer(answered, "q1", 4, NOW)
        store.finish_assessment(answered, 4, {"stage": 4}, NOW)
        store.create_invite("tok", team, NOW, "2026-03-20T00:00:00+00:00")
        store.record_wrong_code("tg", "eve", NOW)
    assert store.team_by_code("tg", "w1", "XYZ789").name == "Sales"
    assert store.team_by_code("tg", "w2", "XYZ789") is None  # a code holds in its own workspace only
    assert store.code_taken("tg", "XYZ789") and store.team_code_exists("XYZ789")
    assert [(m.user_id, m.name, m.answered) for m in store.members(team)] == \
        [("ann", "ann", True), ("bob", "Bob <b>", False)]
    assert store.team_answers(team) == [("ann", {"q1": 4})]
    assert store.invite_for(team, LATER) == "tok" and store.invited_team("tok", "tg", LATER).id == team
    assert store.invited_team("tok", "slack", LATER) is None
    assert store.wrong_codes_since("tg", "eve", "2026-03-01T00:00:00+00:00") == [NOW]
    with store.transaction():
        store.remove_member(team, "bob", LATER)
        store.close_team(team, 4, {"stage": 4, "participants": 1}, LATER)
    assert not store.is_member(team, "bob") and store.open_team_at("tg", "g1") is None
    assert [t.id for t in store.closed_teams_at("tg", "g1", min_participants=1)] == [team]
    assert store.closed_teams_at("tg", "g1", min_participants=2) == []
    assert [row["team_code"] for row in store.export_teams("XYZ789", "2026-03-02", None)] == ["XYZ789"]
    assert store.export_teams(None, None, "2026-03-01") == []
    assert [row["team_code"] for row in store.export_assessments("XYZ789", None, None)] == ["XYZ789"]


def test_a_week_of_tips_is_claimed_once_and_a_stale_claim_is_found(store):
    with store.transaction():
        store.save_subscription("slack", "C1", "en", 3, 1, "09:00", "Europe/Amsterdam", "ann", NOW)
        subscription = store.subscription_at("slack", "C1")
        assert subscription is not None and store.subscription(subscription.id) == subscription
        assert store.claim_delivery(subscription.id, "2026-W10", "tip.a", "claimed", NOW, NOW, late=False)
        assert not store.claim_delivery(subscription.id, "2026-W10", "tip.b", "claimed", NOW, NOW, late=False)
    assert [d.tip_id for d in store.stale_claims(LATER)] == ["tip.a"]
    with store.transaction():
        store.finish_delivery(subscription.id, "2026-W10", "sent", LATER, "m1")
        store.reopen_week(subscription.id, "2026-W10")  # sent: it stays
    assert store.delivery(subscription.id, "2026-W10").status == "sent" and store.stale_claims(LATER) == []
    assert [s.chat_id for s in store.active_subscriptions()] == ["C1"]


def test_settings_installations_and_install_states(store):
    with store.transaction():
        first = store.secret("signing")
    with store.transaction():
        assert store.secret("signing") == first
        store.save_installation("slack", "", "T1", '{"token": "x"}', NOW)
        store.issue_oauth_state("s1", LATER, NOW)
    assert store.installation("slack", "", "T1") == '{"token": "x"}'
    with store.transaction():
        assert store.consume_oauth_state("s1", NOW) and not store.consume_oauth_state("s1", NOW)
        store.delete_installation("slack", "", "T1")
    assert store.installation("slack", "", "T1") is None


def test_a_failed_transaction_keeps_nothing_and_a_failed_savepoint_only_its_part(store):
    with pytest.raises(RuntimeError), store.transaction():
        store.set_user_lang("tg", "ann", "nl", NOW)
        raise RuntimeError("the event failed")
    assert store.user_lang("tg", "ann") is None
    with store.transaction():
        store.set_user_lang("tg", "ann", "nl", NOW)
        with pytest.raises(RuntimeError), store.savepoint():
            store.set_user_lang("tg", "bob", "en", NOW)
            raise RuntimeError("one channel failed")
    assert (store.user_lang("tg", "ann"), store.user_lang("tg", "bob")) == ("nl", None)


def test_forgetting_a_person_leaves_no_row_that_names_them(store):
    engine = Engine(store, clock=lambda: NOW)
    ann = ChatClient(engine, "ann", lang="en", name="Ann Example")
    assert any(r.kind == "result" for r in ann.answer_all(3))
    ann.send("/forget")
    ann.send("yes", key="ann-forget")
    assert store.stored_event("ann-forget") is not None  # kept, as nobody's
    for table, columns in PERSONAL.items():
        for column in columns:
            assert not _rows_naming(store, table, column), (table, column)


def _rows_naming(store: Store, table: str, column: str) -> list:
    """Rows of a table whose column holds ann's id or name."""
    return [row for row in store._run(f"SELECT {column} FROM {table}").fetchall()
            if row[0] is not None and ("ann" in str(row[0]) or "Ann Example" in str(row[0]))]


def test_the_schema_is_every_migration_and_holds_only_listed_columns(location):
    opened = open_store(location)
    try:
        versions = [row[0] for row in opened._run("SELECT version FROM schema_migrations ORDER BY version")
                    .fetchall()]
        backend = "sqlite" if location.endswith(".db") else "postgres"
        assert versions == [version for version, _, _ in migrations(type(opened).SCHEMA_WORDS)] == [1, 2]
        for table, columns in IMPERSONAL.items():
            listed = set(columns) | set(PERSONAL.get(table, {}))
            found = {row[0] for row in opened._run(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
                " AND table_schema = current_schema()", [table]).fetchall()} \
                if backend == "postgres" else {row[1] for row in opened._run(f"PRAGMA table_info({table})").fetchall()}
            assert found - {"rowid"} == listed, table
    finally:
        opened.close()
    open_store(location).close()  # opened again: nothing is applied twice


# What several instances on one database need


def test_two_instances_given_the_same_updates_apply_and_answer_each_once(location):
    """Every update goes to both instances at once, each on a thread of its own as in a process
    of its own; each change happens once, and each reply is handed out by one of them only."""
    workers = [ThreadPoolExecutor(max_workers=1) for _ in "ab"]
    engines = [worker.submit(lambda name=name: Engine(open_store(location), instance=name)).result()
               for worker, name in zip(workers, "ab", strict=True)]
    catalog = engines[0].catalogs["en"]
    updates = [Event("slack", "T1:D1", "T1:ann", text="/assess", key="u0")] + [
        Event("slack", "T1:D1", "T1:ann", choice=f"q:1:{q.id}:3", key=f"u{n + 1}")
        for n, q in enumerate(catalog.questions)]
    answered = []
    for update in updates:
        pending = [worker.submit(engine.handle, update) for worker, engine in zip(workers, engines, strict=True)]
        answered.append([[r.kind for r in done.result()] for done in pending])
    assert all(sum(1 for replies in both if replies) == 1 for both in answered), answered
    assert sum(kind == "result" for both in answered for replies in both for kind in replies) == 1
    store = engines[0].store
    [finished] = workers[0].submit(store.finished_assessments, "slack", "T1:D1", "T1:ann").result()
    assert len(workers[0].submit(store.answers, finished.id).result()) == len(catalog.questions)
    for worker, engine in zip(workers, engines, strict=True):
        worker.submit(engine.store.close).result()
        worker.shutdown()


@pytest.fixture
def postgres() -> Iterator[str]:
    with fresh_schema(require_server()) as url:
        yield url


async def test_postgres_one_conversation_waits_for_the_other_instances_event(postgres):
    """(SQLite has one writer at a time: a second instance never gets this far.)"""
    holder, waiter = open_store(postgres), open_store(postgres)
    entered = threading.Event()

    def second() -> None:
        with waiter.transaction():
            waiter.lock_conversation("tg", "c1", "ann")
            entered.set()

    with holder.transaction():
        holder.lock_conversation("tg", "c1", "ann")
        thread = threading.Thread(target=second)
        thread.start()
        await until(lambda: _waiting_on_advisory_lock(holder), "the second instance to wait for the lock")
        assert not entered.is_set()
    thread.join(timeout=30)
    assert entered.is_set()
    holder.close()
    waiter.close()


def _waiting_on_advisory_lock(store: Store) -> bool:
    rows = store._run("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    return bool(rows.fetchone()[0])


def test_postgres_a_second_scheduler_passes_over_the_claims_the_first_holds(postgres):
    """(On SQLite a second scheduler waits for the first's write lock instead.)"""
    first, second = open_store(postgres), open_store(postgres)
    with first.transaction():
        first.save_subscription("slack", "C1", "en", 3, 1, "09:00", "UTC", "ann", NOW)
        subscription = first.subscription_at("slack", "C1")
        first.claim_delivery(subscription.id, "2026-W10", "tip.a", "claimed", NOW, NOW, late=False)
    with first.transaction():
        assert [s.chat_id for s in first.active_subscriptions(claiming=True)] == ["C1"]
        assert len(first.stale_claims(LATER)) == 1
        with second.transaction():
            assert second.active_subscriptions(claiming=True) == []
            assert second.stale_claims(LATER) == []
    first.close()
    second.close()


def test_a_start_takes_up_its_own_earlier_runs_updates_and_those_another_instance_left(location):
    clock = Clock("2026-03-02T09:00:00+00:00")
    engines = [Engine(open_store(location), clock=clock, instance=name) for name in ("a", "b")]
    engines[0].receive("tg", [("from-a", "ann", "{}")])
    engines[1].receive("tg", [("from-b", "bob", "{}")])
    restarted = Engine(open_store(location), clock=clock, instance="a")  # a's next run
    assert restarted.inbox("tg") == [("from-a", "{}")]  # b is alive: its update is b's to handle
    clock.value = "2026-03-02T09:05:00+00:00"  # b has left it for longer than TAKEOVER
    assert restarted.inbox("tg") == [("from-a", "{}"), ("from-b", "{}")]
    for engine in (*engines, restarted):
        engine.store.close()


# Upgrading a database made by the release before migrations were versioned


def test_a_file_from_the_last_release_upgrades_in_place_with_nothing_lost(tmp_path):
    path = tmp_path / "stagecoach.db"
    old = sqlite3.connect(path)
    old.executescript((Path(__file__).parent / "data" / "release-v4.sql").read_text("utf-8"))
    before = {table: old.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall() for table in IMPERSONAL
              if old.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [table]).fetchone()}
    old.close()
    engine = Engine(open_store(str(path)), clock=lambda: "2026-11-20T09:30:00+00:00")
    store = engine.store
    upgraded = sqlite3.connect(path)
    for table, rows in before.items():
        after = upgraded.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        kept = len(rows[0]) if rows else 0
        assert [row[:kept] for row in after] == rows, table  # new columns come last, and empty
    upgraded.close()
    # Everything reads as it did: a result, a half-done assessment, a team, the weekly tips.
    assert store.finished_assessments("test", "ann", "ann")[0].result["stage"] == 4
    assert store.load_conversation("test", "bob", "bob").state == "assessing"
    assert store.open_team_at("test", "-100").name == "Marketing"
    subscription = store.subscription_at("test", "-100")
    assert store.delivery(subscription.id, "2026-W47").status == "sent"
    assert store.installation("slack", "", "T1") == '{"bot_token": "xoxb"}'
    assert engine.inbox("test") == [("in-1", '{"text": "/help"}')]  # received before instances had names
    # The replies that were never sent go out at the start after the upgrade, once.
    assert [key for key, *_ in engine.undelivered("test", timedelta(days=1))] == ["t-1", "undelivered-1"]
    assert engine.undelivered("test", timedelta(days=1)) == []
    halfway, _ = store.unfinished_assessment("test", "bob", "bob", None)
    assert len(store.answers(halfway)) == 2
    ChatClient(engine, "bob", lang="en").send("4")  # the conversation goes on where it was
    assert len(store.answers(halfway)) == 3
    store.close()
    assert open_store(str(path)) is not None  # opened again: no migration runs twice


def test_a_postgresql_server_out_of_reach_stops_start_up_with_one_clear_line():
    from bot.store_postgres import PostgresStore

    with pytest.raises(Unusable) as raised:
        PostgresStore("postgresql://stagecoach:secret@127.0.0.1:9/stagecoach", connect_timeout=0.5)
    message = str(raised.value)
    assert "127.0.0.1:9/stagecoach" in message and "cannot be reached" in message
    assert "secret" not in message and "\n" not in message
