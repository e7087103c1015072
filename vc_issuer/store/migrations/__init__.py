"""Versioned schema migrations, written once with Alembic's operations for both databases.

Each step is a function of an ``alembic.operations.Operations``: ``op.create_table``,
``op.add_column``, ``op.batch_alter_table`` (SQLite's ALTER TABLE is limited: batch mode rebuilds
the table) and ``op.execute`` for data. A step is never edited once released: a schema change is a
new step with the next version, and ``schema.py`` changes with it (a test checks that migrating an
empty database gives exactly ``schema.metadata``).

Versions are recorded in the ``schema_version`` table homes have had from the start (not in
Alembic's ``alembic_version``): existing stores keep their history and open as they are. The
store applies the missing steps in one transaction, under a lock (SQLite: BEGIN IMMEDIATE;
PostgreSQL: an advisory lock), so processes that start together migrate once.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from vc_issuer.errors import StoreError
from vc_issuer.store.schema import Big, JsonDoc, StrList, UtcDateTime

if TYPE_CHECKING:
    from alembic.operations import Operations


@dataclass(frozen=True)
class Step:
    version: int
    name: str
    upgrade: Callable[[Operations], None]


@dataclass(frozen=True)
class Migration:
    """A step rendered as one database's SQL (what ``upgrade`` runs there)."""

    version: int
    name: str
    statements: tuple[str, ...]


def _not_null(name: str, type_: Any, *args: Any, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, type_, *args, nullable=False, **kw)


