"""The schema, once, as SQLAlchemy Core tables, and the column types that mean the same on both.

SQLite keeps times as TEXT in one fixed, sortable UTC format, JSON and string lists as TEXT and
booleans as 0/1; PostgreSQL uses timestamptz, json, text[] and boolean. The three types below say
so once: the migrations render their DDL from them, and ``dialects.Conn`` converts values with
them, so a query binds and reads the same Python values on either database. These tables are what
the queries in ``sql.py`` see; the migrations create them (a test compares the two).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

SQLITE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def dumps(value: Any) -> str:
    """Compact, order-preserving JSON: the signed credential comes back as it went in."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime; SQLite stores it as fixed-width TEXT, so it sorts and compares."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return value.astimezone(UTC).strftime(SQLITE_TIME_FORMAT)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.strptime(value, SQLITE_TIME_FORMAT).replace(tzinfo=UTC)
        return value.astimezone(UTC) if isinstance(value, datetime) else None


class JsonDoc(TypeDecorator[Any]):
    """A JSON value kept as its text (key order survives): ``json`` on PostgreSQL, TEXT on SQLite.

    PostgreSQL's ``json`` (not ``jsonb``) stores the text as given, so both databases get and
    return the same ``dumps`` text.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSON())
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else dumps(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class StrList(TypeDecorator[list[str]]):
    """A list of strings: ``text[]`` on PostgreSQL, a JSON array as TEXT on SQLite."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(sa.Text()))
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return dumps(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        return list(json.loads(value) if isinstance(value, str) else value)


metadata = sa.MetaData()

Text = sa.Text
Int = sa.Integer
Big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER is the rowid alias


def _col(name: str, type_: Any, *args: Any, nullable: bool = False, **kw: Any) -> sa.Column[Any]:
    """Columns are NOT NULL unless they say otherwise."""
    return sa.Column(name, type_, *args, nullable=nullable, **kw)


schema_version = sa.Table(
    "schema_version",
    metadata,
    _col("version", Int, primary_key=True, autoincrement=False),
    _col("name", Text),
    _col("applied_at", UtcDateTime, server_default=sa.func.now()),
)

credentials = sa.Table(
    "credentials",
    metadata,
    _col("id", Text, primary_key=True),
    _col("page_id", Text, unique=True),
    _col("subject_id", Text, nullable=True, index=True),
    _col("types", StrList),
    _col("issued_at", UtcDateTime, index=True),
    _col("valid_from", UtcDateTime, nullable=True),
    _col("valid_until", UtcDateTime, nullable=True),
    _col("status_entries", JsonDoc),
    _col("credential", JsonDoc),
    _col("idempotency_key", Text, nullable=True, unique=True),
    _col("stored_at", UtcDateTime),
    _col("request_hash", Text, nullable=True),
)

status_lists = sa.Table(
    "status_lists",
    metadata,
    _col("id", Text, primary_key=True),
    _col("kind", Text),
    _col("purpose", Text),
    _col("size", Int),
    _col("created_at", UtcDateTime),
    _col("is_full", sa.Boolean, server_default=sa.false()),
    _col("allocated", Int, server_default=sa.text("0")),
    _col("alloc_bits", sa.LargeBinary),
)
CURRENT_LIST_COLUMNS = ("kind", "purpose", "size")
"""The partial unique index ``status_lists_current``: one list per key is not full."""

status_list_bits = sa.Table(
    "status_list_bits",
    metadata,
    _col("list_id", Text, sa.ForeignKey("status_lists.id"), primary_key=True),
    _col("bits", sa.LargeBinary),
    _col("version", Big),
    _col("updated_at", UtcDateTime),
    _col("credential", JsonDoc, nullable=True),
    _col("credential_version", Big, nullable=True),
)

status_allocations = sa.Table(
    "status_allocations",
    metadata,
    _col("list_id", Text, sa.ForeignKey("status_lists.id"), primary_key=True),
    _col("idx", Int, primary_key=True, autoincrement=False),
    _col("allocated_at", UtcDateTime),
)

status_audit = sa.Table(
    "status_audit",
    metadata,
    _col("id", Big, sa.Identity(always=True), primary_key=True),
    _col("at", UtcDateTime),
    _col("actor", Text),
    _col("credential_id", Text, nullable=True, index=True),
    _col("list_id", Text, sa.ForeignKey("status_lists.id"), index=True),
    _col("idx", Int),
    _col("purpose", Text),
    _col("old", sa.Boolean),
    _col("new", sa.Boolean),
    _col("reason", Text, nullable=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    _col("id", Text, primary_key=True),
    _col("token_hash", Text, unique=True),
    _col("name", Text),
    _col("scopes", StrList),
    _col("created_at", UtcDateTime),
    _col("expires_at", UtcDateTime, nullable=True),
    _col("revoked_at", UtcDateTime, nullable=True),
)

meta = sa.Table("meta", metadata, _col("key", Text, primary_key=True), _col("value", Text))

achievements = sa.Table(
    "achievements",
    metadata,
    _col("id", Text, primary_key=True),
    _col("version", Int),
    _col("data", JsonDoc),
    _col("archived", sa.Boolean, server_default=sa.false()),
    _col("created_at", UtcDateTime),
    _col("updated_at", UtcDateTime),
)

achievement_versions = sa.Table(
    "achievement_versions",
    metadata,
    _col("achievement_id", Text, sa.ForeignKey("achievements.id"), primary_key=True),
    _col("version", Int, primary_key=True, autoincrement=False),
    _col("data", JsonDoc),
    _col("created_at", UtcDateTime),
)

images = sa.Table(
    "images",
    metadata,
    _col("sha256", Text, primary_key=True),
    _col("media_type", Text),
    _col("data", sa.LargeBinary),
    _col("created_at", UtcDateTime),
)

exchanges = sa.Table(
    "exchanges",
    metadata,
    _col("id", Text, primary_key=True),
    _col("kind", Text),
    _col("state", Text),
    _col("credential_id", Text, nullable=True, index=True),
    _col("template", JsonDoc, nullable=True),
    _col("created_at", UtcDateTime),
    _col("expires_at", UtcDateTime),
    _col("updated_at", UtcDateTime),
    _col("version", Int, server_default=sa.text("1")),
    _col("data", JsonDoc),
    _col("result", JsonDoc, nullable=True),
    _col("lookup_hash", Text, nullable=True, unique=True),
    _col("attempts", Int, server_default=sa.text("0")),
)

claims = sa.Table(
    "claims",
    metadata,
    _col("id", Text, primary_key=True),
    _col("token_hash", Text, unique=True),
    _col("credential_id", Text, index=True),
    _col("created_at", UtcDateTime),
    _col("expires_at", UtcDateTime),
    _col("revoked_at", UtcDateTime, nullable=True),
    _col("last_used_at", UtcDateTime, nullable=True),
)

outbox = sa.Table(
    "outbox",
    metadata,
    _col("id", Text, primary_key=True),
    _col("dedupe_key", Text, unique=True),
    _col("credential_id", Text, nullable=True, index=True),
    _col("recipient", Text),
    _col("template", Text, nullable=True),
    _col("claim_link", Text, nullable=True),
    _col("data", JsonDoc),
    _col("status", Text),
    _col("attempts", Int, server_default=sa.text("0")),
    _col("next_attempt_at", UtcDateTime),
    _col("last_error", Text, nullable=True),
    _col("created_at", UtcDateTime),
    _col("updated_at", UtcDateTime),
    _col("sent_at", UtcDateTime, nullable=True),
)
"""Email waiting to go (or gone): written in the award's transaction, sent by the sender."""
