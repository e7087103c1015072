"""What differs between SQLite and PostgreSQL, in small named pieces; queries live in ``sql.py``.

A ``Database`` runs a transaction body, a plain function of a SQLAlchemy ``Connection``, in one
transaction that holds the write lock:

* ``SqliteDatabase``: one writer connection in its own thread runs each body whole (BEGIN
  IMMEDIATE ... COMMIT), so a transaction costs one thread hop and coroutines never interleave
  inside it; reads use a second, read-only connection (WAL lets it read while the writer writes).
  Several processes may share the file: BEGIN IMMEDIATE takes SQLite's write lock and
  ``busy_timeout`` makes the others wait. ``synchronous=FULL``: a returned commit survives power
  loss.
* ``PostgresDatabase``: an asyncpg pool behind SQLAlchemy's async engine; the body runs through
  ``AsyncConnection.run_sync``. Row locks come from ``SELECT ... FOR [NO KEY] UPDATE`` in the
  queries (SQLite's compiler leaves the clause out: its write lock is already held). Transactions
  that lose a deadlock or serialization race are retried whole.

The dialect helpers (``insert_ignore``, ``upsert``, ``lock_for_migration``) are the only places
that look at the dialect's name.
"""

from __future__ import annotations

import abc
import asyncio
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

from vc_issuer.errors import StoreError, VCIssuerError
from vc_issuer.store.base import StoreLocation
from vc_issuer.store.schema import dumps

T = TypeVar("T")
Body = Callable[[sa.Connection], T]

# pg_advisory_xact_lock key for migrations ("vc-issuer" in ASCII, as a bigint).
_MIGRATION_LOCK = 0x76632D697373756572 & 0x7FFFFFFFFFFFFFFF
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_RETRIES = 5


# --- dialect helpers ------------------------------------------------------------------------------


def _insert_for(conn: sa.Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(
    conn: sa.Connection,
    table: sa.Table,
    *,
    index_elements: Iterable[str] | None = None,
    index_where: sa.ColumnElement[bool] | None = None,
) -> sa.Insert:
    """INSERT ... ON CONFLICT [target] DO NOTHING: ``rowcount`` tells whether the row went in."""
    stmt = _insert_for(conn, table)
    if index_elements is None:
        return stmt.on_conflict_do_nothing()  # type: ignore[no-any-return]
    return stmt.on_conflict_do_nothing(  # type: ignore[no-any-return]
        index_elements=list(index_elements), index_where=index_where
    )


def upsert(conn: sa.Connection, table: sa.Table, key: str, values: Mapping[str, Any]) -> sa.Insert:
    """INSERT ... ON CONFLICT (key) DO UPDATE: the non-key values replace the stored ones."""
    stmt = _insert_for(conn, table).values(**values)
    changes = {name: stmt.excluded[name] for name in values if name != key}
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[key], set_=changes
    )


def lock_for_migration(conn: sa.Connection, schema: str | None) -> None:
    """Serialise migrations across processes; make sure the tables have a schema to go in.

    SQLite: BEGIN IMMEDIATE already holds the database's write lock. PostgreSQL: a transaction
    advisory lock, and the target schema (created when configured, else it must exist).
    """
    if conn.dialect.name != "postgresql":
        return
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
    if schema is not None:
        conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
    elif conn.execute(sa.select(sa.func.current_schema())).scalar() is None:
        path = conn.exec_driver_sql("SHOW search_path").scalar()
        raise StoreError(
            f"no schema of the search_path ({path}) exists in the database;"
            " create it, or pass schema= to have it created"
        )


# --- running transactions -------------------------------------------------------------------------


