"""The embedded store: one SQLite file in WAL mode, through sqlite-utils and sqlite3.

A Store belongs to the thread that opened it (sqlite3 connections are bound to it); `sibling`
gives another thread a connection of its own. Writers take the file's one write lock for a
whole transaction, so one conversation's events are applied one at a time by construction.

The file's health is checked once before the bot starts: a damaged, read-only or foreign file
would otherwise surface as every person being told to try again forever, so the operator is
told at start-up instead, in one line that says what to do. The write-ahead log grows with
every commit until a checkpoint resets it; without a size limit the file keeps its largest size.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from .store import StorageError, Store, Unusable
from .store_sql import Rows, SQLStore


class SQLiteStore(SQLStore):
    """One SQLite file (or a database in memory, for tests) on one connection of one thread."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", busy_timeout: float = 5.0) -> None:
        conn = sqlite3.connect(str(path), timeout=busy_timeout)
        self.path, self.synchronous, self.busy_timeout = str(path), synchronous, busy_timeout
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        if str(path) != ":memory:":
            self.db.enable_wal()
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._relaxed = False  # the transaction in hand runs at synchronous=NORMAL
        self._migrate()
        tune(conn)

    def _run(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        try:
            return self.conn.execute(sql, parameters)
        except sqlite3.Error as error:
            raise StorageError(str(error)) from error

    def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as error:
            raise StorageError(str(error)) from error

    def sibling(self) -> Store | None:
        """Another connection to the same file, for another thread; None for a database in memory,
        which no other connection can see."""
        if self.path == ":memory:":
            return None
        return SQLiteStore(self.path, synchronous=self.synchronous, busy_timeout=self.busy_timeout)

    def close(self) -> None:
        checkpoint(self.conn)
        self.db.close()

    def _in_transaction(self) -> bool:
        return self.conn.in_transaction

    def _begin(self, durable: bool) -> None:
        """Takes the write lock at once (BEGIN IMMEDIATE): a deferred transaction that reads and
        then writes cannot wait for another process's writer, and fails with "database is
        locked" instead of waiting out the busy timeout. One that is not durable runs at
        synchronous=NORMAL: in WAL, its commit does not wait for the disk."""
        self._relaxed = not durable and self.synchronous.upper() in ("FULL", "EXTRA")
        try:
            if self._relaxed:
                self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            self._restore()
            raise StorageError(str(error)) from error

    def _end(self, commit: bool) -> None:
        try:
            if commit:
                self.conn.commit()
            else:
                self.conn.rollback()
        except sqlite3.Error as error:
            raise StorageError(str(error)) from error
        finally:
            self._restore()

    def _restore(self) -> None:
        if self._relaxed:
            self._relaxed = False
            self.conn.execute(f"PRAGMA synchronous={self.synchronous}")

    def _lock_schema(self) -> None:
        """Nothing more: the migrations' transaction holds the file's one write lock."""

    def lock_conversation(self, platform: str, chat_id: str, user_id: str) -> None:
        """Nothing more: every transaction holds the file's one write lock, so events are applied
        one at a time already."""

    def lock_team(self, team_id: int) -> None:
        """Nothing more, as for a conversation."""

    def _before_migration(self, version: int) -> None:
        """A file made before migrations were recorded gets its own older steps first; the
        first migration then adds only the tables and indexes it lacks."""
        if version != 1:
            return
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


JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the log keeps after a checkpoint resets it
RESTORE = "Restore it from a backup, or move it aside to start afresh with an empty database."


def check(path: str, busy_timeout: float = 5.0) -> None:
    """Raises Unusable when the file is not a database, is damaged, or cannot be written.

    The write is a table created and rolled back, so a healthy file is left as it was; a file
    another process is writing to right now counts as writable.
    """
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, uri=path.startswith("file:"), isolation_level=None)
    except sqlite3.Error as error:
        raise Unusable(f"{path} cannot be opened ({error}). Check the path and its directory.") from error
    try:
        problems = [" ".join(row[0].split()) for row in conn.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise Unusable(f"{path} is damaged (quick_check: {'; '.join(problems)}). {RESTORE}")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE stagecoach_write_check (x)")
        conn.execute("ROLLBACK")
    except sqlite3.Error as error:
        problem = _unusable(path, error)
        if problem is not None:
            raise problem from error
    finally:
        conn.close()


def _unusable(path: str, error: sqlite3.Error) -> Unusable | None:
    """What an error found by the check means to the operator; None for one that passes (busy,
    full), which the bot meets like any other write that cannot be made just now."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    one_line = " ".join(str(error).split())
    if code == sqlite3.SQLITE_NOTADB:
        return Unusable(f"{path} is not a database ({one_line}). {RESTORE}")
    if code == sqlite3.SQLITE_CORRUPT:
        return Unusable(f"{path} is damaged ({one_line}). {RESTORE}")
    if code == sqlite3.SQLITE_READONLY:
        return Unusable(f"{path} is read-only ({one_line}). Let this user write the file and its directory,"
                        " or restore it from a backup to a place where it can.")
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL):
        return None
    return Unusable(f"{path} cannot be used ({one_line}). {RESTORE}")


def tune(conn: sqlite3.Connection) -> None:
    """Bounds the write-ahead log and empties what a process that died left in it."""
    conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
    checkpoint(conn)


def checkpoint(conn: sqlite3.Connection) -> None:
    """Copies the log into the database and truncates it, unless another connection is using it
    right now; then it waits for a later occasion rather than holding anyone up."""
    (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
    try:
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.Error:
        pass  # a busy or full database keeps its log until the next checkpoint
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
