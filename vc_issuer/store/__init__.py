"""Persistence: one async ``Store`` interface over SQLite (embedded default) or PostgreSQL.

``open_store`` picks the database from its argument: a ``postgresql://`` (or ``postgres://``) URL
opens PostgreSQL, anything else is a SQLite file path (``sqlite:///path`` also accepted). It both
awaits and works as an async context manager::

    store = await open_store("data/store.sqlite3")
    async with open_store(os.environ["VC_ISSUER_DATABASE_URL"]) as store: ...

The package, top down: ``base`` (records, the ``Store`` interface, input checks, index drawing),
``sql`` (``SqlStore``: every operation once, as SQL both databases run), ``dialects`` (the few
words that differ, and running a transaction on sqlite3 in a thread or asyncpg), ``schema`` (the
tables, once, as SQLAlchemy Core) and ``migrations`` (versioned steps, once, as Alembic operations).

Adding a table and its methods (an outbox, say) is one change in three files, all in this package:

1. ``schema.py``: the ``sa.Table`` (``UtcDateTime`` for times, ``JsonDoc`` for JSON, ``StrList``
   for string lists: they store the same values on both databases);
2. ``migrations/__init__.py``: a new ``Step(n + 1, "outbox", _outbox)`` whose function makes the
   table with ``op.create_table(...)`` (never edit a released step; ``test_sql_layer`` checks that
   the steps build exactly ``schema.metadata``);
3. ``base.py`` (the abstract method, or a public method that checks its arguments and ends in an
   abstract ``_`` hook; its record dataclass, fields named like the columns) and ``sql.py`` (the
   method or hook: a body of ``conn.insert`` / ``conn.update`` / ``conn.fetch(SHAPE, sql)`` with
   ``:name`` parameters). Where the two databases must spell SQL differently (a row lock, a
   boolean literal), use a ``{PIECE}`` from ``dialects.PIECES`` or add one there.

Then add its cases to the contract tests (``tests/vc_issuer/store/``): they run on both databases.
"""

from __future__ import annotations

from collections.abc import Generator
from os import PathLike, fspath
from typing import Any

from vc_issuer.core.status import get_bit, set_bit
from vc_issuer.errors import ConfigError
from vc_issuer.store.base import (
    KEEP,
    STATUS_LIST_KINDS,
    AchievementRecord,
    Attached,
    AuditEntry,
    ClaimRecord,
    CredentialRecord,
    CredentialRef,
    ExchangeRecord,
    ImageRecord,
    OutboxRecord,
    StatusListKind,
    StatusListRecord,
    Store,
    StoreLocation,
    TokenRecord,
    new_exchange_id,
    new_page_id,
    pick_free,
)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url_or_path: str | PathLike[str]) -> bool:
    return isinstance(url_or_path, str) and url_or_path.startswith(POSTGRES_SCHEMES)


async def _open(url_or_path: str | PathLike[str], migrate: bool, options: dict[str, Any]) -> Store:
    from vc_issuer.store.dialects import Database, PostgresDatabase, SqliteDatabase
    from vc_issuer.store.sql import SqlStore

    db: Database
    if is_postgres_url(url_or_path):
        db = await PostgresDatabase.open(fspath(url_or_path), **options)
    else:
        target = fspath(url_or_path)
        if target.startswith("sqlite:///"):
            target = target[len("sqlite:///") :] or ":memory:"
        elif "://" in target:
            raise ConfigError(
                f"unsupported store URL {target.split('://', 1)[0]}://...: use a postgresql://"
                " URL or a SQLite file path"
            )
        db = await SqliteDatabase.open(target, **options)
    store = SqlStore(db)
    try:
        if migrate:
            await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store


class _Opening:
    """Awaitable *and* async context manager, so callers choose how to own the store."""

    def __init__(self, url_or_path: str | PathLike[str], migrate: bool, options: dict[str, Any]):
        self._args = (url_or_path, migrate, options)
        self._store: Store | None = None

    def __await__(self) -> Generator[Any, None, Store]:
        return _open(*self._args).__await__()

    async def __aenter__(self) -> Store:
        self._store = await _open(*self._args)
        return self._store

    async def __aexit__(self, *exc_info: object) -> None:
        if self._store is not None:
            await self._store.close()


def open_store(
    url_or_path: str | PathLike[str], *, migrate: bool = True, **options: Any
) -> _Opening:
    """Open (and by default migrate) the store at a SQLite path or a PostgreSQL URL.

    ``options`` go to the backend: SQLite ``busy_timeout``; PostgreSQL ``schema``, ``min_size``,
    ``max_size``, ``connect_timeout``. Failures raise ``StoreError`` (or ``ConfigError``).
    """
    return _Opening(url_or_path, migrate, options)


__all__ = [
    "KEEP",
    "STATUS_LIST_KINDS",
    "AchievementRecord",
    "Attached",
    "AuditEntry",
    "ClaimRecord",
    "CredentialRecord",
    "CredentialRef",
    "ExchangeRecord",
    "ImageRecord",
    "OutboxRecord",
    "StatusListKind",
    "StatusListRecord",
    "Store",
    "StoreLocation",
    "TokenRecord",
    "get_bit",
    "is_postgres_url",
    "new_exchange_id",
    "new_page_id",
    "open_store",
    "pick_free",
    "set_bit",
]
