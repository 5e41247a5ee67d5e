"""Every query Stagecoach makes, behind one small class over SQLite (WAL).

Kept deliberately narrow so that a PostgreSQL store for several instances can follow with the
same methods. A Store belongs to the thread that opened it (sqlite3 connections are bound to it).
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

SCHEMA_VERSION = 1


@dataclass
class ConversationRow:
    platform: str
    chat_id: str
    user_id: str
    state: str = "idle"
    assessment_id: int | None = None
    cursor: int = 0


@dataclass(frozen=True)
class AssessmentRecord:
    id: int
    started_at: str
    finished_at: str | None
    result: dict | None


class Store:
    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        conn = sqlite3.connect(str(path), timeout=5.0)
        self.db = sqlite_utils.Database(conn)
        if str(path) != ":memory:":
            self.db.enable_wal()
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._create_schema()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One event, one transaction: everything it changed is committed or nothing is."""
        with self.db.atomic():
            yield

    def _create_schema(self) -> None:
        db = self.db
        with db.atomic():
            db["users"].create(
                {"platform": str, "user_id": str, "lang": str, "created_at": str},
                pk=("platform", "user_id"),
                not_null={"platform", "user_id", "created_at"},
                if_not_exists=True,
            )
            db["conversations"].create(
                {
                    "platform": str,
                    "chat_id": str,
                    "user_id": str,
                    "state": str,
                    "assessment_id": int,
                    "cursor": int,
                    "updated_at": str,
                },
                pk=("platform", "chat_id", "user_id"),
                not_null={"platform", "chat_id", "user_id", "state", "cursor"},
                if_not_exists=True,
            )
            db["assessments"].create(
                {
                    "id": int,
                    "platform": str,
                    "chat_id": str,
                    "user_id": str,
                    "started_at": str,
                    "finished_at": str,
                    "stage": int,
                    "result": str,
                },
                pk="id",
                not_null={"platform", "chat_id", "user_id", "started_at"},
                if_not_exists=True,
            )
            db["answers"].create(
                {"assessment_id": int, "question_id": str, "value": int, "answered_at": str},
                pk=("assessment_id", "question_id"),
                foreign_keys=[("assessment_id", "assessments", "id")],
                if_not_exists=True,
            )
            db["events"].create(
                {"key": str, "platform": str, "user_id": str, "replies": str, "handled_at": str},
                pk="key",
                if_not_exists=True,
            )
            db["assessments"].create_index(
                ["platform", "chat_id", "user_id", "finished_at"], if_not_exists=True
            )
            db["events"].create_index(["platform", "user_id"], if_not_exists=True)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # Events: idempotency

    def replies_for_event(self, key: str) -> list[dict] | None:
        row = self.db.execute("SELECT replies FROM events WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else None

    def remember_event(self, key: str, platform: str, user_id: str, replies: list[dict], at: str) -> None:
        self.db.execute(
            "INSERT INTO events (key, platform, user_id, replies, handled_at) VALUES (?, ?, ?, ?, ?)",
            [key, platform, user_id, json.dumps(replies, ensure_ascii=False), at],
        )

    def prune_events(self, before: str) -> int:
        return self.db.execute("DELETE FROM events WHERE handled_at < ?", [before]).rowcount

    # Users

    def user_lang(self, platform: str, user_id: str) -> str | None:
        row = self.db.execute(
            "SELECT lang FROM users WHERE platform = ? AND user_id = ?", [platform, user_id]
        ).fetchone()
        return row[0] if row else None

    def set_user_lang(self, platform: str, user_id: str, lang: str, at: str) -> None:
        self.db.execute(
            "INSERT INTO users (platform, user_id, lang, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (platform, user_id) DO UPDATE SET lang = excluded.lang",
            [platform, user_id, lang, at],
        )

    def forget_user(self, platform: str, user_id: str) -> None:
        """Deletes everything Stagecoach holds about one person on one platform."""
        who = [platform, user_id]
        self.db.execute(
            "DELETE FROM answers WHERE assessment_id IN"
            " (SELECT id FROM assessments WHERE platform = ? AND user_id = ?)",
            who,
        )
        for table in ("assessments", "conversations", "events", "users"):
            self.db.execute(f"DELETE FROM {table} WHERE platform = ? AND user_id = ?", who)

    # Conversations

    def load_conversation(self, platform: str, chat_id: str, user_id: str) -> ConversationRow:
        row = self.db.execute(
            "SELECT state, assessment_id, cursor FROM conversations"
            " WHERE platform = ? AND chat_id = ? AND user_id = ?",
            [platform, chat_id, user_id],
        ).fetchone()
        if row is None:
            return ConversationRow(platform, chat_id, user_id)
        return ConversationRow(platform, chat_id, user_id, row[0], row[1], row[2])

    def save_conversation(self, row: ConversationRow, at: str) -> None:
        self.db.execute(
            "INSERT INTO conversations (platform, chat_id, user_id, state, assessment_id, cursor, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (platform, chat_id, user_id) DO UPDATE SET state = excluded.state,"
            " assessment_id = excluded.assessment_id, cursor = excluded.cursor,"
            " updated_at = excluded.updated_at",
            [row.platform, row.chat_id, row.user_id, row.state, row.assessment_id, row.cursor, at],
        )

    # Assessments and answers

    def start_assessment(self, platform: str, chat_id: str, user_id: str, at: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO assessments (platform, chat_id, user_id, started_at) VALUES (?, ?, ?, ?)",
            [platform, chat_id, user_id, at],
        )
        return int(cursor.lastrowid)

    def record_answer(self, assessment_id: int, question_id: str, value: int, at: str) -> None:
        self.db.execute(
            "INSERT INTO answers (assessment_id, question_id, value, answered_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (assessment_id, question_id) DO UPDATE SET value = excluded.value,"
            " answered_at = excluded.answered_at",
            [assessment_id, question_id, value, at],
        )

    def answers(self, assessment_id: int) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT question_id, value FROM answers WHERE assessment_id = ?", [assessment_id]
        )
        return dict(rows.fetchall())

    def finish_assessment(self, assessment_id: int, stage: int | None, result: dict, at: str) -> None:
        self.db.execute(
            "UPDATE assessments SET finished_at = ?, stage = ?, result = ? WHERE id = ?",
            [at, stage, json.dumps(result), assessment_id],
        )

    def finished_assessments(
        self, platform: str, chat_id: str, user_id: str, limit: int = 2
    ) -> list[AssessmentRecord]:
        """The newest finished assessments of one conversation, newest first."""
        rows = self.db.execute(
            "SELECT id, started_at, finished_at, result FROM assessments"
            " WHERE platform = ? AND chat_id = ? AND user_id = ? AND finished_at IS NOT NULL"
            " ORDER BY finished_at DESC, id DESC LIMIT ?",
            [platform, chat_id, user_id, limit],
        ).fetchall()
        return [AssessmentRecord(r[0], r[1], r[2], json.loads(r[3])) for r in rows]
