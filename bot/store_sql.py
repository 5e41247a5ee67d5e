"""The queries both stores share: SQL that SQLite and PostgreSQL read alike.

Queries are written with `?` placeholders; a backend runs them through `_run`, which turns its
driver's errors into StorageError. What the two cannot share (connections, transactions,
locks, a few statements) lives in `store_sqlite` and `store_postgres`.
"""
from __future__ import annotations

import functools
import json
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any, ClassVar, Protocol, TypeVar, cast

import orjson

from .store import (
    AssessmentRecord,
    ConversationRow,
    Delivery,
    Member,
    StoredEvent,
    Subscription,
    TeamRecord,
    Undelivered,
)

T = TypeVar("T")

_CONVERSATION_FIELDS = (
    "state", "assessment_id", "cursor", "tip_id", "coach_stage", "coach_focus", "quick", "team_id", "last_key",
)

_SAVED_FIELDS = ("platform", "chat_id", "user_id", *_CONVERSATION_FIELDS)


@functools.cache
def _upsert(table: str, columns: tuple[str, ...], key: tuple[str, ...], update: tuple[str, ...] = ()) -> str:
    """An INSERT of `columns` that, for a row whose `key` is there already, sets `update` (by
    default every other column) instead; made once per shape."""
    changed = update or tuple(c for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in changed))


@functools.cache
def _select(table: str, column: str, key: tuple[str, ...]) -> str:
    """A SELECT of one column of the row a key names; made once per shape."""
    return f"SELECT {column} FROM {table} WHERE " + " AND ".join(f"{name} = ?" for name in key)


_SAVE_CONVERSATION = _upsert("conversations", (*_SAVED_FIELDS, "updated_at"), ("platform", "chat_id", "user_id"))

_MARK_DELIVERED = "UPDATE events SET delivered_at = ?, replies = '[]' WHERE key = ? AND (owner IS NULL OR owner = ?)"


