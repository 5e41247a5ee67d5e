"""Every query Stagecoach makes, behind one small class over SQLite (WAL).

Kept deliberately narrow so that a PostgreSQL store for several instances can follow with the
same methods. A Store belongs to the thread that opened it (sqlite3 connections are bound to it).
"""
from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson
import sqlite_utils

from . import database

T = TypeVar("T")
SCHEMA_VERSION = 4
_CONVERSATION_FIELDS = (
    "state", "assessment_id", "cursor", "tip_id", "coach_stage", "coach_focus", "quick", "team_id", "last_key",
)

_SAVED_FIELDS = ("platform", "chat_id", "user_id", *_CONVERSATION_FIELDS)
_SAVE_CONVERSATION = (  # built once: it runs for every message
    f"INSERT INTO conversations ({', '.join(_SAVED_FIELDS)}, updated_at)"
    f" VALUES ({', '.join('?' * (len(_SAVED_FIELDS) + 1))})"
    " ON CONFLICT (platform, chat_id, user_id) DO UPDATE SET "
    + ", ".join(f"{f} = excluded.{f}" for f in (*_CONVERSATION_FIELDS, "updated_at"))
)

# Replies are stored for every message, encoded by orjson: compact, with text as it is (a name is
# found in it as written), the same text json.dumps(ensure_ascii=False) gives, in a tenth of the time.
_MARK_DELIVERED = "UPDATE events SET delivered_at = ?, replies = '[]' WHERE key = ?"

# Every column that can tell who someone is, and what `/forget` (Store.forget_user) does to it.
# Every other column is listed in IMPERSONAL; a test holds the schema to the two lists, so a
# new column that names a person cannot be added without saying how it is forgotten.
DELETED, CLEARED = "row deleted", "cleared"
PERSONAL: dict[str, dict[str, str]] = {
    "users": {"user_id": DELETED, "name": DELETED, "lang": DELETED},
    "conversations": {"user_id": DELETED, "chat_id": DELETED},
    "assessments": {"user_id": DELETED, "chat_id": DELETED, "result": DELETED},
    "answers": {"assessment_id": DELETED, "value": DELETED},
    "team_members": {"user_id": DELETED},
    "teams": {"starter_id": CLEARED},
    "subscriptions": {"champion_id": CLEARED, "chat_id": DELETED},  # deleted: their private chat's own
    "champions": {"user_id": DELETED, "added_by": CLEARED},
    "events": {"user_id": DELETED, "replies": CLEARED, "chat_id": DELETED},  # cleared: others' replies naming them
    "inbox": {"user_id": DELETED, "payload": DELETED},
    "tip_feedback": {"user_id": DELETED, "chat_id": DELETED},
    "roadmap": {"user_id": DELETED, "chat_id": DELETED},
    "wrong_codes": {"user_id": DELETED},
}
IMPERSONAL: dict[str, tuple[str, ...]] = {
    "users": ("platform", "created_at"),
    "conversations": ("platform", "state", "assessment_id", "cursor", "tip_id", "coach_stage", "coach_focus",
                      "quick", "team_id", "last_key", "updated_at"),
    "assessments": ("id", "platform", "started_at", "finished_at", "stage", "team_id", "position"),
    "answers": ("question_id", "answered_at"),
    "team_members": ("team_id", "platform", "joined_at", "left_at"),
    # A team's place is a group, or "named:<team name>"; its result holds no one's answers alone.
    "teams": ("id", "platform", "workspace", "chat_id", "name", "code", "lang", "status", "created_at",
              "closed_at", "stage", "result"),
    "subscriptions": ("id", "platform", "lang", "stage", "weekday", "at", "zone", "status", "created_at"),
    "deliveries": ("subscription_id", "period", "tip_id", "status", "due_at", "claimed_at", "sent_at", "late",
                   "message_id"),
    "champions": ("platform", "scope", "at"),
    "events": ("key", "platform", "handled_at", "delivered_at", "chat_type"),
    "inbox": ("key", "platform", "received_at", "status"),
    "posted_messages": ("platform", "ref", "chat_id", "message_id", "at"),  # a team's group, never a person
    "tip_feedback": ("platform", "tip_id", "status", "at"),
    "roadmap": ("platform", "item_id", "at"),
    "invites": ("token", "team_id", "created_at", "expires_at"),
    "wrong_codes": ("platform", "at"),
    "settings": ("key", "value"),
    # A Slack workspace's bot (its token, the bot's own ids, the workspace's name); never the installer.
    "installations": ("platform", "enterprise_id", "team_id", "bot", "installed_at"),
    "oauth_states": ("state", "expires_at"),
}


@dataclass
class ConversationRow:
    platform: str
    chat_id: str
    user_id: str
    state: str = "idle"
    assessment_id: int | None = None
    cursor: int = 0
    tip_id: str | None = None
    coach_stage: int | None = None
    coach_focus: str = ""
    quick: str = ""
    team_id: int | None = None
    last_key: str | None = None
    new: bool = False  # not stored yet: the bot has not talked with them in this chat


@dataclass(frozen=True)
class AssessmentRecord:
    """A finished assessment: when it ended, and its result."""

    id: int
    started_at: str
    finished_at: str
    result: dict
    team_id: int | None = None


@dataclass(frozen=True)
class TeamRecord:
    id: int
    platform: str
    chat_id: str
    name: str
    code: str
    starter_id: str
    lang: str
    status: str
    created_at: str
    closed_at: str | None
    result: dict | None
    workspace: str = ""


@dataclass(frozen=True)
class Subscription:
    id: int
    platform: str
    chat_id: str
    lang: str
    stage: int | None
    weekday: int
    at: str
    zone: str
    status: str
    champion_id: str
    created_at: str


@dataclass(frozen=True)
class Delivery:
    subscription_id: int
    period: str
    tip_id: str | None
    status: str
    due_at: str
    claimed_at: str | None
    sent_at: str | None
    late: bool


