"""What differs between SQLite and PostgreSQL, in small named pieces; queries live in ``sql.py``.

A transaction body is a plain function of a ``Conn``; a ``Database`` runs it in one transaction
that holds the write lock:

* ``SqliteDatabase``: one writer connection in its own thread runs each body whole (BEGIN
  IMMEDIATE ... COMMIT), so a transaction costs one thread hop and coroutines never interleave
  inside it; reads use a second, read-only connection (WAL lets it read while the writer writes).
  Several processes may share the file: BEGIN IMMEDIATE takes SQLite's write lock, ``busy_timeout``
  makes the others wait. ``synchronous=FULL``: a returned commit survives power loss.
* ``PostgresDatabase``: an asyncpg pool; the body runs in a greenlet (SQLAlchemy's
  ``greenlet_spawn``) so the same synchronous body awaits asyncpg at each statement. Row locks come
  from ``{FOR_UPDATE}``-style pieces in the queries (empty on SQLite, whose write lock is already
  held). Transactions that lose a deadlock or serialization race are retried whole.

Queries are SQL text written once with ``:name`` parameters and a few ``{PIECE}`` slots that
``PIECES`` fills per database; ``Conn`` turns ``:name`` into ``$n`` for asyncpg and converts values
by the column types of ``schema.py`` (times, JSON, string lists).

Why not SQLAlchemy's engine: measured first, with the same queries in SQLAlchemy Core, on
``bench/bench_store.py`` back to back with the hand-written backends (one loaded 2-core machine),
it cost far more than the 10% allowed: SQLite ``set_status_bit`` 2,027 -> 463 ops/s and
``put_credential`` 2,017 -> 555; PostgreSQL ``set_status_bit`` 461 -> 195 (statement building and
execution cost 100-300 us each). This layer costs 10-25% more client CPU per operation than the
hand-written backends did, which the wall-clock figures do not show (I/O dominates); see
docs/storage.md. SQLAlchemy still defines the schema and, with Alembic, renders the migrations'
DDL, which runs once, at open.
"""

from __future__ import annotations

import abc
import asyncio
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import sqlalchemy as sa

from vc_issuer.errors import StoreError, VCIssuerError
from vc_issuer.store.base import StoreLocation
from vc_issuer.store.schema import JsonDoc, StrList, UtcDateTime, dumps

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")
R = TypeVar("R")

# pg_advisory_xact_lock key for migrations ("vc-issuer" in ASCII, as a bigint).
_MIGRATION_LOCK = 0x76632D697373756572 & 0x7FFFFFFFFFFFFFFF
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_RETRIES = 5

PIECES: Mapping[str, Mapping[str, str]] = {
    "sqlite": {
        "FALSE": "0",
        "FOR_UPDATE": "",
        "FOR_NO_KEY_UPDATE": "",
        "FOR_NO_KEY_UPDATE_OF_BITS": "",
        "FOR_UPDATE_SKIP_LOCKED": "",
    },
    "postgresql": {
        "FALSE": "false",
        "FOR_UPDATE": "FOR UPDATE",
        "FOR_NO_KEY_UPDATE": "FOR NO KEY UPDATE",  # does not block foreign-key checks
        "FOR_NO_KEY_UPDATE_OF_BITS": "FOR NO KEY UPDATE OF b",
        "FOR_UPDATE_SKIP_LOCKED": "FOR UPDATE SKIP LOCKED",  # two senders take different rows
    },
}
"""The only words the queries spell differently: boolean literals and row locks."""

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


class Unique(Exception):
    """A unique or primary-key constraint refused a write (the driver's error, either database)."""


class _Dialect:
    """What ``UtcDateTime`` & co. need to know of a dialect: its name."""

    def __init__(self, name: str) -> None:
        self.name = name


