"""The one ``Store``: each operation is one query (or one transaction body) for SQLite and
PostgreSQL alike; ``dialects.py`` holds the few words that differ.

A write is a plain function of a ``Conn`` that ``Database.write`` runs in one transaction holding
the write lock; a read goes through ``Database.read``. Checks run before the body, in the caller's
coroutine (``base.check_*``), so a body only talks to the database. Rows become records by name
(``Shape``): record fields are named like the columns they come from.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from vc_issuer.errors import ConflictError, MalformedInputError, NotFoundError
from vc_issuer.store import migrations
from vc_issuer.store.base import (
    AchievementRecord,
    Attached,
    AuditEntry,
    BitChange,
    ClaimRecord,
    CredentialRecord,
    CredentialRef,
    ExchangeRecord,
    ExchangeUpdate,
    ImageRecord,
    OutboxRecord,
    StatusListRecord,
    Store,
    StoreLocation,
    TokenRecord,
    apply_bit,
    as_utc,
    bitmap_len,
    check_achievement_data,
    check_change,
    check_claim,
    check_exchange,
    check_exchange_state,
    check_expected_version,
    check_image,
    check_keys,
    check_list_credential,
    check_mail,
    check_meta,
    check_record,
    check_version,
    pick_free_blocks,
    utcnow,
)
from vc_issuer.store.dialects import (
    Conn,
    Database,
    Shape,
    Unique,
    ddl,
    expand,
    has_table,
    lock_for_migration,
)
from vc_issuer.store.schema import (
    achievement_versions,
    achievements,
    api_tokens,
    claims,
    credentials,
    exchanges,
    images,
    meta,
    metadata,
    outbox,
    schema_version,
    status_allocations,
    status_audit,
    status_list_bits,
    status_lists,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R")

# --- shapes and the columns they select -----------------------------------------------------------

CRED = Shape(CredentialRecord, credentials)
CRED_COLS = (
    "id, subject_id, types, issued_at, valid_from, valid_until, status_entries, credential,"
    " idempotency_key, page_id, request_hash"
)
LIST = Shape(StatusListRecord, status_lists, status_list_bits, full="is_full")
LIST_FROM = (
    "SELECT l.id, l.kind, l.purpose, l.size, b.bits, b.version, b.updated_at, l.created_at,"
    ' l.is_full AS "full", l.allocated, b.credential, b.credential_version'
    " FROM status_lists l JOIN status_list_bits b ON b.list_id = l.id"
)
AUDIT = Shape(AuditEntry, status_audit, index="idx")
AUDIT_COLS = 'id, at, actor, credential_id, list_id, idx AS "index", purpose, old, new, reason'
TOKEN = Shape(TokenRecord, api_tokens)
ACHIEVEMENT = Shape(AchievementRecord, achievements)
OLD_ACHIEVEMENT: Shape[dict[str, Any]] = Shape(dict, achievement_versions)
IMAGE = Shape(ImageRecord, images)
EXCHANGE = Shape(ExchangeRecord, exchanges)
CLAIM = Shape(ClaimRecord, claims)
MAIL = Shape(OutboxRecord, outbox)
ROW: Shape[dict[str, Any]] = Shape(dict, *metadata.tables.values())  # counts, ids, flags
LISTED: dict[type, tuple[Shape[Any], str]] = {
    ExchangeRecord: (EXCHANGE, "exchanges"),
    ClaimRecord: (CLAIM, "claims"),
    OutboxRecord: (MAIL, "outbox"),
}
"""The records ``Store._newest`` lists, by the shape and the table they are read with."""


def _where(**equal: Any) -> tuple[str, dict[str, Any]]:
    """``WHERE column = :column AND ...`` for the filters given (None: that column is not
    filtered), and its parameters. Column names come from this module, never from input."""
    given = {column: value for column, value in equal.items() if value is not None}
    clause = " AND ".join(f"{column} = :{column}" for column in given)
    return ("WHERE " + clause if clause else ""), given


class SqlStore(Store):
    """``Store`` over a ``Database`` (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.backend = db.name
        self._closed = False

    def location(self) -> StoreLocation | None:
        return self.db.location()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.db.close()

    async def _first(
        self, shape: Shape[R], sql: str, params: dict[str, Any] | None = None
    ) -> R | None:
        return await self.db.read(lambda conn: conn.first(shape, sql, params))

    async def _fetch(
        self, shape: Shape[R], sql: str, params: dict[str, Any] | None = None
    ) -> list[R]:
        return await self.db.read(lambda conn: conn.fetch(shape, sql, params))

    async def _newest(self, record: type[R], limit: int, **equal: str | None) -> list[R]:
        """Rows matching ``equal`` (see ``_where``), newest first, ``limit`` at most."""
        if limit < 0:
            raise MalformedInputError("limit must be non-negative")
        shape, table = LISTED[record]
        where, params = _where(**equal)
        sql = f"SELECT * FROM {table} {where} ORDER BY created_at DESC, id LIMIT :limit"
        return await self._fetch(shape, sql, {**params, "limit": limit})

    # --- schema ----------------------------------------------------------------------------------

    async def migrate(self) -> int:
        def apply(conn: Conn) -> int:
            lock_for_migration(conn, self.db.schema)
            ddl(conn, sa.schema.CreateTable(schema_version, if_not_exists=True))
            version = conn.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            for step in migrations.pending(int(version)):
                for statement in migrations.rendered(conn.dialect.name)[
                    step.version - 1
                ].statements:
                    conn.raw(statement)
                conn.insert(
                    schema_version,
                    {"version": step.version, "name": step.name, "applied_at": utcnow()},
                )
                version = step.version
            return int(version)

        return await self.db.write(apply)

    async def schema_version(self) -> int:
        def read(conn: Conn) -> int:
            if not has_table(conn, "schema_version"):
                return 0
            return int(conn.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version"))

        return await self.db.read(read)

    # --- credentials ------------------------------------------------------------------------------

    @staticmethod
    def _put(conn: Conn, r: CredentialRecord) -> CredentialRecord:
        row = _row(credentials, r, stored_at=utcnow())
        if conn.insert(credentials, row, "ON CONFLICT DO NOTHING") == 1:
            return r
        # Lost to a stored (or just-committed) row: the key wins, else it is a conflict.
        if r.idempotency_key is not None:
            sql = f"SELECT {CRED_COLS} FROM credentials WHERE idempotency_key = :key"
            stored = conn.first(CRED, sql, {"key": r.idempotency_key})
            if stored is not None:
                return stored
        if conn.scalar("SELECT 1 FROM credentials WHERE id = :id", {"id": r.id}) is not None:
            raise ConflictError(f"a credential with id {r.id!r} is already stored")
        raise ConflictError(f"credential record {r.id!r} conflicts on its page id")

    async def put_credential(self, record: CredentialRecord) -> CredentialRecord:
        rec = check_record(record)
        return await self.db.write(lambda conn: self._put(conn, rec))

    async def put_credentials(
        self,
        records: Sequence[CredentialRecord],
        *,
        attached: Mapping[str, Attached] | None = None,
    ) -> list[CredentialRecord]:
        recs = [check_record(r) for r in records]
        if not recs:
            return []
        if not attached:
            return await self.db.write(lambda conn: [self._put(conn, r) for r in recs])
        extra = {
            r.id: Attached(
                tuple(check_claim(c) for c in attached[r.id].claims),
                tuple(check_mail(m) for m in attached[r.id].mail),
            )
            for r in recs
            if r.id in attached
        }

        def put(conn: Conn) -> list[CredentialRecord]:
            out = [self._put(conn, r) for r in recs]
            new_claims: list[ClaimRecord] = []
            new_mail: list[OutboxRecord] = []
            for rec, stored in zip(recs, out, strict=True):
                more = extra.get(rec.id)
                if more is not None and stored is rec:  # new here, not an earlier award
                    new_claims.extend(more.claims)
                    new_mail.extend(more.mail)
            try:
                conn.insert(claims, [_row(claims, c) for c in new_claims])
            except Unique as exc:
                raise ConflictError("a claim id or token hash is taken") from exc
            try:
                conn.insert(outbox, [_row(outbox, m) for m in new_mail])
            except Unique as exc:
                raise ConflictError("an outbox message id or dedupe key is taken") from exc
            return out

        return await self.db.write(put)

    async def _cred_by(self, column: str, value: str) -> CredentialRecord | None:
        sql = f"SELECT {CRED_COLS} FROM credentials WHERE {column} = :v"
        return await self._first(CRED, sql, {"v": value})

    async def get_credential(self, credential_id: str) -> CredentialRecord | None:
        return await self._cred_by("id", credential_id)

    async def get_credential_by_page_id(self, page_id: str) -> CredentialRecord | None:
        return await self._cred_by("page_id", page_id)

    async def get_by_idempotency_key(self, key: str) -> CredentialRecord | None:
        return await self._cred_by("idempotency_key", key)

    async def list_credentials(
        self, limit: int = 100, offset: int = 0, *, subject_id: str | None = None
    ) -> list[CredentialRecord]:
        if limit < 0 or offset < 0:
            raise MalformedInputError("limit and offset must be non-negative")
        where, params = _where(subject_id=subject_id)
        sql = (
            f"SELECT {CRED_COLS} FROM credentials {where}"
            " ORDER BY issued_at DESC, id LIMIT :limit OFFSET :offset"
        )
        return await self._fetch(CRED, sql, {**params, "limit": limit, "offset": offset})

    async def count_credentials(self) -> int:
        return int(await self.db.read(lambda c: c.scalar("SELECT COUNT(*) FROM credentials")))

    # --- status lists -----------------------------------------------------------------------------

    async def _allocate(
        self, kind: str, purpose: str, size: int, block: int, count: int, rng: random.Random
    ) -> list[tuple[str, int]]:
        key = {"kind": kind, "purpose": purpose, "size": size}

        def allocate(conn: Conn) -> list[tuple[str, int]]:
            out: list[tuple[str, int]] = []
            now = utcnow()
            while len(out) < count:
                current = conn.first(  # allocators in every process queue on this row
                    ROW,
                    "SELECT id, allocated, alloc_bits FROM status_lists WHERE kind = :kind"
                    " AND purpose = :purpose AND size = :size AND is_full = {FALSE}"
                    " {FOR_NO_KEY_UPDATE}",
                    key,
                )
                if current is None:
                    self._new_list(conn, kind, purpose, size, now)
                    continue  # lock whichever current list won
                list_id, allocated = current["id"], current["allocated"]
                alloc = bytearray(current["alloc_bits"])
                n = min(count - len(out), (size - allocated) // block)
                if n > 0:
                    # entry e is bits e*block .. e*block+block-1 (one bit when block is 1)
                    picked = pick_free_blocks(alloc, size, allocated, block, n, rng)
                    # The primary key is the last guard: a duplicate aborts the transaction.
                    conn.insert(
                        status_allocations,
                        [
                            {"list_id": list_id, "idx": e * block + k, "allocated_at": now}
                            for e in picked
                            for k in range(block)
                        ],
                    )
                    allocated += n * block
                    out.extend((list_id, e) for e in picked)
                conn.update(  # full once no whole block is left
                    status_lists,
                    {
                        "alloc_bits": bytes(alloc),
                        "allocated": allocated,
                        "is_full": size - allocated < block,
                    },
                    "id = :id",
                    {"id": list_id},
                )
            return out

        return await self.db.write(allocate)

    @staticmethod
    def _new_list(conn: Conn, kind: str, purpose: str, size: int, now: datetime) -> None:
        """Start a list unless another process just did (one current list per kind/purpose/size)."""
        list_id = str(uuid.uuid4())
        empty = bytes(bitmap_len(size))
        row = {
            "id": list_id,
            "kind": kind,
            "purpose": purpose,
            "size": size,
            "created_at": now,
            "alloc_bits": empty,
        }
        tail = "ON CONFLICT (kind, purpose, size) WHERE is_full = {FALSE} DO NOTHING"
        if conn.insert(status_lists, row, tail) == 1:
            bits = {"list_id": list_id, "bits": empty, "version": 1, "updated_at": now}
            conn.insert(status_list_bits, bits)

    async def allocated_indices(self, list_id: str) -> list[int]:
        rows = await self._fetch(
            ROW,
            "SELECT idx FROM status_allocations WHERE list_id = :id ORDER BY idx",
            {"id": list_id},
        )
        return [int(r["idx"]) for r in rows]

    async def _apply_bit_change(self, c: BitChange) -> tuple[bool, ...]:
        def change(conn: Conn) -> tuple[bool, ...]:
            row = conn.first(
                ROW,
                "SELECT l.purpose, l.size, l.alloc_bits, b.bits FROM status_lists l"
                " JOIN status_list_bits b ON b.list_id = l.id WHERE l.id = :id"
                " {FOR_NO_KEY_UPDATE_OF_BITS}",
                {"id": c.list_id},
            )
            if row is None:
                raise NotFoundError(f"no status list {c.list_id!r}")
            purpose = row["purpose"]
            bits: bytes = row["bits"]
            olds: list[bool] = []
            audits: list[dict[str, Any]] = []
            now = utcnow()
            for offset, value in enumerate(c.values):
                index = c.index + offset
                check_change(c.list_id, purpose, row["size"], row["alloc_bits"], index, c.purpose)
                old, changed = apply_bit(bits, index, value)
                olds.append(old)
                if changed is not None:
                    bits = changed
                    audits.append(
                        {
                            "at": now,
                            "actor": c.actor,
                            "credential_id": c.credential_id,
                            "list_id": c.list_id,
                            "idx": index,
                            "purpose": purpose,
                            "old": old,
                            "new": value,
                            "reason": c.reason,
                        }
                    )
            if audits:  # all bits and their audit rows in this one transaction
                conn.update(
                    status_list_bits,
                    {"bits": bits, "version": sa.text("version + 1"), "updated_at": now},
                    "list_id = :id",
                    {"id": c.list_id},
                )
                for audit in audits:
                    conn.insert(status_audit, audit)
            return tuple(olds)

        return await self.db.write(change)

    async def get_status_list(self, list_id: str) -> StatusListRecord | None:
        return await self._first(LIST, f"{LIST_FROM} WHERE l.id = :id", {"id": list_id})

    async def list_status_lists(self) -> list[StatusListRecord]:
        return await self._fetch(LIST, f"{LIST_FROM} ORDER BY l.created_at, l.id")

    async def save_list_credential(
        self, list_id: str, version: int, credential: dict[str, Any]
    ) -> bool:
        check_list_credential(credential)

        def save(conn: Conn) -> bool:
            row = conn.first(
                ROW,
                "SELECT version, credential_version FROM status_list_bits WHERE list_id = :id"
                " {FOR_NO_KEY_UPDATE}",
                {"id": list_id},
            )
            if row is None:
                raise NotFoundError(f"no status list {list_id!r}")
            check_version(list_id, version, row["version"])
            kept = row["credential_version"]
            if kept is not None and kept > version:
                return False
            conn.update(
                status_list_bits,
                {"credential": credential, "credential_version": version},
                "list_id = :id",
                {"id": list_id},
            )
            return True

        return await self.db.write(save)

    async def audit_log(
        self, credential_id: str | None = None, *, list_id: str | None = None
    ) -> list[AuditEntry]:
        where, params = _where(credential_id=credential_id, list_id=list_id)
        return await self._fetch(
            AUDIT, f"SELECT {AUDIT_COLS} FROM status_audit {where} ORDER BY id", params
        )

    # --- tokens -----------------------------------------------------------------------------------

    async def _insert_token(self, token: TokenRecord) -> TokenRecord:
        row = _row(api_tokens, token)

        def insert(conn: Conn) -> TokenRecord:
            if conn.insert(api_tokens, row, "ON CONFLICT DO NOTHING") != 1:
                raise ConflictError("a token with this hash already exists")
            return token

        return await self.db.write(insert)

    async def get_token_by_hash(self, token_hash: str) -> TokenRecord | None:
        return await self._first(
            TOKEN, "SELECT * FROM api_tokens WHERE token_hash = :h", {"h": token_hash}
        )

    async def list_tokens(self) -> list[TokenRecord]:
        return await self._fetch(TOKEN, "SELECT * FROM api_tokens ORDER BY created_at, id")

    async def revoke_token(self, token_id: str) -> bool:
        def revoke(conn: Conn) -> bool:
            row = conn.first(
                ROW,
                "SELECT revoked_at FROM api_tokens WHERE id = :id {FOR_UPDATE}",
                {"id": token_id},
            )
            if row is None:
                raise NotFoundError(f"no API token with id {token_id!r}")
            if row["revoked_at"] is not None:
                return False
            conn.update(api_tokens, {"revoked_at": utcnow()}, "id = :id", {"id": token_id})
            return True

        return await self.db.write(revoke)

    # --- achievements and images ------------------------------------------------------------

    async def create_achievement(
        self, achievement_id: str, data: dict[str, Any]
    ) -> AchievementRecord:
        check_achievement_data(achievement_id, data)

        def insert(conn: Conn) -> AchievementRecord:
            now = utcnow()
            row = {
                "id": achievement_id,
                "version": 1,
                "data": data,
                "created_at": now,
                "updated_at": now,
            }
            if conn.insert(achievements, row, "ON CONFLICT DO NOTHING") != 1:
                raise ConflictError(f"an achievement with id {achievement_id!r} already exists")
            first = {
                "achievement_id": achievement_id,
                "version": 1,
                "data": data,
                "created_at": now,
            }
            conn.insert(achievement_versions, first)
            return AchievementRecord(achievement_id, 1, data, False, now, now)

        return await self.db.write(insert)

    @staticmethod
    def _current(conn: Conn, achievement_id: str, lock: str = "") -> AchievementRecord | None:
        return conn.first(
            ACHIEVEMENT, f"SELECT * FROM achievements WHERE id = :id {lock}", {"id": achievement_id}
        )

    def _locked(self, conn: Conn, achievement_id: str) -> AchievementRecord:
        current = self._current(conn, achievement_id, "{FOR_UPDATE}")
        if current is None:
            raise NotFoundError(f"no achievement {achievement_id!r}")
        return current

    async def update_achievement(
        self, achievement_id: str, data: dict[str, Any], *, expected_version: int | None = None
    ) -> AchievementRecord:
        check_achievement_data(achievement_id, data)

        def update(conn: Conn) -> AchievementRecord:
            current = self._locked(conn, achievement_id)
            check_expected_version(achievement_id, expected_version, current.version)
            now = utcnow()
            version = current.version + 1
            conn.update(
                achievements,
                {"version": version, "data": data, "updated_at": now},
                "id = :id",
                {"id": achievement_id},
            )
            kept = {
                "achievement_id": achievement_id,
                "version": version,
                "data": data,
                "created_at": now,
            }
            conn.insert(achievement_versions, kept)
            return AchievementRecord(
                achievement_id, version, data, current.archived, current.created_at, now
            )

        return await self.db.write(update)

    async def get_achievement(
        self, achievement_id: str, version: int | None = None
    ) -> AchievementRecord | None:
        def read(conn: Conn) -> AchievementRecord | None:
            current = self._current(conn, achievement_id)
            if current is None or version is None or version == current.version:
                return current
            old = conn.first(
                OLD_ACHIEVEMENT,
                "SELECT data, created_at FROM achievement_versions"
                " WHERE achievement_id = :id AND version = :version",
                {"id": achievement_id, "version": version},
            )
            if old is None:
                return None
            return AchievementRecord(
                achievement_id,
                version,
                old["data"],
                current.archived,
                current.created_at,
                old["created_at"],
            )

        return await self.db.read(read)

    async def list_achievements(self, *, include_archived: bool = False) -> list[AchievementRecord]:
        where = "" if include_archived else "WHERE archived = {FALSE}"
        return await self._fetch(
            ACHIEVEMENT, f"SELECT * FROM achievements {where} ORDER BY created_at, id"
        )

    async def set_achievement_archived(
        self, achievement_id: str, archived: bool
    ) -> AchievementRecord:
        def change(conn: Conn) -> AchievementRecord:
            current = self._locked(conn, achievement_id)
            if current.archived == bool(archived):
                return current
            now = utcnow()
            conn.update(
                achievements,
                {"archived": bool(archived), "updated_at": now},
                "id = :id",
                {"id": achievement_id},
            )
            return AchievementRecord(
                current.id, current.version, current.data, bool(archived), current.created_at, now
            )

        return await self.db.write(change)

    async def put_image(self, sha256: str, media_type: str, data: bytes) -> bool:
        check_image(sha256, media_type, data)
        row = {"sha256": sha256, "media_type": media_type, "data": bytes(data)}

        def insert(conn: Conn) -> bool:
            stored = conn.insert(images, {**row, "created_at": utcnow()}, "ON CONFLICT DO NOTHING")
            return stored == 1

        return await self.db.write(insert)

    async def get_image(self, sha256: str) -> ImageRecord | None:
        return await self._first(IMAGE, "SELECT * FROM images WHERE sha256 = :h", {"h": sha256})

    async def credential_refs(self, idempotency_keys: Sequence[str]) -> dict[str, CredentialRef]:
        keys = check_keys(idempotency_keys)  # at most 10,000: within both databases' limits
        if not keys:
            return {}
        in_list, params = expand("k", keys)
        rows = await self._fetch(
            ROW,
            "SELECT idempotency_key, id, page_id FROM credentials"
            f" WHERE idempotency_key IN {in_list}",
            params,
        )
        return {r["idempotency_key"]: CredentialRef(r["id"], r["page_id"]) for r in rows}

    # --- wallet exchanges -----------------------------------------------------------------------

    async def create_exchange(self, record: ExchangeRecord) -> ExchangeRecord:
        rec = check_exchange(record)  # version 1, updated when created, no attempts yet
        row = _row(exchanges, rec)

        def insert(conn: Conn) -> ExchangeRecord:
            if conn.insert(exchanges, row, "ON CONFLICT DO NOTHING") != 1:
                what = f"exchange {rec.id[:8]}... conflicts: its id or lookup_hash is taken"
                raise ConflictError(what)
            return rec

        return await self.db.write(insert)

    async def get_exchange(self, exchange_id: str) -> ExchangeRecord | None:
        return await self._first(
            EXCHANGE, "SELECT * FROM exchanges WHERE id = :id", {"id": exchange_id}
        )

    async def find_exchange(self, kind: str, lookup_hash: str) -> ExchangeRecord | None:
        return await self._first(
            EXCHANGE,
            "SELECT * FROM exchanges WHERE kind = :kind AND lookup_hash = :h",
            {"kind": kind, "h": lookup_hash},
        )

    async def _update_exchange(self, update: ExchangeUpdate) -> bool:
        values = {**update.values, "version": sa.text("version + 1"), "updated_at": utcnow()}
        in_list, params = expand("state", update.states)
        where = f"id = :id AND state IN {in_list}"
        params["id"] = update.exchange_id
        if update.now is not None:
            where += " AND expires_at > :now"
            params["now"] = update.now
        if update.version is not None:
            where += " AND version = :version"
            params["version"] = update.version

        # Row-level: a concurrent UPDATE waits for this one, then re-checks the state and misses.
        def change(conn: Conn) -> bool:
            try:
                return conn.update(exchanges, values, where, params) == 1
            except Unique as exc:
                raise ConflictError("the new lookup_hash belongs to another exchange") from exc

        return await self.db.write(change)

    async def count_attempt(self, exchange_id: str, limit: int, *, state: str = "pending") -> int:
        check_exchange_state(state)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise MalformedInputError(f"an attempt limit must be a positive integer: {limit!r}")
        params = {"id": exchange_id, "state": state, "limit": limit}

        # One guarded UPDATE: the row lock (PostgreSQL) or the write lock (SQLite) serialises
        # concurrent callers, and each re-checks ``attempts < limit`` after the one before it.
        def count(conn: Conn) -> int:
            moved = conn.update(
                exchanges,
                {"attempts": sa.text("attempts + 1"), "updated_at": utcnow()},
                "id = :id AND state = :state AND attempts < :limit",
                params,
            )
            if moved != 1:
                return 0
            return int(
                conn.scalar("SELECT attempts FROM exchanges WHERE id = :id", {"id": exchange_id})
            )

        return await self.db.write(count)

    async def purge_expired(self, now: datetime, *, grace: timedelta = timedelta(0)) -> int:
        before = as_utc(now, "now") - grace

        def purge(conn: Conn) -> int:
            return conn.execute(
                "DELETE FROM exchanges WHERE expires_at < :before AND result IS NULL",
                {"before": before},
            )

        return await self.db.write(purge)

    async def count_exchanges(self) -> int:
        return int(await self.db.read(lambda c: c.scalar("SELECT COUNT(*) FROM exchanges")))

    # --- claim links ------------------------------------------------------------------------------

    async def create_claims(self, records: Sequence[ClaimRecord]) -> list[ClaimRecord]:
        recs = [check_claim(r) for r in records]
        if not recs:
            return []
        rows = [_row(claims, r) for r in recs]

        def insert(conn: Conn) -> list[ClaimRecord]:
            try:
                conn.insert(claims, rows)
            except Unique as exc:
                raise ConflictError("a claim id or token hash is taken") from exc
            return recs

        return await self.db.write(insert)

    async def get_claim(self, claim_id: str) -> ClaimRecord | None:
        return await self._first(CLAIM, "SELECT * FROM claims WHERE id = :id", {"id": claim_id})

    async def find_claim(self, token_hash: str) -> ClaimRecord | None:
        return await self._first(
            CLAIM, "SELECT * FROM claims WHERE token_hash = :h", {"h": token_hash}
        )

    async def revoke_claim(self, claim_id: str, now: datetime) -> ClaimRecord:
        at = as_utc(now, "now")

        def change(conn: Conn) -> ClaimRecord:
            # The first revocation time is kept.
            conn.update(
                claims, {"revoked_at": at}, "id = :id AND revoked_at IS NULL", {"id": claim_id}
            )
            found = conn.first(CLAIM, "SELECT * FROM claims WHERE id = :id", {"id": claim_id})
            if found is None:
                raise NotFoundError(f"no claim link with id {claim_id!r}")
            return found

        return await self.db.write(change)

    async def touch_claim(self, claim_id: str, now: datetime) -> bool:
        at = as_utc(now, "now")
        return await self.db.write(
            lambda conn: (
                conn.update(claims, {"last_used_at": at}, "id = :id", {"id": claim_id}) == 1
            )
        )

    # --- outbox ----------------------------------------------------------------------------------

    async def enqueue_mail(self, records: Sequence[OutboxRecord]) -> int:
        rows = [_row(outbox, check_mail(r)) for r in records]

        def insert(conn: Conn) -> int:
            return sum(
                conn.insert(outbox, row, "ON CONFLICT (dedupe_key) DO NOTHING") for row in rows
            )

        return await self.db.write(insert) if rows else 0

    async def take_mail(self, now: datetime, limit: int) -> list[OutboxRecord]:
        if limit < 1:
            raise MalformedInputError("limit must be positive")
        at = as_utc(now, "now")

        def take(conn: Conn) -> list[OutboxRecord]:
            rows = conn.fetch(
                ROW,
                "SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= :now"
                " ORDER BY next_attempt_at, id LIMIT :limit {FOR_UPDATE_SKIP_LOCKED}",
                {"now": at, "limit": limit},
            )
            if not rows:
                return []
            in_list, params = expand("m", [r["id"] for r in rows])
            conn.update(
                outbox,
                {"status": "sending", "attempts": sa.text("attempts + 1"), "updated_at": at},
                f"id IN {in_list}",
                params,
            )
            return conn.fetch(
                MAIL,
                f"SELECT * FROM outbox WHERE id IN {in_list} ORDER BY next_attempt_at, id",
                params,
            )

        return await self.db.write(take)

    async def _finish_mail(self, mail_id: str, values: dict[str, Any]) -> bool:
        where = "id = :id AND status = 'sending'"
        return await self.db.write(
            lambda conn: conn.update(outbox, values, where, {"id": mail_id}) == 1
        )

    async def retry_mail(self, now: datetime, mail_ids: Sequence[str] | None = None) -> int:
        at = as_utc(now, "now")
        where = "status = 'failed'"
        params: dict[str, Any] = {}
        if mail_ids is not None:
            if not mail_ids:
                return 0
            in_list, params = expand("m", list(mail_ids))
            where += f" AND id IN {in_list}"
        values = {
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": at,
            "updated_at": at,
            "last_error": None,
        }
        return await self.db.write(lambda conn: conn.update(outbox, values, where, params))

    async def recover_mail(self, stuck_before: datetime, now: datetime) -> int:
        values = {
            "status": "failed",
            "updated_at": as_utc(now, "now"),
            "last_error": "the sender stopped while sending; it may have been delivered"
            " (retry sends it again)",
        }
        params = {"before": as_utc(stuck_before, "stuck_before")}
        where = "status = 'sending' AND updated_at < :before"
        return await self.db.write(lambda conn: conn.update(outbox, values, where, params))

    # --- meta -------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        row = await self._first(ROW, "SELECT value FROM meta WHERE key = :key", {"key": key})
        return None if row is None else str(row["value"])

    async def set_meta(self, key: str, value: str) -> None:
        check_meta(key, value)
        await self.db.write(
            lambda conn: conn.insert(
                meta,
                {"key": key, "value": value},
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
        )

    async def setdefault_meta(self, key: str, value: str) -> str:
        check_meta(key, value)

        def insert(conn: Conn) -> str:
            conn.insert(meta, {"key": key, "value": value}, "ON CONFLICT (key) DO NOTHING")
            return str(conn.scalar("SELECT value FROM meta WHERE key = :key", {"key": key}))

        return await self.db.write(insert)


@cache
def _columns_of(table: sa.Table, record: type[DataclassInstance]) -> tuple[str, ...]:
    """The columns of ``table`` that ``record`` has a field for, in column order."""
    names = {f.name for f in dataclasses.fields(record)}
    return tuple(column.name for column in table.columns if column.name in names)


def _row(table: sa.Table, record: DataclassInstance, **more: Any) -> dict[str, Any]:
    """A record as INSERT values: its fields are named like the columns of its table (times are
    UTC after ``check_*``); ``more`` adds what the record does not carry (``stored_at``)."""
    return {name: getattr(record, name) for name in _columns_of(table, type(record))} | more


__all__ = ["SqlStore"]