def _initial(op: Operations) -> None:
    op.create_table(
        "credentials",
        _not_null("id", sa.Text, primary_key=True),
        _not_null("page_id", sa.Text, unique=True),
        sa.Column("subject_id", sa.Text),
        _not_null("types", StrList),
        _not_null("issued_at", UtcDateTime),
        sa.Column("valid_from", UtcDateTime),
        sa.Column("valid_until", UtcDateTime),
        _not_null("status_entries", JsonDoc),
        _not_null("credential", JsonDoc),
        sa.Column("idempotency_key", sa.Text, unique=True),
        _not_null("stored_at", UtcDateTime),
    )
    op.create_index("credentials_subject", "credentials", ["subject_id"])
    op.create_index("credentials_issued", "credentials", ["issued_at"])
    op.create_table(
        "status_lists",
        _not_null("id", sa.Text, primary_key=True),
        _not_null("kind", sa.Text),
        _not_null("purpose", sa.Text),
        _not_null("size", sa.Integer),
        _not_null("created_at", UtcDateTime),
        _not_null("is_full", sa.Boolean, server_default=sa.false()),
        _not_null("allocated", sa.Integer, server_default=sa.text("0")),
        _not_null("alloc_bits", sa.LargeBinary),
        sa.CheckConstraint("kind IN ('BitstringStatusList', 'StatusList2021')"),
        sa.CheckConstraint("size > 0"),
        sa.CheckConstraint("allocated >= 0 AND allocated <= size"),
    )
    op.create_index(
        "status_lists_current",
        "status_lists",
        ["kind", "purpose", "size"],
        unique=True,
        sqlite_where=sa.text("is_full = 0"),
        postgresql_where=sa.text("NOT is_full"),
    )
    op.create_table(
        "status_list_bits",
        _not_null("list_id", sa.Text, sa.ForeignKey("status_lists.id"), primary_key=True),
        _not_null("bits", sa.LargeBinary),
        _not_null("version", Big),
        _not_null("updated_at", UtcDateTime),
        sa.Column("credential", JsonDoc),
        sa.Column("credential_version", Big),
    )
    op.create_table(
        "status_allocations",
        _not_null("list_id", sa.Text, sa.ForeignKey("status_lists.id"), primary_key=True),
        _not_null("idx", sa.Integer, sa.CheckConstraint("idx >= 0"), primary_key=True),
        _not_null("allocated_at", UtcDateTime),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "status_audit",
        _not_null("id", Big, sa.Identity(always=True), primary_key=True),
        _not_null("at", UtcDateTime),
        _not_null("actor", sa.Text),
        sa.Column("credential_id", sa.Text),
        _not_null("list_id", sa.Text, sa.ForeignKey("status_lists.id")),
        _not_null("idx", sa.Integer),
        _not_null("purpose", sa.Text),
        _not_null("old", sa.Boolean),
        _not_null("new", sa.Boolean),
        sa.Column("reason", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_index("status_audit_credential", "status_audit", ["credential_id"])
    op.create_index("status_audit_list", "status_audit", ["list_id"])
    op.create_table(
        "api_tokens",
        _not_null("id", sa.Text, primary_key=True),
        _not_null("token_hash", sa.Text, unique=True),
        _not_null("name", sa.Text),
        _not_null("scopes", StrList),
        _not_null("created_at", UtcDateTime),
        sa.Column("expires_at", UtcDateTime),
        sa.Column("revoked_at", UtcDateTime),
    )
    op.create_table(
        "meta",
        _not_null("key", sa.Text, primary_key=True),
        _not_null("value", sa.Text),
    )


def _achievements(op: Operations) -> None:
    op.create_table(
        "achievements",
        _not_null("id", sa.Text, primary_key=True),
        _not_null("version", sa.Integer, sa.CheckConstraint("version >= 1")),
        _not_null("data", JsonDoc),
        _not_null("archived", sa.Boolean, server_default=sa.false()),
        _not_null("created_at", UtcDateTime),
        _not_null("updated_at", UtcDateTime),
    )
    op.create_table(
        "achievement_versions",
        _not_null("achievement_id", sa.Text, sa.ForeignKey("achievements.id"), primary_key=True),
        _not_null("version", sa.Integer, primary_key=True),
        _not_null("data", JsonDoc),
        _not_null("created_at", UtcDateTime),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "images",
        _not_null("sha256", sa.Text, primary_key=True),
        _not_null("media_type", sa.Text),
        _not_null("data", sa.LargeBinary),
        _not_null("created_at", UtcDateTime),
    )


def _exchanges(op: Operations) -> None:
    op.create_table(
        "exchanges",
        _not_null("id", sa.Text, primary_key=True),
        _not_null("kind", sa.Text, sa.CheckConstraint("kind IN ('vcapi', 'oid4vci')")),
        _not_null(
            "state",
            sa.Text,
            sa.CheckConstraint("state IN ('pending', 'active', 'complete', 'expired', 'failed')"),
        ),
        sa.Column("credential_id", sa.Text),
        sa.Column("template", JsonDoc),
        _not_null("created_at", UtcDateTime),
        _not_null("expires_at", UtcDateTime),
        _not_null("updated_at", UtcDateTime),
        _not_null("version", sa.Integer, server_default=sa.text("1")),
        _not_null("data", JsonDoc),
        sa.Column("result", JsonDoc),
        sa.Column("lookup_hash", sa.Text, unique=True),
        sa.CheckConstraint("credential_id IS NOT NULL OR template IS NOT NULL"),
    )
    op.create_index("exchanges_credential", "exchanges", ["credential_id"])
    op.create_index("exchanges_expiry", "exchanges", ["state", "expires_at"])


def _claims(op: Operations) -> None:
    op.create_table(
        "claims",
        _not_null("id", sa.Text, primary_key=True),
        _not_null("token_hash", sa.Text, unique=True),
        _not_null("credential_id", sa.Text),
        _not_null("created_at", UtcDateTime),
        _not_null("expires_at", UtcDateTime),
        sa.Column("revoked_at", UtcDateTime),
        sa.Column("last_used_at", UtcDateTime),
        sa.CheckConstraint("expires_at > created_at"),
    )
    op.create_index("claims_credential", "claims", ["credential_id"])


def _limits(op: Operations) -> None:
    """Attempt counters the store checks and counts in one statement; the request an
    idempotency key was first used with; an index for purging expired exchanges."""
    op.add_column("exchanges", _not_null("attempts", sa.Integer, server_default=sa.text("0")))
    op.add_column("credentials", sa.Column("request_hash", sa.Text))
    op.create_index("exchanges_expires", "exchanges", ["expires_at"])


def _outbox(op: Operations) -> None:
    op.create_table(
        "outbox",
        _not_null("id", sa.Text, primary_key=True),
        _not_null("dedupe_key", sa.Text, unique=True),
        sa.Column("credential_id", sa.Text),
        _not_null("recipient", sa.Text),
        sa.Column("template", sa.Text),
        sa.Column("claim_url", sa.Text),
        _not_null("data", JsonDoc),
        _not_null(
            "status",
            sa.Text,
            sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')"),
        ),
        _not_null("attempts", sa.Integer, server_default=sa.text("0")),
        _not_null("next_attempt_at", UtcDateTime),
        sa.Column("last_error", sa.Text),
        _not_null("created_at", UtcDateTime),
        _not_null("updated_at", UtcDateTime),
        sa.Column("sent_at", UtcDateTime),
    )
    op.create_index("outbox_credential", "outbox", ["credential_id"])
    op.create_index("outbox_due", "outbox", ["status", "next_attempt_at"])


def _claim_link(op: Operations) -> None:
    """The outbox's personal link is ``claim_link``, as everywhere else (``claim_url`` named the
    public page in the batch CSV once; the public page is ``page_url``)."""
    op.alter_column("outbox", "claim_url", new_column_name="claim_link")


STEPS: tuple[Step, ...] = (
    Step(1, "initial", _initial),
    Step(2, "achievements", _achievements),
    Step(3, "exchanges", _exchanges),
    Step(4, "claims", _claims),
    Step(5, "limits", _limits),
    Step(6, "outbox", _outbox),
    Step(7, "claim_link", _claim_link),
)
LATEST = len(STEPS)


def check_ordered(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """Versions must be 1..n without gaps, so "applied up to v" is meaningful."""
    for expected, step in enumerate(steps, start=1):
        if step.version != expected:
            raise RuntimeError(
                f"migration {step.name} has version {step.version}, expected {expected}"
            )
    return steps


check_ordered(STEPS)


def pending(version: int) -> tuple[Step, ...]:
    """The steps a store at ``version`` still needs; refuses a store newer than this code."""
    if version > LATEST:
        raise StoreError(
            f"the store has schema version {version}, newer than this software"
            f" (knows up to {LATEST}); upgrade vc-issuer"
        )
    return STEPS[version:]


@cache
def rendered(dialect: str) -> tuple[Migration, ...]:
    """Every step as the SQL it runs on ``dialect`` ("sqlite" or "postgresql"), for review."""
    # Rendering SQL offline is not news: without this, every start logs Alembic's plugin
    # set-up lines (on import) and its "Generating static SQL" lines once per step.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    out: list[Migration] = []
    for step in STEPS:
        buffer = io.StringIO()
        ctx = MigrationContext.configure(
            dialect_name=dialect, opts={"as_sql": True, "output_buffer": buffer}
        )
        step.upgrade(Operations(ctx))
        statements = tuple(s.strip() for s in buffer.getvalue().split(";\n") if s.strip())
        out.append(Migration(step.version, step.name, statements))
    return tuple(out)