@cache
def _codec(column: sa.Column[Any], dialect: str) -> tuple[Any, Any]:
    """(encode, decode) for one column's values on one database; None where values pass as is."""
    kind = column.type
    named = _Dialect(dialect)
    if isinstance(kind, (UtcDateTime, JsonDoc, StrList)):
        return (
            lambda v: kind.process_bind_param(v, named),  # type: ignore[arg-type]
            lambda v: kind.process_result_value(v, named),  # type: ignore[arg-type]
        )
    if isinstance(kind, sa.Boolean):
        return None, bool
    if isinstance(kind, sa.LargeBinary):
        return None, bytes
    return None, None


class Shape(Generic[R]):
    """How rows of some tables become records: fields named like columns (or ``renamed``).

    Generic in the record it builds, so a query's result is typed where it is written."""

    def __init__(self, record: Callable[..., R], *tables: sa.Table, **renamed: str) -> None:
        self.record = record
        self.columns: dict[str, sa.Column[Any]] = {}
        for table in tables:
            for column in table.columns:
                self.columns.setdefault(column.name, column)
        for field, column_name in renamed.items():
            self.columns[field] = self.columns[column_name]
        self._decoders: dict[str, dict[str, Any]] = {}

    def decoders(self, dialect: _Dialect) -> dict[str, Any]:
        if dialect.name not in self._decoders:
            self._decoders[dialect.name] = {
                name: _codec(col, dialect.name)[1] for name, col in self.columns.items()
            }
        return self._decoders[dialect.name]