@dataclass(frozen=True)
class Member:
    user_id: str
    name: str
    answered: bool


class Store:
    def __init__(self, path: str | Path, *, synchronous: str = "FULL", busy_timeout: float = 5.0) -> None:
        conn = sqlite3.connect(str(path), timeout=busy_timeout)
        self.path, self.synchronous, self.busy_timeout = str(path), synchronous, busy_timeout
        self.db = sqlite_utils.Database(conn)
        self.conn = conn  # queries go straight to the connection; sqlite-utils keeps the schema
        if str(path) != ":memory:":
            self.db.enable_wal()
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._create_schema()
        database.tune(conn)

    def sibling(self) -> Store | None:
        """Another connection to the same file, for another thread; None for a database in memory,
        which no other connection can see."""
        if self.path == ":memory:":
            return None
        return Store(self.path, synchronous=self.synchronous, busy_timeout=self.busy_timeout)

    def close(self) -> None:
        database.checkpoint(self.conn)
        self.db.close()

    def transaction(self, durable: bool = True) -> Transaction:
        """One event, one transaction: everything it changed is committed or nothing is.

        It takes the write lock at once (BEGIN IMMEDIATE): a deferred transaction that reads and
        then writes cannot wait for another process's writer, and fails with "database is
        locked" instead of waiting out the busy timeout.

        A transaction that is not `durable` commits without waiting for the disk (in WAL,
        synchronous=NORMAL): it survives the process dying, and the next durable commit takes it
        to the disk; only the machine failing first can lose it. A nested one is part of the
        transaction around it."""
        return Transaction(self, durable)

    def _create_schema(self) -> None:
        db = self.db
        with self.transaction():
            self._migrate()
            db.table("users").create(
                {"platform": str, "user_id": str, "lang": str, "name": str, "created_at": str},
                pk=("platform", "user_id"),
                not_null={"platform", "user_id", "created_at"},
                if_not_exists=True,
            )
            db.table("conversations").create(
                {
                    "platform": str,
                    "chat_id": str,
                    "user_id": str,
                    "state": str,
                    "assessment_id": int,
                    "cursor": int,
                    "tip_id": str,
                    "coach_stage": int,
                    "coach_focus": str,
                    "quick": str,
                    "team_id": int,
                    "last_key": str,
                    "updated_at": str,
                },
                pk=("platform", "chat_id", "user_id"),
                not_null={"platform", "chat_id", "user_id", "state", "cursor"},
                if_not_exists=True,
            )
            db.table("assessments").create(
                {
                    "id": int,
                    "platform": str,
                    "chat_id": str,
                    "user_id": str,
                    "started_at": str,
                    "finished_at": str,
                    "stage": int,
                    "result": str,
                    "team_id": int,
                    "position": int,
                },
                pk="id",
                not_null={"platform", "chat_id", "user_id", "started_at"},
                if_not_exists=True,
            )
            db.table("teams").create(
                {
                    "id": int,
                    "platform": str,
                    "chat_id": str,
                    "name": str,
                    "code": str,
                    "starter_id": str,
                    "lang": str,
                    "status": str,
                    "created_at": str,
                    "closed_at": str,
                    "stage": int,
                    "result": str,
                    "workspace": str,
                },
                pk="id",
                not_null={"platform", "chat_id", "name", "code", "starter_id", "lang", "status", "created_at",
                          "workspace"},
                defaults={"workspace": ""},
                if_not_exists=True,
            )
            db.table("invites").create(
                {"token": str, "team_id": int, "created_at": str, "expires_at": str},
                pk="token",
                foreign_keys=[("team_id", "teams", "id")],
                not_null={"team_id", "created_at", "expires_at"},
                if_not_exists=True,
            )
            db.table("wrong_codes").create(
                {"platform": str, "user_id": str, "at": str},
                not_null={"platform", "user_id", "at"},
                if_not_exists=True,
            )
            db.table("wrong_codes").create_index(["platform", "user_id", "at"], if_not_exists=True)
            db.table("team_members").create(
                {"team_id": int, "platform": str, "user_id": str, "joined_at": str, "left_at": str},
                pk=("team_id", "user_id"),
                foreign_keys=[("team_id", "teams", "id")],
                if_not_exists=True,
            )
            db.table("subscriptions").create(
                {
                    "id": int, "platform": str, "chat_id": str, "lang": str, "stage": int, "weekday": int,
                    "at": str, "zone": str, "status": str, "champion_id": str, "created_at": str,
                },
                pk="id",
                not_null={"platform", "chat_id", "lang", "weekday", "at", "zone", "status", "champion_id"},
                if_not_exists=True,
            )
            db.table("deliveries").create(
                {
                    "subscription_id": int, "period": str, "tip_id": str, "status": str, "due_at": str,
                    "claimed_at": str, "sent_at": str, "late": int, "message_id": str,
                },
                pk=("subscription_id", "period"),
                foreign_keys=[("subscription_id", "subscriptions", "id")],
                if_not_exists=True,
            )
            db.table("champions").create(
                {"platform": str, "scope": str, "user_id": str, "added_by": str, "at": str},
                pk=("platform", "scope", "user_id"),
                if_not_exists=True,
            )
            db.table("subscriptions").create_index(["platform", "chat_id"], unique=True, if_not_exists=True)
            db.table("teams").create_index(["platform", "code"], unique=True, if_not_exists=True)
            db.table("teams").create_index(["platform", "chat_id", "status"], if_not_exists=True)
            db.table("answers").create(
                {"assessment_id": int, "question_id": str, "value": int, "answered_at": str},
                pk=("assessment_id", "question_id"),
                foreign_keys=[("assessment_id", "assessments", "id")],
                if_not_exists=True,
            )
            db.table("events").create(
                {"key": str, "platform": str, "user_id": str, "replies": str, "handled_at": str,
                 "delivered_at": str, "chat_id": str, "chat_type": str},
                pk="key",
                if_not_exists=True,
            )
            db.table("inbox").create(
                {"key": str, "platform": str, "user_id": str, "payload": str, "received_at": str, "status": str},
                pk="key",
                not_null={"platform", "payload", "received_at", "status"},
                defaults={"status": "new"},
                if_not_exists=True,
            )
            db.table("posted_messages").create(
                {"platform": str, "ref": str, "chat_id": str, "message_id": str, "at": str},
                pk=("platform", "ref", "chat_id"),
                if_not_exists=True,
            )
            db.table("tip_feedback").create(
                {
                    "platform": str,
                    "chat_id": str,
                    "user_id": str,
                    "tip_id": str,
                    "status": str,
                    "at": str,
                },
                pk=("platform", "chat_id", "user_id", "tip_id"),
                if_not_exists=True,
            )
            db.table("roadmap").create(
                {"platform": str, "chat_id": str, "user_id": str, "item_id": str, "at": str},
                pk=("platform", "chat_id", "user_id", "item_id"),
                if_not_exists=True,
            )
            db.table("assessments").create_index(
                ["platform", "chat_id", "user_id", "finished_at"], if_not_exists=True
            )
            db.table("events").create_index(["platform", "user_id"], if_not_exists=True)
            db.table("events").create_index(["handled_at"], if_not_exists=True)  # pruning old keys
            db.table("settings").create({"key": str, "value": str}, pk="key", if_not_exists=True)
            db.table("installations").create(
                {"platform": str, "enterprise_id": str, "team_id": str, "bot": str, "installed_at": str},
                pk=("platform", "enterprise_id", "team_id"),
                not_null={"platform", "enterprise_id", "team_id", "bot", "installed_at"},
                if_not_exists=True,
            )
            db.table("oauth_states").create(
                {"state": str, "expires_at": str}, pk="state", not_null={"expires_at"}, if_not_exists=True)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _migrate(self) -> None:
        """Brings a database of an earlier version up to this one, inside the schema's transaction."""
        champions = self.db.table("champions")
        if champions.exists() and "scope" not in champions.columns_dict:
            # Champions used to hold across a whole platform; nobody can tell for which chat an
            # admin meant them, so they are named again where they belong.
            champions.drop()
        teams = self.db.table("teams")
        if teams.exists() and "workspace" not in teams.columns_dict:
            teams.add_column("workspace", str, not_null_default="")
        events = self.db.table("events")
        if events.exists() and "chat_id" not in events.columns_dict:
            events.add_column("chat_id", str)
            events.add_column("chat_type", str)

    # Events: idempotency

    def replies_for_event(self, key: str) -> list[dict] | None:
        """The stored replies of a handled event; empty once they were delivered."""
        row = self.conn.execute("SELECT replies, delivered_at FROM events WHERE key = ?", [key]).fetchone()
        if row is None:
            return None
        return [] if row[1] else json.loads(row[0])

    def was_delivered(self, key: str) -> bool:
        row = self.conn.execute("SELECT delivered_at FROM events WHERE key = ?", [key]).fetchone()
        return bool(row and row[0])

    def mark_delivered(self, key: str, at: str) -> None:
        """Delivered replies are never sent again, so their text (which may name people) goes."""
        self.conn.execute(_MARK_DELIVERED, [at, key])

    def commit_delivered(self, key: str, at: str) -> None:
        """mark_delivered in a commit of its own that does not wait for the disk (see transaction).

        On this connection, not another: a write by another connection empties this one's page
        cache at its next transaction, and every page of the next update is read again."""
        with self.transaction(durable=False):
            self.mark_delivered(key, at)

    def _first(self, kind: type[T], sql: str, parameters: list[Any]) -> T | None:
        """The first column (of type `kind`) of the first row a query finds; None when it finds none."""
        row = self.conn.execute(sql, parameters).fetchone()
        return cast(T, row[0]) if row else None

    # Messages an adapter posted and may update in place (a team's progress)

    def remember_message(self, platform: str, ref: str, chat_id: str, message_id: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO posted_messages (platform, ref, chat_id, message_id, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (platform, ref, chat_id) DO UPDATE SET message_id = excluded.message_id, at = excluded.at",
            [platform, ref, chat_id, message_id, at],
        )

    def posted_message(self, platform: str, ref: str, chat_id: str) -> str | None:
        return self._first(str, "SELECT message_id FROM posted_messages"
                           " WHERE platform = ? AND ref = ? AND chat_id = ?", [platform, ref, chat_id])

    def remember_event(self, key: str, platform: str, user_id: str | None, chat_id: str | None, chat_type: str,
                       replies: list[dict], at: str) -> None:
        self.conn.execute(
            "INSERT INTO events (key, platform, user_id, chat_id, chat_type, replies, handled_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [key, platform, user_id, chat_id, chat_type, orjson.dumps(replies).decode(), at],
        )

    def undelivered(self, platform: str, since: str) -> list[tuple[str, str, str, list[dict]]]:
        """(key, chat, chat type, replies) of events handled since a moment whose replies were
        never marked delivered: the process stopped between saving and sending them."""
        rows = self.conn.execute(
            "SELECT key, chat_id, chat_type, replies FROM events WHERE platform = ? AND delivered_at IS NULL"
            " AND handled_at >= ? AND chat_id IS NOT NULL ORDER BY handled_at, rowid",
            [platform, since],
        ).fetchall()
        return [(key, chat, kind, json.loads(replies)) for key, chat, kind, replies in rows]

    # The inbox: updates stored before the platform is told they arrived

    def receive(self, platform: str, items: list[tuple[str, str | None, str]], at: str) -> None:
        """Stores (key, user id, payload) items; one already stored or handled is left alone."""
        self.conn.executemany(
            "INSERT INTO inbox (key, platform, user_id, payload, received_at) SELECT ?, ?, ?, ?, ?"
            " WHERE NOT EXISTS (SELECT 1 FROM events WHERE key = ?) ON CONFLICT DO NOTHING",
            [(key, platform, user, payload, at, key) for key, user, payload in items],
        )

    def inbox(self, platform: str) -> list[tuple[str, str]]:
        """(key, payload) of the updates received and not yet handled, in the order they came."""
        rows = self.conn.execute(
            "SELECT key, payload FROM inbox WHERE platform = ? AND status = 'new' ORDER BY rowid", [platform])
        return [(key, payload) for key, payload in rows.fetchall()]

    def in_inbox(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM inbox WHERE key = ?", [key]).fetchone() is not None

    def inbox_done(self, key: str) -> None:
        self.conn.execute("DELETE FROM inbox WHERE key = ?", [key])

    def set_aside(self, key: str) -> None:
        """An update that cannot be read: kept for a look, never handed out again."""
        self.conn.execute("UPDATE inbox SET status = 'unreadable' WHERE key = ?", [key])

    def prune_events(self, before: str, limit: int) -> int:
        """Deletes at most `limit` keys of events handled before a moment, found by their index,
        so that no prune holds the write lock long; returns how many went."""
        return self.conn.execute(
            "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE handled_at < ? LIMIT ?)",
            [before, limit],
        ).rowcount

    # Users

    def user_lang(self, platform: str, user_id: str) -> str | None:
        return self._first(str, "SELECT lang FROM users WHERE platform = ? AND user_id = ?", [platform, user_id])

    def set_user_lang(self, platform: str, user_id: str, lang: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO users (platform, user_id, lang, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, user_id) DO UPDATE SET lang = excluded.lang",
            [platform, user_id, lang, at],
        )

    def remember_name(self, platform: str, user_id: str, name: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO users (platform, user_id, name, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, user_id) DO UPDATE SET name = excluded.name"
            " WHERE users.name IS NOT excluded.name",
            [platform, user_id, name, at],
        )

    def forget_user(self, platform: str, user_id: str, private_chat: str) -> list[int]:
        """Deletes or clears every trace of one person on one platform, as PERSONAL lists them;
        `private_chat` is their one-to-one chat with the bot. Returns the teams they were in,
        whose progress messages still show their name."""
        who = [platform, user_id]
        name = self.conn.execute("SELECT name FROM users WHERE platform = ? AND user_id = ?", who).fetchone()
        if name and name[0]:
            # Other people's stored replies that name them (a team's progress), not yet delivered.
            self.conn.execute(
                r"UPDATE events SET replies = '[]' WHERE platform = ? AND replies LIKE ? ESCAPE '\'",
                [platform, "%" + _like(json.dumps(name[0], ensure_ascii=False)[1:-1]) + "%"],
            )
        teams = [r[0] for r in self.conn.execute(
            "SELECT team_id FROM team_members WHERE platform = ? AND user_id = ?", who).fetchall()]
        self.conn.execute(
            "DELETE FROM answers WHERE assessment_id IN"
            " (SELECT id FROM assessments WHERE platform = ? AND user_id = ?)",
            who,
        )
        own = self.conn.execute(
            "SELECT id FROM subscriptions WHERE platform = ? AND chat_id = ?", [platform, private_chat]).fetchall()
        for (subscription_id,) in own:
            self.conn.execute("DELETE FROM deliveries WHERE subscription_id = ?", [subscription_id])
            self.conn.execute("DELETE FROM subscriptions WHERE id = ?", [subscription_id])
        self.conn.execute("DELETE FROM tip_feedback WHERE platform = ? AND chat_id = ?", [platform, private_chat])
        for table in ("team_members", "assessments", "conversations", "tip_feedback", "roadmap", "events",
                      "champions", "wrong_codes", "inbox", "users"):
            self.conn.execute(f"DELETE FROM {table} WHERE platform = ? AND user_id = ?", who)
        self.conn.execute("UPDATE teams SET starter_id = '' WHERE platform = ? AND starter_id = ?", who)
        self.conn.execute("UPDATE subscriptions SET champion_id = '' WHERE platform = ? AND champion_id = ?", who)
        self.conn.execute("UPDATE champions SET added_by = '' WHERE platform = ? AND added_by = ?", who)
        return teams

    # Conversations

    def load_conversation(self, platform: str, chat_id: str, user_id: str) -> ConversationRow:
        row = self.conn.execute(
            f"SELECT {', '.join(_CONVERSATION_FIELDS)} FROM conversations"
            " WHERE platform = ? AND chat_id = ? AND user_id = ?",
            [platform, chat_id, user_id],
        ).fetchone()
        if row is None:
            return ConversationRow(platform, chat_id, user_id, new=True)
        return ConversationRow(platform, chat_id, user_id, *row)

    def save_conversation(self, row: ConversationRow, at: str) -> None:
        self.conn.execute(_SAVE_CONVERSATION, [getattr(row, f) for f in _SAVED_FIELDS] + [at])

    # Coaching: tip feedback and the roadmap

    def tip_statuses(self, platform: str, chat_id: str, user_id: str) -> dict[str, str]:
        rows = self.conn.execute(
            "SELECT tip_id, status FROM tip_feedback WHERE platform = ? AND chat_id = ? AND user_id = ?",
            [platform, chat_id, user_id],
        )
        return dict(rows.fetchall())

    def set_tip_status(self, platform: str, chat_id: str, user_id: str, tip_id: str, status: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO tip_feedback (platform, chat_id, user_id, tip_id, status, at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (platform, chat_id, user_id, tip_id)"
            " DO UPDATE SET status = excluded.status, at = excluded.at",
            [platform, chat_id, user_id, tip_id, status, at],
        )

    def clear_shown_tips(self, platform: str, chat_id: str, user_id: str, tip_ids: list[str]) -> None:
        """Starts a new round through a pool: tips only shown become new again; feedback stays."""
        self.conn.execute(
            "DELETE FROM tip_feedback WHERE platform = ? AND chat_id = ? AND user_id = ? AND status = 'shown'"
            f" AND tip_id IN ({', '.join('?' * len(tip_ids))})",
            [platform, chat_id, user_id, *tip_ids],
        )

    def roadmap_done(self, platform: str, chat_id: str, user_id: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT item_id FROM roadmap WHERE platform = ? AND chat_id = ? AND user_id = ?",
            [platform, chat_id, user_id],
        )
        return {r[0] for r in rows.fetchall()}

    def mark_roadmap_item(self, platform: str, chat_id: str, user_id: str, item_id: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO roadmap (platform, chat_id, user_id, item_id, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [platform, chat_id, user_id, item_id, at],
        )

    # Assessments and answers

    def start_assessment(
        self, platform: str, chat_id: str, user_id: str, at: str, team_id: int | None = None
    ) -> int:
        cursor = self.conn.execute(
            "INSERT INTO assessments (platform, chat_id, user_id, started_at, team_id) VALUES (?, ?, ?, ?, ?)",
            [platform, chat_id, user_id, at, team_id],
        )
        return _inserted(cursor)

    def assessment_team(self, assessment_id: int) -> int | None:
        return self._first(int, "SELECT team_id FROM assessments WHERE id = ?", [assessment_id])

    def suspend_assessment(self, assessment_id: int, position: int) -> None:
        """Keeps an unfinished assessment's place while the person answers another."""
        self.conn.execute("UPDATE assessments SET position = ? WHERE id = ?", [position, assessment_id])

    def unfinished_assessment(
        self, platform: str, chat_id: str, user_id: str, team_id: int | None
    ) -> tuple[int, int] | None:
        """(id, position) of the newest unfinished assessment of one person for one team (or none)."""
        row = self.conn.execute(
            "SELECT id, COALESCE(position, 0) FROM assessments WHERE platform = ? AND chat_id = ?"
            " AND user_id = ? AND team_id IS ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
            [platform, chat_id, user_id, team_id],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def discard_assessment(self, assessment_id: int) -> None:
        self.conn.execute("DELETE FROM answers WHERE assessment_id = ?", [assessment_id])
        self.conn.execute("DELETE FROM assessments WHERE id = ?", [assessment_id])

    def record_answer(self, assessment_id: int, question_id: str, value: int, at: str) -> None:
        self.conn.execute(
            "INSERT INTO answers (assessment_id, question_id, value, answered_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (assessment_id, question_id) DO UPDATE SET value = excluded.value,"
            " answered_at = excluded.answered_at",
            [assessment_id, question_id, value, at],
        )

    def answer(self, assessment_id: int, question_id: str) -> int | None:
        row = self.conn.execute(
            "SELECT value FROM answers WHERE assessment_id = ? AND question_id = ?", [assessment_id, question_id]
        ).fetchone()
        return row[0] if row else None

    def answers(self, assessment_id: int) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT question_id, value FROM answers WHERE assessment_id = ?", [assessment_id]
        )
        return dict(rows.fetchall())

    def finish_assessment(self, assessment_id: int, stage: int | None, result: dict, at: str) -> None:
        self.conn.execute(
            "UPDATE assessments SET finished_at = ?, stage = ?, result = ? WHERE id = ?",
            [at, stage, json.dumps(result), assessment_id],
        )

    def finished_assessments(
        self, platform: str, chat_id: str, user_id: str, limit: int = 2
    ) -> list[AssessmentRecord]:
        """The newest finished assessments of one conversation, newest first."""
        rows = self.conn.execute(
            "SELECT id, started_at, finished_at, result, team_id FROM assessments"
            " WHERE platform = ? AND chat_id = ? AND user_id = ? AND finished_at IS NOT NULL"
            " ORDER BY finished_at DESC, id DESC LIMIT ?",
            [platform, chat_id, user_id, limit],
        ).fetchall()
        return [AssessmentRecord(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    # Teams

    def create_team(
        self, platform: str, workspace: str, chat_id: str, name: str, code: str, starter_id: str, lang: str,
        at: str,
    ) -> int:
        cursor = self.conn.execute(
            "INSERT INTO teams (platform, workspace, chat_id, name, code, starter_id, lang, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?)",
            [platform, workspace, chat_id, name, code, starter_id, lang, at],
        )
        return _inserted(cursor)

    def code_taken(self, platform: str, code: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM teams WHERE platform = ? AND code = ?", [platform, code])
        return row.fetchone() is not None

    def team(self, team_id: int) -> TeamRecord | None:
        return self._team("id = ?", [team_id])

    def team_by_code(self, platform: str, workspace: str, code: str) -> TeamRecord | None:
        """A code holds only in the platform and workspace where its team was started."""
        return self._team("platform = ? AND workspace = ? AND code = ?", [platform, workspace, code])

    def create_invite(self, token: str, team_id: int, at: str, expires_at: str) -> None:
        self.conn.execute(
            "INSERT INTO invites (token, team_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            [token, team_id, at, expires_at],
        )

    def invite_for(self, team_id: int, valid_at: str) -> str | None:
        """The team's newest invite that is still valid at a moment, if any."""
        row = self.conn.execute(
            "SELECT token FROM invites WHERE team_id = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1",
            [team_id, valid_at],
        ).fetchone()
        return row[0] if row else None

    def invited_team(self, token: str, platform: str, now: str) -> TeamRecord | None:
        """The team an unexpired invite of this platform is for."""
        row = self.conn.execute(
            "SELECT i.team_id FROM invites i JOIN teams t ON t.id = i.team_id"
            " WHERE i.token = ? AND t.platform = ? AND i.expires_at > ?",
            [token, platform, now],
        ).fetchone()
        return self.team(row[0]) if row else None

    def record_wrong_code(self, platform: str, user_id: str, at: str) -> None:
        self.conn.execute("INSERT INTO wrong_codes (platform, user_id, at) VALUES (?, ?, ?)", [platform, user_id, at])

    def wrong_codes_since(self, platform: str, user_id: str, since: str) -> list[str]:
        """When a person typed a code that fits no team, oldest first, after a moment."""
        rows = self.conn.execute(
            "SELECT at FROM wrong_codes WHERE platform = ? AND user_id = ? AND at > ? ORDER BY at",
            [platform, user_id, since],
        )
        return [r[0] for r in rows.fetchall()]

    def prune_wrong_codes(self, before: str) -> None:
        self.conn.execute("DELETE FROM wrong_codes WHERE at < ?", [before])

    def open_team_at(self, platform: str, chat_id: str) -> TeamRecord | None:
        return self._team("platform = ? AND chat_id = ? AND status = 'open'", [platform, chat_id])

    def teams_at(self, platform: str, chat_id: str, limit: int = 2) -> list[TeamRecord]:
        """The newest teams of a place, newest first: the open one or the last closed ones."""
        return self._teams("platform = ? AND chat_id = ?", [platform, chat_id], limit)

    def closed_teams_at(
        self, platform: str, chat_id: str, limit: int = 2, min_participants: int = 0
    ) -> list[TeamRecord]:
        """A place's closed teams, newest first; with `min_participants`, only those that many took part in."""
        return self._teams(
            "platform = ? AND chat_id = ? AND status = 'closed'"
            " AND COALESCE(json_extract(result, '$.participants'), 0) >= ?",
            [platform, chat_id, min_participants], limit,
        )

    def _team(self, where: str, params: list) -> TeamRecord | None:
        found = self._teams(where, params, 1)
        return found[0] if found else None

    def _teams(self, where: str, params: list, limit: int) -> list[TeamRecord]:
        rows = self.conn.execute(
            "SELECT id, platform, chat_id, name, code, starter_id, lang, status, created_at, closed_at,"
            f" result, workspace FROM teams WHERE {where} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [
            TeamRecord(id_, platform, chat_id, name, code, starter_id, lang, status, created_at, closed_at,
                       json.loads(result) if result else None, workspace)
            for id_, platform, chat_id, name, code, starter_id, lang, status, created_at, closed_at, result, workspace
            in rows
        ]

    def add_member(self, team_id: int, platform: str, user_id: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO team_members (team_id, platform, user_id, joined_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (team_id, user_id) DO UPDATE SET left_at = NULL",
            [team_id, platform, user_id, at],
        )

    def remove_member(self, team_id: int, user_id: str, at: str) -> None:
        self.conn.execute(
            "UPDATE team_members SET left_at = ? WHERE team_id = ? AND user_id = ?", [at, team_id, user_id]
        )

    def is_member(self, team_id: int, user_id: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM team_members WHERE team_id = ? AND user_id = ? AND left_at IS NULL",
            [team_id, user_id],
        )
        return row.fetchone() is not None

    def members(self, team_id: int) -> list[Member]:
        """Current members in joining order, with whether each has finished: who, never what."""
        rows = self.conn.execute(
            "SELECT m.user_id, COALESCE(u.name, m.user_id),"
            " EXISTS (SELECT 1 FROM assessments a WHERE a.team_id = m.team_id AND a.user_id = m.user_id"
            "         AND a.finished_at IS NOT NULL)"
            " FROM team_members m LEFT JOIN users u ON u.platform = m.platform AND u.user_id = m.user_id"
            " WHERE m.team_id = ? AND m.left_at IS NULL ORDER BY m.joined_at, m.user_id",
            [team_id],
        ).fetchall()
        return [Member(r[0], r[1], bool(r[2])) for r in rows]

    def team_answers(self, team_id: int) -> list[tuple[str, dict[str, int]]]:
        """Each current member's answers from their latest finished assessment for the team."""
        rows = self.conn.execute(
            "SELECT a.user_id, a.id FROM assessments a JOIN team_members m"
            " ON m.team_id = a.team_id AND m.user_id = a.user_id AND m.left_at IS NULL"
            " WHERE a.team_id = ? AND a.finished_at IS NOT NULL"
            " AND a.id = (SELECT MAX(b.id) FROM assessments b WHERE b.team_id = a.team_id"
            "             AND b.user_id = a.user_id AND b.finished_at IS NOT NULL)"
            " ORDER BY a.user_id",
            [team_id],
        ).fetchall()
        return [(user_id, self.answers(assessment_id)) for user_id, assessment_id in rows]

    # Weekly tips: subscriptions, their deliveries (an outbox), champions

    def subscription_at(self, platform: str, chat_id: str) -> Subscription | None:
        found = self._subscriptions("platform = ? AND chat_id = ?", [platform, chat_id])
        return found[0] if found else None

    def active_subscriptions(self) -> list[Subscription]:
        return self._subscriptions("status = 'active'", [])

    def _subscriptions(self, where: str, params: list) -> list[Subscription]:
        rows = self.conn.execute(
            "SELECT id, platform, chat_id, lang, stage, weekday, at, zone, status, champion_id, created_at"
            f" FROM subscriptions WHERE {where} ORDER BY id",
            params,
        ).fetchall()
        return [Subscription(*r) for r in rows]

    def save_subscription(
        self, platform: str, chat_id: str, lang: str, stage: int | None, weekday: int, at: str, zone: str,
        champion_id: str, now: str,
    ) -> None:
        self.conn.execute(
            "INSERT INTO subscriptions (platform, chat_id, lang, stage, weekday, at, zone, status, champion_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)"
            " ON CONFLICT (platform, chat_id) DO UPDATE SET lang = excluded.lang, stage = excluded.stage,"
            " weekday = excluded.weekday, at = excluded.at, zone = excluded.zone, status = 'active',"
            " champion_id = excluded.champion_id",
            [platform, chat_id, lang, stage, weekday, at, zone, champion_id, now],
        )

    def set_subscription_status(self, subscription_id: int, status: str) -> None:
        self.conn.execute("UPDATE subscriptions SET status = ? WHERE id = ?", [status, subscription_id])

    def delivery(self, subscription_id: int, period: str) -> Delivery | None:
        found = self._deliveries("subscription_id = ? AND period = ?", [subscription_id, period], 1)
        return found[0] if found else None

    def deliveries(self, subscription_id: int, limit: int = 10) -> list[Delivery]:
        return self._deliveries("subscription_id = ?", [subscription_id], limit)

    def stale_claims(self, before: str) -> list[Delivery]:
        """Claimed and never marked sent: the process died in between, or is sending still."""
        return self._deliveries("status = 'claimed' AND claimed_at < ?", [before], 1000)

    def _deliveries(self, where: str, params: list, limit: int) -> list[Delivery]:
        rows = self.conn.execute(
            "SELECT subscription_id, period, tip_id, status, due_at, claimed_at, sent_at, late FROM deliveries"
            f" WHERE {where} ORDER BY due_at DESC LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [
            Delivery(subscription_id, period, tip_id, status, due_at, claimed_at, sent_at, bool(late))
            for subscription_id, period, tip_id, status, due_at, claimed_at, sent_at, late in rows
        ]

    def claim_delivery(
        self, subscription_id: int, period: str, tip_id: str | None, status: str, due_at: str, now: str, late: bool
    ) -> bool:
        """Claims a week's delivery before it is sent; False when someone claimed it already."""
        cursor = self.conn.execute(
            "INSERT INTO deliveries (subscription_id, period, tip_id, status, due_at, claimed_at, late)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [subscription_id, period, tip_id, status, due_at, now, int(late)],
        )
        return cursor.rowcount == 1

    def reclaim_delivery(self, subscription_id: int, period: str, now: str) -> None:
        self.conn.execute(
            "UPDATE deliveries SET claimed_at = ? WHERE subscription_id = ? AND period = ?",
            [now, subscription_id, period],
        )

    def finish_delivery(self, subscription_id: int, period: str, status: str, now: str,
                        message_id: str | None = None) -> None:
        self.conn.execute(
            "UPDATE deliveries SET status = ?, sent_at = ?, message_id = ? WHERE subscription_id = ? AND period = ?",
            [status, now, message_id, subscription_id, period],
        )

    def release_delivery(self, subscription_id: int, period: str) -> None:
        """A send that failed for a passing reason: the next tick tries the week again."""
        self.conn.execute(
            "DELETE FROM deliveries WHERE subscription_id = ? AND period = ? AND status = 'claimed'",
            [subscription_id, period],
        )

    def is_champion(self, platform: str, scope: str, user_id: str) -> bool:
        """Whether someone is a champion where a chat's rights hold (its Slack workspace, its group)."""
        row = self.conn.execute(
            "SELECT 1 FROM champions WHERE platform = ? AND scope = ? AND user_id = ?", [platform, scope, user_id]
        )
        return row.fetchone() is not None

    def add_champion(self, platform: str, scope: str, user_id: str, added_by: str, now: str) -> None:
        self.conn.execute(
            "INSERT INTO champions (platform, scope, user_id, added_by, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [platform, scope, user_id, added_by, now],
        )

    # Exports: finished results only, no message texts, no names

    def export_assessments(self, team_code: str | None, since: str | None, until: str | None) -> list[dict]:
        """Finished assessments with the team each was made for (`team_id`, for the caller to check)."""
        rows = self.conn.execute(
            "SELECT a.platform, a.user_id, a.id, t.code, a.started_at, a.finished_at, a.result, a.team_id"
            " FROM assessments a LEFT JOIN teams t ON t.id = a.team_id"
            " WHERE a.finished_at IS NOT NULL AND (? IS NULL OR t.code = ?)"
            " AND (? IS NULL OR a.finished_at >= ?) AND (? IS NULL OR a.finished_at < ?)"
            " ORDER BY a.finished_at, a.id",
            [team_code, team_code, since, since, until, until],
        ).fetchall()
        keys = ("platform", "user_id", "assessment_id", "team_code", "started_at", "finished_at")
        return [dict(zip(keys, r[:6], strict=True)) | {"result": json.loads(r[6]), "team_id": r[7]} for r in rows]

    def export_teams(self, team_code: str | None, since: str | None, until: str | None) -> list[dict]:
        rows = self.conn.execute(
            "SELECT platform, code, name, chat_id, created_at, closed_at, result FROM teams"
            " WHERE status = 'closed' AND (? IS NULL OR code = ?)"
            " AND (? IS NULL OR closed_at >= ?) AND (? IS NULL OR closed_at < ?) ORDER BY closed_at, id",
            [team_code, team_code, since, since, until, until],
        ).fetchall()
        keys = ("platform", "team_code", "team_name", "place", "created_at", "closed_at")
        return [dict(zip(keys, r[:6], strict=True)) | {"result": json.loads(r[6])} for r in rows]

    def close_team(self, team_id: int, stage: int | None, result: dict, at: str) -> None:
        self.conn.execute(
            "UPDATE teams SET status = 'closed', closed_at = ?, stage = ?, result = ? WHERE id = ?",
            [at, stage, json.dumps(result), team_id],
        )

    # Settings shared by every instance

    def secret(self, name: str) -> str:
        """A random secret, made by the first instance that asks and then the same for all."""
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [name, secrets.token_urlsafe(32)],
        )
        value: str = self.conn.execute("SELECT value FROM settings WHERE key = ?", [name]).fetchone()[0]
        return value

    # Parts of a transaction, re-planned weeks, what the content must still hold, export checks

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the current transaction that may fail alone: on an error only it is undone."""
        with self.db.atomic():
            yield

    def reopen_week(self, subscription_id: int, period: str) -> None:
        """Forgets a week's delivery that never went out (skipped, or lost with a channel), so that
        a changed schedule plans the week again; a sent or claimed tip stays as it is."""
        self.conn.execute(
            "DELETE FROM deliveries WHERE subscription_id = ? AND period = ? AND status NOT IN ('sent', 'claimed')",
            [subscription_id, period],
        )

    def stored_content_ids(self) -> dict[str, set[str]]:
        """Every content id the database refers to, by kind: tips, questions, roadmap items and
        dimensions, from feedback, deliveries, conversations, answers and stored results."""
        def ids(*queries: str) -> set[str]:
            return {r[0] for q in queries for r in self.conn.execute(q).fetchall() if r[0]}

        results = [("assessments", "result"), ("teams", "result")]
        return {
            "tip": ids("SELECT tip_id FROM tip_feedback", "SELECT tip_id FROM deliveries",
                       "SELECT tip_id FROM conversations"),
            "question": ids("SELECT question_id FROM answers",
                            *(f"SELECT j.key FROM {t}, json_each({t}.{c}, '$.answers') j WHERE json_valid({t}.{c})"
                              for t, c in results),
                            *(f"SELECT j.value FROM {t}, json_each({t}.{c}, '$.held_by') j WHERE json_valid({t}.{c})"
                              for t, c in results)),
            "roadmap": ids("SELECT item_id FROM roadmap"),
            "dimension": ids(
                *(f"SELECT j.key FROM {t}, json_each({t}.{c}, '$.dimensions') j WHERE json_valid({t}.{c})"
                  for t, c in results),
                *(f"SELECT j.key FROM {t}, json_each({t}.{c}, '$.spreads') j WHERE json_valid({t}.{c})"
                  for t, c in results)) | self._focus_dimensions(),
        }

    def _focus_dimensions(self) -> set[str]:
        rows = self.conn.execute("SELECT coach_focus FROM conversations WHERE coach_focus != ''").fetchall()
        return {part.split("=", 1)[0] for (focus,) in rows for part in focus.split(",") if "=" in part}

    def team_code_exists(self, code: str) -> bool:
        """Whether any team, on any platform, has this join code (an export's --team)."""
        return self.conn.execute("SELECT 1 FROM teams WHERE code = ? LIMIT 1", [code]).fetchone() is not None

    # Installations: a platform's tokens per workspace ("" for an enterprise or team it has none of)

    def save_installation(self, platform: str, enterprise_id: str, team_id: str, bot: str, at: str) -> None:
        self.conn.execute(
            "INSERT INTO installations (platform, enterprise_id, team_id, bot, installed_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (platform, enterprise_id, team_id) DO UPDATE SET bot = excluded.bot,"
            " installed_at = excluded.installed_at",
            [platform, enterprise_id, team_id, bot, at],
        )

    def installation(self, platform: str, enterprise_id: str, team_id: str) -> str | None:
        return self._first(str, "SELECT bot FROM installations WHERE platform = ? AND enterprise_id = ?"
                           " AND team_id = ?", [platform, enterprise_id, team_id])

    def delete_installation(self, platform: str, enterprise_id: str, team_id: str) -> None:
        self.conn.execute(
            "DELETE FROM installations WHERE platform = ? AND enterprise_id = ? AND team_id = ?",
            [platform, enterprise_id, team_id],
        )

    def issue_oauth_state(self, state: str, expires_at: str, now: str) -> None:
        """Keeps a state an install link carries until it expires; expired ones go."""
        self.conn.execute("DELETE FROM oauth_states WHERE expires_at <= ?", [now])
        self.conn.execute("INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)", [state, expires_at])

    def consume_oauth_state(self, state: str, now: str) -> bool:
        """Whether a state was issued and has not expired; it is good once."""
        cursor = self.conn.execute("DELETE FROM oauth_states WHERE state = ? AND expires_at > ?", [state, now])
        return cursor.rowcount == 1

    def scope_ids(self, platform: str, prefix: str) -> None:
        """Puts `prefix` in front of every id of a platform's people and chats that has none yet:
        ids kept before they were namespaced by workspace ("C123" becomes "T1:C123")."""
        columns = {
            "users": ("user_id",), "conversations": ("chat_id", "user_id"), "assessments": ("chat_id", "user_id"),
            "team_members": ("user_id",), "teams": ("chat_id", "starter_id"),
            "subscriptions": ("chat_id", "champion_id"), "champions": ("user_id", "added_by"),
            "events": ("user_id", "chat_id"), "inbox": ("user_id",), "tip_feedback": ("chat_id", "user_id"),
            "roadmap": ("chat_id", "user_id"), "wrong_codes": ("user_id",), "posted_messages": ("chat_id",),
        }
        for table, names in columns.items():
            for name in names:
                self.conn.execute(
                    f"UPDATE OR IGNORE {table} SET {name} = ? || {name} WHERE platform = ? AND {name} != ''"
                    f" AND instr({name}, ':') = 0",
                    [prefix, platform],
                )


def _like(text: str) -> str:
    """Text to find literally with LIKE … ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _inserted(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just added."""
    assert cursor.lastrowid is not None
    return cursor.lastrowid


class Transaction:
    """Store.transaction's context manager: a plain class, as it runs twice for every message."""

    __slots__ = ("durable", "nested", "relaxed", "store")

    def __init__(self, store: Store, durable: bool) -> None:
        self.store, self.durable = store, durable
        self.relaxed = False
        self.nested: AbstractContextManager[Any] | None = None

    def __enter__(self) -> None:
        store = self.store
        conn = store.conn
        if conn.in_transaction:
            self.nested = store.db.atomic()  # a savepoint
            self.nested.__enter__()
            return
        self.relaxed = not self.durable and store.synchronous.upper() in ("FULL", "EXTRA")
        if self.relaxed:
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._restore()
            raise

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        if self.nested is not None:
            self.nested.__exit__(kind, error, trace)
            return
        conn = self.store.conn
        try:
            if kind is None:
                conn.commit()
            else:
                conn.rollback()
        finally:
            self._restore()

    def _restore(self) -> None:
        if self.relaxed:
            self.store.conn.execute(f"PRAGMA synchronous={self.store.synchronous}")
