"""The shared store: PostgreSQL through psycopg 3 and its connection pool, for several instances.

Every instance runs the same queries as the SQLite store (`store_sql`); this module adds what
several processes on one database need. A transaction takes a pooled connection for its whole
length; one conversation's events wait for each other on an advisory lock, a team's members
likewise; claims of weekly tips pass over rows another instance has locked (SKIP LOCKED). A
transaction that is not durable commits with synchronous_commit off: it survives the server
process, and only a crash of the server's machine before the next durable commit loses it.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
import psycopg_pool

from .store import StorageError, Store, Unusable
from .store_sql import Rows, SQLStore

POOL_SIZE = 4  # an instance's engine, its intake of updates, and room for a scheduler
CONNECT_TIMEOUT = 10.0
SCHEMA_LOCK = 0x5354_4147  # the advisory lock migrations take: "STAG"


@functools.lru_cache(maxsize=1024)
def _dialect(sql: str) -> str:
    """A query of store_sql (`?` placeholders) as psycopg reads it (`%s`, and `%` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _Result:
    """A query's rows, read before its connection went back to the pool."""

    __slots__ = ("rowcount", "rows")

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self.rowcount = cursor.rowcount
        self.rows = cursor.fetchall() if cursor.description is not None else []

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows


class PostgresStore(SQLStore):
    BACKEND = "postgres"
    UPDATE_OR_IGNORE = "UPDATE"  # ids were namespaced before PostgreSQL was supported: none can clash
    SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, pool: psycopg_pool.ConnectionPool | None = None) -> None:
        self.url = url
        self._owns_pool = pool is None
        if pool is None:
            pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=POOL_SIZE, open=False,
                                               timeout=CONNECT_TIMEOUT, name="stagecoach")
            try:
                pool.open(wait=True, timeout=CONNECT_TIMEOUT)
            except psycopg_pool.PoolTimeout as error:
                pool.close()
                raise Unusable(f"PostgreSQL at {_without_password(url)} cannot be reached within"
                               f" {CONNECT_TIMEOUT:.0f} s. Check STAGECOACH_DATABASE_URL and the server.") from error
        self.pool = pool
        self.conn: psycopg.Connection[Any] | None = None  # the connection of the transaction in hand
        if self._owns_pool:
            self._migrate()

    def sibling(self) -> Store | None:
        """Another store on the same pool, for another thread."""
        return PostgresStore(self.url, self.pool)

    def close(self) -> None:
        if self._owns_pool:
            self.pool.close()

    def _run(self, sql: str, parameters: Sequence[Any] = ()) -> Rows:
        query = _dialect(sql) if parameters else sql
        try:
            if self.conn is not None:
                return _Result(self.conn.execute(query, parameters or None))
            with self.pool.connection() as conn:
                return _Result(conn.execute(query, parameters or None))
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            raise StorageError(str(error)) from error

    def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            if self.conn is not None:
                self.conn.cursor().executemany(_dialect(sql), rows)
                return
            with self.pool.connection() as conn:
                conn.cursor().executemany(_dialect(sql), rows)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            raise StorageError(str(error)) from error

    def transaction(self, durable: bool = True) -> Transaction:
        """Everything an event changes, on one pooled connection, committed or undone together;
        a nested one is a savepoint of the transaction around it."""
        return Transaction(self, durable)

    def _lock_schema(self) -> None:
        self._run("SELECT pg_advisory_xact_lock(?)", [SCHEMA_LOCK])

    def lock_conversation(self, platform: str, chat_id: str, user_id: str) -> None:
        self._lock(f"conversation\x1f{platform}\x1f{chat_id}\x1f{user_id}")

    def lock_team(self, team_id: int) -> None:
        self._lock(f"team\x1f{team_id}")

    def _lock(self, name: str) -> None:
        """An advisory lock held until the transaction ends, named by a text's 64-bit hash."""
        self._run("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [name])


class Transaction:
    """PostgresStore.transaction's context manager."""

    __slots__ = ("durable", "nested", "store")

    def __init__(self, store: PostgresStore, durable: bool) -> None:
        self.store, self.durable, self.nested = store, durable, False

    def __enter__(self) -> None:
        store = self.store
        if store.conn is not None:
            self.nested = True
            store._run("SAVEPOINT nested")
            return
        try:
            conn = store.pool.getconn()
        except psycopg_pool.PoolTimeout as error:
            raise StorageError(str(error)) from error
        store.conn = conn
        if not self.durable:
            store._run("SET LOCAL synchronous_commit TO OFF")

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        store = self.store
        if self.nested:
            if kind is not None:
                store._run("ROLLBACK TO SAVEPOINT nested")
            store._run("RELEASE SAVEPOINT nested")
            return
        conn = store.conn
        assert conn is not None
        store.conn = None
        try:
            if kind is None:
                conn.commit()
            else:
                conn.rollback()
        except psycopg.Error as failed:
            raise StorageError(str(failed)) from failed
        finally:
            store.pool.putconn(conn)


def _without_password(url: str) -> str:
    """A database URL fit for a log line."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