class Database(abc.ABC):
    """Runs transaction bodies against one database; maps driver errors to ``StoreError``."""

    name: str
    schema: str | None = None

    @abc.abstractmethod
    async def write(self, body: Body[T]) -> T:
        """``body`` in one transaction holding the write lock, committed on return."""

    @abc.abstractmethod
    async def read(self, body: Body[T]) -> T:
        """``body`` on a reading connection (no write lock)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def location(self) -> StoreLocation | None: ...


class _Thread:
    """One SQLAlchemy engine over one sqlite3 connection, used from one thread only."""

    def __init__(self, engine: sa.Engine, path: str) -> None:
        self.engine = engine
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vc-sqlite")
        self._closed = False

    async def run(self, body: Body[T], *, begin: bool) -> T:
        if self._closed:  # the executor is shut down: it would raise a bare RuntimeError
            raise StoreError(f"the SQLite store {self._path} is closed")

        def call() -> T:
            with self.engine.begin() if begin else self.engine.connect() as conn:
                return body(conn)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except VCIssuerError:
            raise
        except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"SQLite error on {self._path}: {cause}") from exc

    async def close(self) -> None:
        self._closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self.engine.dispose)
        finally:
            self._executor.shutdown(wait=True)


def _switch_to_wal(conn: sqlite3.Connection, deadline: float) -> str:
    """Retry by hand: SQLite skips the busy handler here when processes race on a new file."""
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def _sqlite_engine(path: str, *, readonly: bool, busy_timeout: float) -> sa.Engine:
    # ``timeout`` is SQLite's busy_timeout: writers in other processes wait for the lock.
    engine = sa.create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        ),
        poolclass=StaticPool,
    )

    @sa.event.listens_for(engine, "connect")
    def configure(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we say BEGIN ourselves (below), not the driver
        dbapi_conn.execute("PRAGMA foreign_keys = ON")
        if readonly:
            dbapi_conn.execute("PRAGMA query_only = ON")
            return
        mode = _switch_to_wal(dbapi_conn, time.monotonic() + busy_timeout)
        if mode.lower() != "wal" and path != ":memory:":
            raise StoreError(f"SQLite refused WAL mode for {path} (got {mode})")
        dbapi_conn.execute("PRAGMA synchronous = FULL")

    if not readonly:

        @sa.event.listens_for(engine, "begin")
        def begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock before the first read

    return engine


class SqliteDatabase(Database):
    name = "sqlite"

    def __init__(self, path: str, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._writer = _Thread(
            _sqlite_engine(path, readonly=False, busy_timeout=busy_timeout), path
        )
        # An in-memory database exists once per connection: read through the writer then.
        self._reader = (
            self._writer
            if path == ":memory:"
            else _Thread(_sqlite_engine(path, readonly=True, busy_timeout=busy_timeout), path)
        )

    @classmethod
    async def open(cls, path: str, *, busy_timeout: float = 30.0) -> SqliteDatabase:
        if path != ":memory:" and not Path(path).parent.is_dir():
            raise StoreError(f"directory for the SQLite store does not exist: {Path(path).parent}")
        db = cls(path, busy_timeout=busy_timeout)
        try:
            await db.write(lambda conn: None)  # connect and switch to WAL now: fail early
        except BaseException:
            await db.close()
            raise
        return db

    async def write(self, body: Body[T]) -> T:
        return await self._writer.run(body, begin=True)

    async def read(self, body: Body[T]) -> T:
        return await self._reader.run(body, begin=False)

    async def close(self) -> None:
        await self._writer.close()
        if self._reader is not self._writer:
            await self._reader.close()

    def location(self) -> StoreLocation | None:
        return None if self.path == ":memory:" else StoreLocation(self.path)


def redact(dsn: str) -> str:
    """The DSN without a password, for error messages."""
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"


class PostgresDatabase(Database):
    name = "postgresql"

    def __init__(self, engine: Any, dsn: str, schema: str | None) -> None:
        from sqlalchemy.ext.asyncio import AsyncEngine

        self._engine: AsyncEngine = engine
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.dsn = dsn
        self.schema = schema
        self._closed = False

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
    ) -> PostgresDatabase:
        """A pool of at most ``max_size`` connections (``min_size`` is accepted, not kept open)."""
        import asyncpg
        from sqlalchemy.ext.asyncio import create_async_engine

        settings = {"search_path": schema} if schema is not None else None

        async def connect() -> asyncpg.Connection:
            # The DSN goes to asyncpg untouched: its query (search_path=...) means what it did.
            return await asyncpg.connect(dsn, timeout=connect_timeout, server_settings=settings)

        engine = create_async_engine(
            "postgresql+asyncpg://",
            async_creator=connect,
            pool_size=max_size,
            max_overflow=0,
            pool_timeout=connect_timeout,
            json_serializer=dumps,
            json_deserializer=json.loads,
        )
        db = cls(engine, dsn, schema)
        try:
            await db.read(lambda conn: None)
        except (StoreError, ValueError) as exc:
            await db.close()
            cause = exc if isinstance(exc, ValueError) else exc.__cause__
            if isinstance(cause, (asyncpg.InterfaceError, ValueError)) and not isinstance(
                cause, asyncpg.PostgresError
            ):
                raise StoreError(f"bad PostgreSQL URL {redact(dsn)}: {cause}") from cause
            raise StoreError(f"cannot connect to PostgreSQL at {redact(dsn)}: {exc}") from cause
        return db

    async def _run(self, body: Body[T], *, write: bool) -> T:
        import asyncpg

        if self._closed:
            raise StoreError("the PostgreSQL store is closed")
        for attempt in range(_RETRIES):
            try:
                if write:
                    async with self._engine.begin() as conn:
                        result: T = await conn.run_sync(body)
                        return result
                async with self._reader.connect() as conn:
                    result = await conn.run_sync(body)
                    return result
            except VCIssuerError:
                raise
            except sa.exc.DBAPIError as exc:
                state = getattr(exc.orig, "sqlstate", None)
                if state in _RETRY_SQLSTATES and attempt + 1 < _RETRIES:
                    await asyncio.sleep(0.01 * (attempt + 1))
                    continue
                cause = (exc.orig.__cause__ or exc.orig) if exc.orig is not None else exc
                raise StoreError(f"PostgreSQL error: {cause} (SQLSTATE {state})") from cause
            except (sa.exc.SQLAlchemyError, asyncpg.PostgresError) as exc:
                raise StoreError(f"PostgreSQL error: {exc}") from exc
            except (TimeoutError, OSError, asyncpg.InterfaceError) as exc:
                raise StoreError(f"PostgreSQL unavailable: {exc} ({type(exc).__name__})") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def write(self, body: Body[T]) -> T:
        return await self._run(body, write=True)

    async def read(self, body: Body[T]) -> T:
        return await self._run(body, write=False)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._engine.dispose()

    def location(self) -> StoreLocation:
        options = () if self.schema is None else (("schema", self.schema),)
        return StoreLocation(self.dsn, options)