class Conn(abc.ABC):
    """One connection inside one transaction, for synchronous transaction bodies."""

    dialect: _Dialect

    @abc.abstractmethod
    def _run(self, sql: str, params: Sequence[Any] | Mapping[str, Any], many: bool) -> int: ...

    @abc.abstractmethod
    def _fetch(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any]
    ) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def _bind(self, template: str, params: Mapping[str, Any]) -> tuple[str, Any]:
        """The database's SQL for ``template`` and its parameters in the driver's form."""

    def _value(self, value: Any) -> Any:
        """A free parameter: times in the stored form (SQLite compares fixed-width UTC text)."""
        if isinstance(value, datetime):
            return UtcDateTime().process_bind_param(value, self.dialect)  # type: ignore[arg-type]
        return value

    def raw(self, sql: str) -> None:
        """Run SQL exactly as written, without parameters (DDL)."""
        self._run(sql, [] if self.dialect.name == "postgresql" else {}, False)

    def execute(self, template: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement; the number of rows it changed."""
        sql, args = self._bind(template, {k: self._value(v) for k, v in (params or {}).items()})
        return self._run(sql, args, False)

    def fetch(
        self, shape: Shape[R], template: str, params: Mapping[str, Any] | None = None
    ) -> list[R]:
        sql, args = self._bind(template, {k: self._value(v) for k, v in (params or {}).items()})
        decoders = shape.decoders(self.dialect)
        out = []
        for row in self._fetch(sql, args):
            for name, value in row.items():
                decode = decoders.get(name)
                if decode is not None and value is not None:
                    row[name] = decode(value)
            out.append(shape.record(**row))
        return out

    def first(
        self, shape: Shape[R], template: str, params: Mapping[str, Any] | None = None
    ) -> R | None:
        rows = self.fetch(shape, template, params)
        return rows[0] if rows else None

    def scalar(self, template: str, params: Mapping[str, Any] | None = None) -> Any:
        sql, args = self._bind(template, {k: self._value(v) for k, v in (params or {}).items()})
        rows = self._fetch(sql, args)
        return next(iter(rows[0].values())) if rows else None

    def _encode(self, table: sa.Table, values: Mapping[str, Any]) -> dict[str, Any]:
        return self._encode_all(table, [values])[0]

    def _encode_all(
        self, table: sa.Table, rows: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Values by their column's type; a value shared by every row (``now``) is encoded once."""
        out = [dict(r) for r in rows]
        for name in rows[0]:
            encode = _codec(table.c[name], self.dialect.name)[0]
            if encode is None:
                continue
            last_in: Any = object()
            last_out: Any = None
            for row in out:
                value = row[name]
                if value is None:
                    continue
                if value is not last_in:
                    last_in, last_out = value, encode(value)
                row[name] = last_out
        return out

    def insert(
        self, table: sa.Table, rows: Mapping[str, Any] | Sequence[Mapping[str, Any]], tail: str = ""
    ) -> int:
        """INSERT one row (a mapping: returns 0 or 1, for ``tail`` = ``ON CONFLICT ...``) or many
        (a list, all or nothing: ``insert_many``)."""
        if not isinstance(rows, Mapping):
            if not rows:
                return 0
            self._insert_many(table, list(rows[0]), self._encode_all(table, rows))
            return len(rows)
        names = list(rows)
        template = (
            f"INSERT INTO {table.name} ({', '.join(names)})"
            f" VALUES ({', '.join(':' + n for n in names)}) {tail}"
        )
        sql, args = self._bind(template, self._encode(table, rows))
        return self._run(sql, args, False)

    @abc.abstractmethod
    def _insert_many(self, table: sa.Table, names: list[str], rows: list[dict[str, Any]]) -> None:
        """Insert encoded rows in as few round trips as the database allows."""

    def update(
        self, table: sa.Table, values: Mapping[str, Any], where: str, params: Mapping[str, Any]
    ) -> int:
        """UPDATE ``table`` SET ``values`` (by column type) WHERE ``where``; rows changed.

        A value of ``sa.text(...)`` is an SQL expression (``version + 1``), not a parameter.
        """
        sets, args = [], {k: self._value(v) for k, v in params.items()}
        for name, value in values.items():
            if isinstance(value, sa.TextClause):
                sets.append(f"{name} = {value.text}")
                continue
            sets.append(f"{name} = :set_{name}")
            args.update({f"set_{k}": v for k, v in self._encode(table, {name: value}).items()})
        sql, bound = self._bind(f"UPDATE {table.name} SET {', '.join(sets)} WHERE {where}", args)
        return self._run(sql, bound, False)


def expand(name: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """An IN list: ``(:name0, :name1, ...)`` and its parameters (same SQL on both databases)."""
    params = {f"{name}{i}": v for i, v in enumerate(values)}
    return "(" + ", ".join(":" + k for k in params) + ")", params


# --- SQLite ---------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _sqlite_sql(template: str) -> str:
    return template.format_map(PIECES["sqlite"])


class _SqliteConn(Conn):
    dialect = _Dialect("sqlite")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _bind(self, template: str, params: Mapping[str, Any]) -> tuple[str, Any]:
        return _sqlite_sql(template), params  # sqlite3 takes :name parameters as they are

    def _insert_many(self, table: sa.Table, names: list[str], rows: list[dict[str, Any]]) -> None:
        values = ", ".join(":" + n for n in names)
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({values})"
        self._run(sql, rows, True)  # executemany: one prepared statement, rows bound in C

    def _run(self, sql: str, params: Any, many: bool) -> int:
        try:
            if many:
                return self._conn.executemany(sql, params).rowcount
            return self._conn.execute(sql, params).rowcount
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc) or "PRIMARY KEY" in str(exc):
                raise Unique(str(exc)) from exc
            raise

    def _fetch(self, sql: str, params: Any) -> list[dict[str, Any]]:
        cur = self._conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# --- PostgreSQL -----------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _pg_sql(template: str) -> tuple[str, tuple[str, ...]]:
    """``:name`` -> ``$n`` (a name used twice keeps its number), and the names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _PARAM.sub(number, template.format_map(PIECES["postgresql"])), tuple(names)


@cache
def _pg_array_type(column: sa.Column[Any]) -> str:
    """``text[]``, ``timestamptz[]`` ...: the array type ``unnest`` reads a column's values from."""
    from sqlalchemy.dialects import postgresql

    if isinstance(column.type, StrList):
        raise TypeError(f"{column.name}: a list column cannot be bulk-inserted through unnest")
    return column.type.compile(dialect=postgresql.dialect()).lower() + "[]"  # type: ignore[no-untyped-call]


class _PgConn(Conn):
    dialect = _Dialect("postgresql")

    def __init__(self, conn: asyncpg.Connection) -> None:
        from sqlalchemy.util import await_only

        self._conn = conn
        self._await = await_only

    def _bind(self, template: str, params: Mapping[str, Any]) -> tuple[str, Any]:
        sql, names = _pg_sql(template)
        return sql, [params[n] for n in names]

    def _call(self, coro: Any) -> Any:
        import asyncpg

        try:
            return self._await(coro)
        except asyncpg.UniqueViolationError as exc:
            raise Unique(str(exc)) from exc

    def _insert_many(self, table: sa.Table, names: list[str], rows: list[dict[str, Any]]) -> None:
        """One statement: a column of values per parameter, zipped by ``unnest``."""
        arrays = ", ".join(f"${i + 1}::{_pg_array_type(table.c[n])}" for i, n in enumerate(names))
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        self._run(sql, [[r[n] for r in rows] for n in names], False)

    def _run(self, sql: str, params: Any, many: bool) -> int:
        if many:
            self._call(self._conn.executemany(sql, params))
            return len(params)
        status = self._call(self._conn.execute(sql, *params))
        tail = str(status).rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    def _fetch(self, sql: str, params: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in self._call(self._conn.fetch(sql, *params))]


# --- dialect steps ----------------------------------------------------------------------------


def lock_for_migration(conn: Conn, schema: str | None) -> None:
    """Serialise migrations across processes; make sure the tables have a schema to go in.

    SQLite: BEGIN IMMEDIATE already holds the database's write lock. PostgreSQL: a transaction
    advisory lock, and the target schema (created when configured, else it must exist).
    """
    if conn.dialect.name != "postgresql":
        return
    conn.scalar("SELECT pg_advisory_xact_lock(:key)", {"key": _MIGRATION_LOCK})
    if schema is not None:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
    elif conn.scalar("SELECT current_schema()") is None:
        raise StoreError(
            f"no schema of the search_path ({conn.scalar('SHOW search_path')}) exists in the"
            " database; create it, or pass schema= to have it created"
        )


def has_table(conn: Conn, name: str) -> bool:
    if conn.dialect.name == "postgresql":
        return conn.scalar("SELECT to_regclass(:name) IS NOT NULL", {"name": name}) is True
    found = conn.scalar(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name", {"name": name}
    )
    return found is not None


def ddl(conn: Conn, element: sa.schema.ExecutableDDLElement) -> None:
    """Run SQLAlchemy DDL (from ``schema.py``) as this database's SQL."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect: sa.Dialect = (
        postgresql.dialect() if conn.dialect.name == "postgresql" else sqlite.dialect()  # type: ignore[no-untyped-call]
    )
    conn.raw(str(element.compile(dialect=dialect)))


def _ident(name: str) -> str:
    """Quote an SQL identifier (schema names come from configuration, not from users)."""
    return '"' + name.replace('"', '""') + '"'


# --- running transactions -------------------------------------------------------------------------

Body = Callable[[Conn], T]


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
    """One sqlite3 connection bound to one thread."""

    def __init__(self, path: str, *, readonly: bool, busy_timeout: float) -> None:
        self._path = path
        self._readonly = readonly
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vc-sqlite")
        self._conn: _SqliteConn | None = None
        self._closed = False

    def _connect(self) -> _SqliteConn:
        # ``timeout`` is SQLite's busy_timeout: writers in other processes wait for the lock.
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=self._busy_timeout)
        conn.execute("PRAGMA foreign_keys = ON")
        if self._readonly:
            conn.execute("PRAGMA query_only = ON")
        else:
            mode = self._switch_to_wal(conn)
            if mode.lower() != "wal" and self._path != ":memory:":
                raise StoreError(f"SQLite refused WAL mode for {self._path} (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
        return _SqliteConn(conn)

    def _switch_to_wal(self, conn: sqlite3.Connection) -> str:
        """Retry by hand: SQLite skips the busy handler here when processes race on a new file."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.005, 0.05))

    async def run(self, body: Body[T], *, transaction: bool) -> T:
        if self._closed:  # the executor is shut down: it would raise a bare RuntimeError
            raise StoreError(f"the SQLite store {self._path} is closed")

        def call() -> T:
            if self._conn is None:
                self._conn = self._connect()
            if not transaction:
                return body(self._conn)
            raw = self._conn._conn
            raw.execute("BEGIN IMMEDIATE")  # the write lock before the first read
            try:
                result = body(self._conn)
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
            return result

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except VCIssuerError:
            raise
        except (sqlite3.Error, Unique) as exc:
            raise StoreError(f"SQLite error on {self._path}: {exc}") from exc

    async def close(self) -> None:
        self._closed = True

        def close() -> None:
            if self._conn is not None:
                self._conn._conn.close()
                self._conn = None

        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, close)
        finally:
            self._executor.shutdown(wait=True)


