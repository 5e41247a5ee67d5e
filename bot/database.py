"""The SQLite file's health: checked once before the bot starts, and its write-ahead log kept small.

A damaged, read-only or foreign file would otherwise surface as a traceback on the first
event, or worse, as every person being told to try again forever; the operator is told at
start-up instead, in one line that says what to do. The write-ahead log grows with every
commit until a checkpoint resets it; without a size limit the file keeps its largest size.
"""
from __future__ import annotations

import sqlite3

JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the log keeps after a checkpoint resets it
RESTORE = "Restore it from a backup, or move it aside to start afresh with an empty database."


class Unusable(Exception):
    """The database cannot be used as it is; the message is one line for the operator."""


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
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
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