class Rows(Protocol):
    """What a query gives back, alike in sqlite3 and psycopg."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


def migrations(words: dict[str, str]) -> list[tuple[int, str, list[str]]]:
    """(version, name, statements) of every schema change, oldest first: the files in
    bot/migrations, named `NNNN_what.sql`, one statement per `;` at a line's end, with a
    backend's `words` put in for their {placeholders}."""
    found = []
    for entry in resources.files("bot.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            lines = [line for line in entry.read_text("utf-8").splitlines() if not line.startswith("--")]
            text = "\n".join(lines).format_map(words)
            found.append((int(number), name, [part.strip() for part in text.split(";\n") if part.strip()]))
    return sorted(found)


class SQLStore(ABC):
    """Every query Stagecoach makes, over what a backend gives: `_run` and `_many` for
    statements, `_begin` and `_end` for transactions."""

    # What a backend puts in the migrations' placeholders: an id the database hands out, and
    # the order rows came in (SQLite's rowid comes with every table).
    SCHEMA_WORDS: ClassVar[dict[str, str]] = {"id": "INTEGER PRIMARY KEY", "arrival": ""}
    UPDATE_OR_IGNORE = "UPDATE OR IGNORE"  # an UPDATE that skips rows it would make duplicates of
    SKIP_LOCKED = ""  # what makes a claiming SELECT pass over rows another instance is claiming

    @abstractmethod
    def _run(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        ...

    @abstractmethod
    def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        ...

    def transaction(self, durable: bool = True) -> Transaction:
        """One event, one transaction: everything it changed is committed or nothing is; a nested
        one is a savepoint of the transaction around it.

        A transaction that is not `durable` commits without waiting for the disk: it survives the
        process dying, and the next durable commit takes it to the disk; only the machine failing
        first can lose it."""
        return Transaction(self, durable)

    @abstractmethod
    def _in_transaction(self) -> bool:
        ...

    @abstractmethod
    def _begin(self, durable: bool) -> None:
        ...

    @abstractmethod
    def _end(self, commit: bool) -> None:
        """Commits (or rolls back) the transaction in hand."""

    def _migrate(self) -> None:
        """Applies, in one transaction, every migration the database has not had yet."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self.transaction():
            self._lock_schema()
            self._run("CREATE TABLE IF NOT EXISTS schema_migrations"
                      " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            applied = {row[0] for row in self._run("SELECT version FROM schema_migrations").fetchall()}
            for version, name, statements in migrations(self.SCHEMA_WORDS):
                if version in applied:
                    continue
                self._before_migration(version)
                for statement in statements:
                    self._run(statement)
                self._run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                          [version, name, now])

    @abstractmethod
    def _lock_schema(self) -> None:
        """Keeps other instances starting at the same time out of the migrations."""

    @abstractmethod
    def _before_migration(self, version: int) -> None:
        """What a backend does to a database before a migration (an old file's own steps)."""

    @abstractmethod
    def lock_conversation(self, platform: str, chat_id: str, user_id: str) -> None:
        """Holds one conversation's other events back until this transaction ends."""

    @abstractmethod
    def lock_team(self, team_id: int) -> None:
        """Holds a team's other members' changes back until this transaction ends."""

    def commit_delivered(self, key: str, at: str, owner: str) -> None:
        """mark_delivered in a commit of its own that does not wait for the disk. On SQLite it is
        on the store's own connection, not another: a write by another connection empties this
        one's page cache at its next transaction, and every page of the next update is read again."""
        with self.transaction(durable=False):
            self.mark_delivered(key, at, owner)

    def savepoint(self) -> Transaction:
        """A part of the current transaction that may fail alone: on an error only it is undone."""
        assert self._in_transaction(), "a savepoint is part of a transaction"
        return Transaction(self, durable=True)

    # Events: idempotency

    def stored_event(self, key: str) -> StoredEvent | None:
        """A handled event's replies (none once delivered) and who hands them out."""
        row = self._run("SELECT replies, delivered_at, owner, claimed_at FROM events WHERE key = ?", [key]).fetchone()
        if row is None:
            return None
        return StoredEvent([] if row[1] else json.loads(row[0]), bool(row[1]), row[2], row[3])

    def claim_event(self, key: str, owner: str, was: str | None, at: str) -> bool:
        """Takes over handing out an event's replies from `was`; False when someone else took
        them over first (or they were delivered meanwhile)."""
        return self._run(
            "UPDATE events SET owner = ?, claimed_at = ? WHERE key = ? AND delivered_at IS NULL"
            " AND owner IS NOT DISTINCT FROM ?",
            [owner, at, key, was],
        ).rowcount == 1

    def mark_delivered(self, key: str, at: str, owner: str) -> None:
        """Delivered replies are never sent again, so their text (which may name people) goes.
        Only their owner marks them: another process that got the update again sent nothing,
        and its mark would keep the owner's restart from sending them if it died first."""
        self._run(_MARK_DELIVERED, [at, key, owner])

    def _value(self, kind: type[T], table: str, column: str, **key: Any) -> T | None:
        """One column (of type `kind`) of the row a key names; None when there is no such row."""
        row = self._run(_select(table, column, tuple(key)), list(key.values())).fetchone()
        return cast(T, row[0]) if row else None

    # Messages an adapter posted and may update in place (a team's progress)

    def remember_message(self, platform: str, ref: str, chat_id: str, message_id: str, at: str) -> None:
        self._run(_upsert("posted_messages", ("platform", "ref", "chat_id", "message_id", "at"),
                          ("platform", "ref", "chat_id")), [platform, ref, chat_id, message_id, at])

    def posted_message(self, platform: str, ref: str, chat_id: str) -> str | None:
        """The message posted for `ref` (a team's progress) in a chat, to update in place."""
        return self._value(str, "posted_messages", "message_id", platform=platform, ref=ref, chat_id=chat_id)

    def remember_event(self, key: str, platform: str, user_id: str | None, chat_id: str | None, chat_type: str,
                       replies: list[dict], at: str, owner: str | None = None) -> None:
        """Keeps a handled event's key and replies; `owner` is who hands the replies out. A key
        stored already (by another instance, at the same moment) is a StorageError: the
        transaction that tried to handle the event twice is undone. Replies are stored for every
        message, so orjson encodes them: the same text as json.dumps(ensure_ascii=False) (a name
        is found in it as written), in a tenth of the time."""
        self._run(
            "INSERT INTO events (key, platform, user_id, chat_id, chat_type, replies, handled_at, owner, claimed_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [key, platform, user_id, chat_id, chat_type, orjson.dumps(replies).decode(), at, owner, at],
        )

    def undelivered(self, platform: str, since: str) -> list[Undelivered]:
        """Events handled since a moment whose replies were never marked delivered: the process
        that handled them stopped between saving and sending them, or is sending them now."""
        rows = self._run(
            "SELECT key, chat_id, chat_type, replies, owner, claimed_at FROM events WHERE platform = ?"
            " AND delivered_at IS NULL AND handled_at >= ? AND chat_id IS NOT NULL ORDER BY handled_at, rowid",
            [platform, since],
        ).fetchall()
        return [Undelivered(key, chat, kind, json.loads(replies), owner, claimed)
                for key, chat, kind, replies, owner, claimed in rows]

    # The inbox: updates stored before the platform is told they arrived

    def receive(self, platform: str, items: list[tuple[str, str | None, str]], at: str, by: str) -> None:
        """Stores (key, user id, payload) items that `by` received; one already stored or handled
        is left alone."""
        self._many(
            "INSERT INTO inbox (key, platform, user_id, payload, received_at, received_by) SELECT ?, ?, ?, ?, ?, ?"
            " WHERE NOT EXISTS (SELECT 1 FROM events WHERE key = ?) ON CONFLICT DO NOTHING",
            [(key, platform, user, payload, at, by, key) for key, user, payload in items],
        )

    def inbox(self, platform: str) -> list[tuple[str, str, str | None, str]]:
        """(key, payload, received by, received at) of the updates received and not yet handled,
        in the order they came."""
        rows = self._run("SELECT key, payload, received_by, received_at FROM inbox"
                         " WHERE platform = ? AND status = 'new' ORDER BY rowid", [platform])
        return [(key, payload, by, at) for key, payload, by, at in rows.fetchall()]

    def in_inbox(self, key: str) -> bool:
        return self._run("SELECT 1 FROM inbox WHERE key = ?", [key]).fetchone() is not None

    def inbox_done(self, key: str) -> None:
        self._run("DELETE FROM inbox WHERE key = ?", [key])

    def set_aside(self, key: str) -> None:
        """An update that cannot be read: kept for a look, never handed out again."""
        self._run("UPDATE inbox SET status = 'unreadable' WHERE key = ?", [key])

    def prune_events(self, before: str, limit: int) -> int:
        """Deletes at most `limit` keys of events handled before a moment, found by their index,
        so that no prune holds the write lock long; returns how many went."""
        return self._run(
            "DELETE FROM events WHERE key IN (SELECT key FROM events WHERE handled_at < ? LIMIT ?)",
            [before, limit],
        ).rowcount

    # Users

    def user_lang(self, platform: str, user_id: str) -> str | None:
        return self._value(str, "users", "lang", platform=platform, user_id=user_id)

    def set_user_lang(self, platform: str, user_id: str, lang: str, at: str) -> None:
        self._run(_upsert("users", ("platform", "user_id", "lang", "created_at"), ("platform", "user_id"), ("lang",)),
                  [platform, user_id, lang, at])

    def remember_name(self, platform: str, user_id: str, name: str, at: str) -> None:
        self._run(
            "INSERT INTO users (platform, user_id, name, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, user_id) DO UPDATE SET name = excluded.name"
            " WHERE users.name IS DISTINCT FROM excluded.name",
            [platform, user_id, name, at],
        )

    def forget_user(self, platform: str, user_id: str, private_chat: str) -> list[int]:
        """Deletes or clears every trace of one person on one platform, as PERSONAL lists them;
        `private_chat` is their one-to-one chat with the bot. Returns the teams they were in,
        whose progress messages still show their name."""
        who = [platform, user_id]
        name = self._run("SELECT name FROM users WHERE platform = ? AND user_id = ?", who).fetchone()
        if name and name[0]:
            # Other people's stored replies that name them (a team's progress), not yet delivered.
            self._run(
                r"UPDATE events SET replies = '[]' WHERE platform = ? AND replies LIKE ? ESCAPE '\'",
                [platform, "%" + _like(json.dumps(name[0], ensure_ascii=False)[1:-1]) + "%"],
            )
        teams = [r[0] for r in self._run(
            "SELECT team_id FROM team_members WHERE platform = ? AND user_id = ?", who).fetchall()]
        self._run(
            "DELETE FROM answers WHERE assessment_id IN"
            " (SELECT id FROM assessments WHERE platform = ? AND user_id = ?)",
            who,
        )
        own = self._run(
            "SELECT id FROM subscriptions WHERE platform = ? AND chat_id = ?", [platform, private_chat]).fetchall()
        for (subscription_id,) in own:
            self._run("DELETE FROM deliveries WHERE subscription_id = ?", [subscription_id])
            self._run("DELETE FROM subscriptions WHERE id = ?", [subscription_id])
        self._run("DELETE FROM tip_feedback WHERE platform = ? AND chat_id = ?", [platform, private_chat])
        for table in ("team_members", "assessments", "conversations", "tip_feedback", "roadmap", "events",
                      "champions", "wrong_codes", "inbox", "users"):
            self._run(f"DELETE FROM {table} WHERE platform = ? AND user_id = ?", who)
        self._run("UPDATE teams SET starter_id = '' WHERE platform = ? AND starter_id = ?", who)
        self._run("UPDATE subscriptions SET champion_id = '' WHERE platform = ? AND champion_id = ?", who)
        self._run("UPDATE champions SET added_by = '' WHERE platform = ? AND added_by = ?", who)
        return teams

    # Conversations

    def load_conversation(self, platform: str, chat_id: str, user_id: str) -> ConversationRow:
        row = self._run(
            f"SELECT {', '.join(_CONVERSATION_FIELDS)} FROM conversations"
            " WHERE platform = ? AND chat_id = ? AND user_id = ?",
            [platform, chat_id, user_id],
        ).fetchone()
        if row is None:
            return ConversationRow(platform, chat_id, user_id, new=True)
        return ConversationRow(platform, chat_id, user_id, *row)

    def save_conversation(self, row: ConversationRow, at: str) -> None:
        self._run(_SAVE_CONVERSATION, [getattr(row, f) for f in _SAVED_FIELDS] + [at])

    # Coaching: tip feedback and the roadmap

    def tip_statuses(self, platform: str, chat_id: str, user_id: str) -> dict[str, str]:
        rows = self._run(
            "SELECT tip_id, status FROM tip_feedback WHERE platform = ? AND chat_id = ? AND user_id = ?",
            [platform, chat_id, user_id],
        )
        return dict(rows.fetchall())

    def set_tip_status(self, platform: str, chat_id: str, user_id: str, tip_id: str, status: str, at: str) -> None:
        self._run(_upsert("tip_feedback", ("platform", "chat_id", "user_id", "tip_id", "status", "at"),
                          ("platform", "chat_id", "user_id", "tip_id")),
                  [platform, chat_id, user_id, tip_id, status, at])

    def clear_shown_tips(self, platform: str, chat_id: str, user_id: str, tip_ids: list[str]) -> None:
        """Starts a new round through a pool: tips only shown become new again; feedback stays."""
        if not tip_ids:
            return
        self._run(
            "DELETE FROM tip_feedback WHERE platform = ? AND chat_id = ? AND user_id = ? AND status = 'shown'"
            f" AND tip_id IN ({', '.join('?' * len(tip_ids))})",
            [platform, chat_id, user_id, *tip_ids],
        )

    def roadmap_done(self, platform: str, chat_id: str, user_id: str) -> set[str]:
        rows = self._run(
            "SELECT item_id FROM roadmap WHERE platform = ? AND chat_id = ? AND user_id = ?",
            [platform, chat_id, user_id],
        )
        return {r[0] for r in rows.fetchall()}

    def mark_roadmap_item(self, platform: str, chat_id: str, user_id: str, item_id: str, at: str) -> None:
        self._run(
            "INSERT INTO roadmap (platform, chat_id, user_id, item_id, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [platform, chat_id, user_id, item_id, at],
        )

    # Assessments and answers

    def start_assessment(
        self, platform: str, chat_id: str, user_id: str, at: str, team_id: int | None = None
    ) -> int:
        cursor = self._run(
            "INSERT INTO assessments (platform, chat_id, user_id, started_at, team_id) VALUES (?, ?, ?, ?, ?)"
            " RETURNING id",
            [platform, chat_id, user_id, at, team_id],
        )
        return cast(int, cursor.fetchone()[0])

    def assessment_team(self, assessment_id: int) -> int | None:
        return self._value(int, "assessments", "team_id", id=assessment_id)

    def suspend_assessment(self, assessment_id: int, position: int) -> None:
        """Keeps an unfinished assessment's place while the person answers another."""
        self._run("UPDATE assessments SET position = ? WHERE id = ?", [position, assessment_id])

    def unfinished_assessment(
        self, platform: str, chat_id: str, user_id: str, team_id: int | None
    ) -> tuple[int, int] | None:
        """(id, position) of the newest unfinished assessment of one person for one team (or none)."""
        row = self._run(
            "SELECT id, COALESCE(position, 0) FROM assessments WHERE platform = ? AND chat_id = ?"
            " AND user_id = ? AND team_id IS NOT DISTINCT FROM ? AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
            [platform, chat_id, user_id, team_id],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def discard_assessment(self, assessment_id: int) -> None:
        self._run("DELETE FROM answers WHERE assessment_id = ?", [assessment_id])
        self._run("DELETE FROM assessments WHERE id = ?", [assessment_id])

    def record_answer(self, assessment_id: int, question_id: str, value: int, at: str) -> None:
        self._run(_upsert("answers", ("assessment_id", "question_id", "value", "answered_at"),
                          ("assessment_id", "question_id")), [assessment_id, question_id, value, at])

    def answer(self, assessment_id: int, question_id: str) -> int | None:
        return self._value(int, "answers", "value", assessment_id=assessment_id, question_id=question_id)

    def answers(self, assessment_id: int) -> dict[str, int]:
        rows = self._run(
            "SELECT question_id, value FROM answers WHERE assessment_id = ?", [assessment_id]
        )
        return dict(rows.fetchall())

    def finish_assessment(self, assessment_id: int, stage: int | None, result: dict, at: str) -> None:
        self._run(
            "UPDATE assessments SET finished_at = ?, stage = ?, result = ? WHERE id = ?",
            [at, stage, json.dumps(result), assessment_id],
        )

    def finished_assessments(
        self, platform: str, chat_id: str, user_id: str, limit: int = 2
    ) -> list[AssessmentRecord]:
        """The newest finished assessments of one conversation, newest first."""
        rows = self._run(
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
        cursor = self._run(
            "INSERT INTO teams (platform, workspace, chat_id, name, code, starter_id, lang, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?) RETURNING id",
            [platform, workspace, chat_id, name, code, starter_id, lang, at],
        )
        return cast(int, cursor.fetchone()[0])

    def code_taken(self, platform: str, code: str) -> bool:
        row = self._run("SELECT 1 FROM teams WHERE platform = ? AND code = ?", [platform, code])
        return row.fetchone() is not None

    def team(self, team_id: int) -> TeamRecord | None:
        return self._team("id = ?", [team_id])

    def team_by_code(self, platform: str, workspace: str, code: str) -> TeamRecord | None:
        """A code holds only in the platform and workspace where its team was started."""
        return self._team("platform = ? AND workspace = ? AND code = ?", [platform, workspace, code])

    def create_invite(self, token: str, team_id: int, at: str, expires_at: str) -> None:
        self._run(
            "INSERT INTO invites (token, team_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            [token, team_id, at, expires_at],
        )

    def invite_for(self, team_id: int, valid_at: str) -> str | None:
        """The team's newest invite that is still valid at a moment, if any."""
        row = self._run(
            "SELECT token FROM invites WHERE team_id = ? AND expires_at > ? ORDER BY expires_at DESC LIMIT 1",
            [team_id, valid_at],
        ).fetchone()
        return row[0] if row else None

    def invited_team(self, token: str, platform: str, now: str) -> TeamRecord | None:
        """The team an unexpired invite of this platform is for."""
        row = self._run(
            "SELECT i.team_id FROM invites i JOIN teams t ON t.id = i.team_id"
            " WHERE i.token = ? AND t.platform = ? AND i.expires_at > ?",
            [token, platform, now],
        ).fetchone()
        return self.team(row[0]) if row else None

    def record_wrong_code(self, platform: str, user_id: str, at: str) -> None:
        self._run("INSERT INTO wrong_codes (platform, user_id, at) VALUES (?, ?, ?)", [platform, user_id, at])

    def wrong_codes_since(self, platform: str, user_id: str, since: str) -> list[str]:
        """When a person typed a code that fits no team, oldest first, after a moment."""
        rows = self._run(
            "SELECT at FROM wrong_codes WHERE platform = ? AND user_id = ? AND at > ? ORDER BY at",
            [platform, user_id, since],
        )
        return [r[0] for r in rows.fetchall()]

    def prune_wrong_codes(self, before: str) -> None:
        self._run("DELETE FROM wrong_codes WHERE at < ?", [before])

    def open_team_at(self, platform: str, chat_id: str) -> TeamRecord | None:
        return self._team("platform = ? AND chat_id = ? AND status = 'open'", [platform, chat_id])

    def teams_at(self, platform: str, chat_id: str, limit: int = 2) -> list[TeamRecord]:
        """The newest teams of a place, newest first: the open one or the last closed ones."""
        return self._teams("platform = ? AND chat_id = ?", [platform, chat_id], limit)

    def closed_teams_at(
        self, platform: str, chat_id: str, limit: int = 2, min_participants: int = 0
    ) -> list[TeamRecord]:
        """A place's closed teams, newest first; with `min_participants`, only those that many took part in."""
        closed = self._teams("platform = ? AND chat_id = ? AND status = 'closed'", [platform, chat_id], -1)
        return [t for t in closed if (t.result or {}).get("participants", 0) >= min_participants][:limit]

    def _team(self, where: str, params: list) -> TeamRecord | None:
        found = self._teams(where, params, 1)
        return found[0] if found else None

    def _teams(self, where: str, params: list, limit: int) -> list[TeamRecord]:
        """Teams that fit a condition, newest first; at most `limit` of them (-1: all)."""
        rows = self._run(
            "SELECT id, platform, chat_id, name, code, starter_id, lang, status, created_at, closed_at,"
            f" result, workspace FROM teams WHERE {where} ORDER BY id DESC" + (" LIMIT ?" if limit >= 0 else ""),
            [*params, limit] if limit >= 0 else params,
        ).fetchall()
        return [
            TeamRecord(id_, platform, chat_id, name, code, starter_id, lang, status, created_at, closed_at,
                       json.loads(result) if result else None, workspace)
            for id_, platform, chat_id, name, code, starter_id, lang, status, created_at, closed_at, result, workspace
            in rows
        ]

    def add_member(self, team_id: int, platform: str, user_id: str, at: str) -> None:
        self._run(
            "INSERT INTO team_members (team_id, platform, user_id, joined_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (team_id, user_id) DO UPDATE SET left_at = NULL",
            [team_id, platform, user_id, at],
        )

    def remove_member(self, team_id: int, user_id: str, at: str) -> None:
        self._run(
            "UPDATE team_members SET left_at = ? WHERE team_id = ? AND user_id = ?", [at, team_id, user_id]
        )

    def is_member(self, team_id: int, user_id: str) -> bool:
        row = self._run(
            "SELECT 1 FROM team_members WHERE team_id = ? AND user_id = ? AND left_at IS NULL",
            [team_id, user_id],
        )
        return row.fetchone() is not None

    def members(self, team_id: int) -> list[Member]:
        """Current members in joining order, with whether each has finished: who, never what."""
        rows = self._run(
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
        rows = self._run(
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

    def subscription(self, subscription_id: int) -> Subscription | None:
        found = self._subscriptions("id = ?", [subscription_id])
        return found[0] if found else None

    def active_subscriptions(self, claiming: bool = False) -> list[Subscription]:
        """The channels that get weekly tips; `claiming` locks them for this transaction and
        passes over those another instance's scheduler is planning right now."""
        return self._subscriptions("status = 'active'", [], self.SKIP_LOCKED if claiming else "")

    def _subscriptions(self, where: str, params: list, lock: str = "") -> list[Subscription]:
        rows = self._run(
            "SELECT id, platform, chat_id, lang, stage, weekday, at, zone, status, champion_id, created_at"
            f" FROM subscriptions WHERE {where} ORDER BY id{lock}",
            params,
        ).fetchall()
        return [Subscription(*r) for r in rows]

    def save_subscription(
        self, platform: str, chat_id: str, lang: str, stage: int | None, weekday: int, at: str, zone: str,
        champion_id: str, now: str,
    ) -> None:
        self._run(
            "INSERT INTO subscriptions (platform, chat_id, lang, stage, weekday, at, zone, status, champion_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)"
            " ON CONFLICT (platform, chat_id) DO UPDATE SET lang = excluded.lang, stage = excluded.stage,"
            " weekday = excluded.weekday, at = excluded.at, zone = excluded.zone, status = 'active',"
            " champion_id = excluded.champion_id",
            [platform, chat_id, lang, stage, weekday, at, zone, champion_id, now],
        )

    def set_subscription_status(self, subscription_id: int, status: str) -> None:
        self._run("UPDATE subscriptions SET status = ? WHERE id = ?", [status, subscription_id])

    def delivery(self, subscription_id: int, period: str) -> Delivery | None:
        found = self._deliveries("subscription_id = ? AND period = ?", [subscription_id, period], 1)
        return found[0] if found else None

    def deliveries(self, subscription_id: int, limit: int = 10) -> list[Delivery]:
        return self._deliveries("subscription_id = ?", [subscription_id], limit)

    def stale_claims(self, before: str) -> list[Delivery]:
        """Claimed and never marked sent: the process died in between, or is sending still.
        They are locked for this transaction; those another scheduler holds are passed over."""
        return self._deliveries("status = 'claimed' AND claimed_at < ?", [before], 1000, self.SKIP_LOCKED)

    def _deliveries(self, where: str, params: list, limit: int, lock: str = "") -> list[Delivery]:
        rows = self._run(
            "SELECT subscription_id, period, tip_id, status, due_at, claimed_at, sent_at, late FROM deliveries"
            f" WHERE {where} ORDER BY due_at DESC LIMIT ?{lock}",
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
        cursor = self._run(
            "INSERT INTO deliveries (subscription_id, period, tip_id, status, due_at, claimed_at, late)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [subscription_id, period, tip_id, status, due_at, now, int(late)],
        )
        return cursor.rowcount == 1

    def reclaim_delivery(self, subscription_id: int, period: str, now: str) -> None:
        self._run(
            "UPDATE deliveries SET claimed_at = ? WHERE subscription_id = ? AND period = ?",
            [now, subscription_id, period],
        )

    def finish_delivery(self, subscription_id: int, period: str, status: str, now: str,
                        message_id: str | None = None) -> None:
        self._run(
            "UPDATE deliveries SET status = ?, sent_at = ?, message_id = ? WHERE subscription_id = ? AND period = ?",
            [status, now, message_id, subscription_id, period],
        )

    def release_delivery(self, subscription_id: int, period: str) -> None:
        """A send that failed for a passing reason: the next tick tries the week again."""
        self._run(
            "DELETE FROM deliveries WHERE subscription_id = ? AND period = ? AND status = 'claimed'",
            [subscription_id, period],
        )

    def is_champion(self, platform: str, scope: str, user_id: str) -> bool:
        """Whether someone is a champion where a chat's rights hold (its Slack workspace, its group)."""
        row = self._run(
            "SELECT 1 FROM champions WHERE platform = ? AND scope = ? AND user_id = ?", [platform, scope, user_id]
        )
        return row.fetchone() is not None

    def add_champion(self, platform: str, scope: str, user_id: str, added_by: str, now: str) -> None:
        self._run(
            "INSERT INTO champions (platform, scope, user_id, added_by, at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [platform, scope, user_id, added_by, now],
        )

    # Exports: finished results only, no message texts, no names

    def export_assessments(self, team_code: str | None, since: str | None, until: str | None) -> list[dict]:
        """Finished assessments with the team each was made for (`team_id`, for the caller to check)."""
        where, params = _filters(("t.code = ?", team_code), ("a.finished_at >= ?", since), ("a.finished_at < ?", until))
        rows = self._run(
            "SELECT a.platform, a.user_id, a.id, t.code, a.started_at, a.finished_at, a.result, a.team_id"
            " FROM assessments a LEFT JOIN teams t ON t.id = a.team_id"
            f" WHERE a.finished_at IS NOT NULL{where} ORDER BY a.finished_at, a.id",
            params,
        ).fetchall()
        keys = ("platform", "user_id", "assessment_id", "team_code", "started_at", "finished_at")
        return [dict(zip(keys, r[:6], strict=True)) | {"result": json.loads(r[6]), "team_id": r[7]} for r in rows]

    def export_teams(self, team_code: str | None, since: str | None, until: str | None) -> list[dict]:
        where, params = _filters(("code = ?", team_code), ("closed_at >= ?", since), ("closed_at < ?", until))
        rows = self._run(
            "SELECT platform, code, name, chat_id, created_at, closed_at, result FROM teams"
            f" WHERE status = 'closed'{where} ORDER BY closed_at, id",
            params,
        ).fetchall()
        keys = ("platform", "team_code", "team_name", "place", "created_at", "closed_at")
        return [dict(zip(keys, r[:6], strict=True)) | {"result": json.loads(r[6])} for r in rows]

    def close_team(self, team_id: int, stage: int | None, result: dict, at: str) -> None:
        self._run(
            "UPDATE teams SET status = 'closed', closed_at = ?, stage = ?, result = ? WHERE id = ?",
            [at, stage, json.dumps(result), team_id],
        )

    # Settings shared by every instance

    def secret(self, name: str) -> str:
        """A random secret, made by the first instance that asks and then the same for all."""
        self._run(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [name, secrets.token_urlsafe(32)],
        )
        value: str = self._run("SELECT value FROM settings WHERE key = ?", [name]).fetchone()[0]
        return value

    # Parts of a transaction, re-planned weeks, what the content must still hold, export checks

    def reopen_week(self, subscription_id: int, period: str) -> None:
        """Forgets a week's delivery that never went out (skipped, or lost with a channel), so that
        a changed schedule plans the week again; a sent or claimed tip stays as it is."""
        self._run(
            "DELETE FROM deliveries WHERE subscription_id = ? AND period = ? AND status NOT IN ('sent', 'claimed')",
            [subscription_id, period],
        )

    def stored_content_ids(self) -> dict[str, set[str]]:
        """Every content id the database refers to, by kind: tips, questions, roadmap items and
        dimensions, from feedback, deliveries, conversations, answers and stored results."""
        def ids(*queries: str) -> set[str]:
            return {r[0] for q in queries for r in self._run(q).fetchall() if r[0]}

        results = [_parsed(text) for q in ("SELECT result FROM assessments", "SELECT result FROM teams")
                   for (text,) in self._run(q).fetchall()]

        def found(part: str) -> set[str]:
            """The keys of an object, or the items of a list, that results hold under `part`."""
            return {str(v) for r in results if isinstance(r.get(part), dict | list) for v in r[part] if v}

        return {
            "tip": ids("SELECT tip_id FROM tip_feedback", "SELECT tip_id FROM deliveries",
                       "SELECT tip_id FROM conversations"),
            "question": ids("SELECT question_id FROM answers") | found("answers") | found("held_by"),
            "roadmap": ids("SELECT item_id FROM roadmap"),
            "dimension": found("dimensions") | found("spreads") | self._focus_dimensions(),
        }

    def _focus_dimensions(self) -> set[str]:
        rows = self._run("SELECT coach_focus FROM conversations WHERE coach_focus != ''").fetchall()
        return {part.split("=", 1)[0] for (focus,) in rows for part in focus.split(",") if "=" in part}

    def team_code_exists(self, code: str) -> bool:
        """Whether any team, on any platform, has this join code (an export's --team)."""
        return self._run("SELECT 1 FROM teams WHERE code = ? LIMIT 1", [code]).fetchone() is not None

    # Installations: a platform's tokens per workspace ("" for an enterprise or team it has none of)

    def save_installation(self, platform: str, enterprise_id: str, team_id: str, bot: str, at: str) -> None:
        self._run(_upsert("installations", ("platform", "enterprise_id", "team_id", "bot", "installed_at"),
                          ("platform", "enterprise_id", "team_id")), [platform, enterprise_id, team_id, bot, at])

    def installation(self, platform: str, enterprise_id: str, team_id: str) -> str | None:
        """A workspace's bot (JSON: its token and ids); None when it is not installed there."""
        return self._value(str, "installations", "bot", platform=platform, enterprise_id=enterprise_id,
                           team_id=team_id)

    def delete_installation(self, platform: str, enterprise_id: str, team_id: str) -> None:
        self._run(
            "DELETE FROM installations WHERE platform = ? AND enterprise_id = ? AND team_id = ?",
            [platform, enterprise_id, team_id],
        )

    def issue_oauth_state(self, state: str, expires_at: str, now: str) -> None:
        """Keeps a state an install link carries until it expires; expired ones go."""
        self._run("DELETE FROM oauth_states WHERE expires_at <= ?", [now])
        self._run("INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)", [state, expires_at])

    def consume_oauth_state(self, state: str, now: str) -> bool:
        """Whether a state was issued and has not expired; it is good once."""
        cursor = self._run("DELETE FROM oauth_states WHERE state = ? AND expires_at > ?", [state, now])
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
                self._run(
                    f"{self.UPDATE_OR_IGNORE} {table} SET {name} = ? || {name} WHERE platform = ? AND {name} != ''"
                    f" AND {name} NOT LIKE '%:%'",
                    [prefix, platform],
                )


def _like(text: str) -> str:
    """Text to find literally with LIKE … ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _parsed(text: str | None) -> dict:
    """A stored result as a dict; an empty one for a missing or damaged one."""
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _filters(*conditions: tuple[str, str | None]) -> tuple[str, list[str]]:
    """The conditions whose value is given, as " AND …" and their parameters."""
    given = [(sql, value) for sql, value in conditions if value is not None]
    return "".join(f" AND {sql}" for sql, _ in given), [value for _, value in given]


class Transaction:
    """SQLStore.transaction's context manager: a plain class, as it runs twice for every message."""

    __slots__ = ("durable", "nested", "store")

    def __init__(self, store: SQLStore, durable: bool) -> None:
        self.store, self.durable, self.nested = store, durable, False

    def __enter__(self) -> None:
        store = self.store
        if store._in_transaction():
            self.nested = True
            store._run("SAVEPOINT nested")
        else:
            store._begin(self.durable)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        store = self.store
        if not self.nested:
            store._end(commit=kind is None)
            return
        if kind is not None:
            store._run("ROLLBACK TO SAVEPOINT nested")
        store._run("RELEASE SAVEPOINT nested")