class SqliteDatabase(Database):
    name = "sqlite"

    def __init__(self, path: str, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._writer = _Thread(path, readonly=False, busy_timeout=busy_timeout)
        # An in-memory database exists once per connection: read through the writer then.
        self._reader = (
            self._writer
            if path == ":memory:"
            else _Thread(path, readonly=True, busy_timeout=busy_timeout)
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
        return await self._writer.run(body, transaction=True)

    async def read(self, body: Body[T]) -> T:
        return await self._reader.run(body, transaction=False)

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

    def __init__(self, pool: asyncpg.Pool, dsn: str, schema: str | None) -> None:
        self._pool = pool
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
        """Connect a pool; ``schema`` (else the DSN's search_path) holds the tables."""
        import asyncpg

        settings = {"search_path": schema} if schema is not None else None
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                server_settings=settings,
            )
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {redact(dsn)}: {exc} ({type(exc).__name__})"
            ) from exc
        except (asyncpg.InterfaceError, ValueError) as exc:
            raise StoreError(f"bad PostgreSQL URL {redact(dsn)}: {exc}") from exc
        return cls(pool, dsn, schema)

    async def _run(self, body: Body[T], *, transaction: bool) -> T:
        import asyncpg
        from sqlalchemy.util import greenlet_spawn

        if self._closed:
            raise StoreError("the PostgreSQL store is closed")
        for attempt in range(_RETRIES):
            try:
                async with self._pool.acquire() as raw:
                    conn = _PgConn(raw)
                    if not transaction:
                        result: T = await greenlet_spawn(body, conn)
                        return result
                    async with raw.transaction():
                        result = await greenlet_spawn(body, conn)
                        return result
            except VCIssuerError:
                raise
            except asyncpg.PostgresError as exc:
                if exc.sqlstate in _RETRY_SQLSTATES and attempt + 1 < _RETRIES:
                    await asyncio.sleep(0.01 * (attempt + 1))
                    continue
                raise StoreError(f"PostgreSQL error: {exc} (SQLSTATE {exc.sqlstate})") from exc
            except Unique as exc:
                raise StoreError(f"PostgreSQL error: {exc}") from exc
            except (TimeoutError, OSError, asyncpg.InterfaceError) as exc:
                raise StoreError(f"PostgreSQL unavailable: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def write(self, body: Body[T]) -> T:
        return await self._run(body, transaction=True)

    async def read(self, body: Body[T]) -> T:
        return await self._run(body, transaction=False)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._pool.close()

    def location(self) -> StoreLocation:
        options = () if self.schema is None else (("schema", self.schema),)
        return StoreLocation(self.dsn, options)


__all__ = [
    "PIECES",
    "Conn",
    "Database",
    "PostgresDatabase",
    "Shape",
    "SqliteDatabase",
    "Unique",
    "ddl",
    "dumps",
    "expand",
    "has_table",
    "lock_for_migration",
]
