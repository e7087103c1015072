"""The one ``Store``: every operation is one SQLAlchemy Core query (or transaction body) that runs
unchanged on SQLite and PostgreSQL; ``dialects.py`` holds what differs.

A write is a plain function of a ``Connection`` that ``Database.write`` runs in one transaction
holding the write lock; a read goes through ``Database.read``. Checks happen before the body, in
the caller's coroutine (``base.check_*``), so a body only talks to the database.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from vc_issuer.errors import ConflictError, MalformedInputError, NotFoundError
from vc_issuer.store import migrations
from vc_issuer.store.base import (
    KEEP,
    AchievementRecord,
    AuditEntry,
    BitChange,
    ClaimRecord,
    CredentialRecord,
    CredentialRef,
    ExchangeRecord,
    ImageRecord,
    Keep,
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
    check_exchange_json,
    check_exchange_state,
    check_expected_version,
    check_image,
    check_keys,
    check_list_credential,
    check_list_request,
    check_meta,
    check_record,
    check_transition,
    check_version,
    default_rng,
    new_token,
    pick_free,
    utcnow,
)
from vc_issuer.store.dialects import Database, insert_ignore, lock_for_migration, upsert
from vc_issuer.store.schema import (
    CURRENT_LIST_COLUMNS,
    achievement_versions,
    achievements,
    api_tokens,
    claims,
    credentials,
    exchanges,
    images,
    meta,
    schema_version,
    status_allocations,
    status_audit,
    status_list_bits,
    status_lists,
)

T = TypeVar("T")
Row = sa.Row[Any]


# --- rows to records ------------------------------------------------------------------------------
# Records are dataclasses whose fields are named like the columns selected for them, so a row
# becomes a record by name (``_as``); a select labels a column when the names differ.

R = TypeVar("R")


def _as(record: Callable[..., R]) -> Callable[[Row], R]:
    return lambda row: record(**row._mapping)


_CRED = sa.select(*(c for c in credentials.c if c.name != "stored_at"))
_cred = _as(CredentialRecord)

l_, b_ = status_lists.c, status_list_bits.c
_LIST = sa.select(
    l_.id, l_.kind, l_.purpose, l_.size, b_.bits, b_.version, b_.updated_at, l_.created_at,
    l_.is_full.label("full"), l_.allocated, b_.credential, b_.credential_version,
).join_from(status_lists, status_list_bits, b_.list_id == l_.id)  # fmt: skip
_AUDIT = sa.select(*(c.label("index") if c.name == "idx" else c for c in status_audit.c))


# --- the store ------------------------------------------------------------------------------------


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

    async def _one(self, record: Callable[[Row], T], stmt: sa.Executable) -> T | None:
        """The first row of a read, as a record (None without rows)."""

        def read(conn: sa.Connection) -> T | None:
            row = conn.execute(stmt).first()
            return None if row is None else record(row)

        return await self.db.read(read)

    async def _all(self, record: Callable[[Row], T], stmt: sa.Executable) -> list[T]:
        """Every row of a read, as records."""
        return await self.db.read(lambda conn: [record(r) for r in conn.execute(stmt)])

    async def _changed(self, stmt: sa.Executable) -> bool:
        """Run one UPDATE in its own transaction: did it change a row?"""
        return await self.db.write(lambda conn: conn.execute(stmt).rowcount == 1)

    # --- schema ----------------------------------------------------------------------------------

    async def migrate(self) -> int:
        version = sa.select(sa.func.coalesce(sa.func.max(schema_version.c.version), 0))

        def apply(conn: sa.Connection) -> int:
            lock_for_migration(conn, self.db.schema)
            conn.execute(sa.schema.CreateTable(schema_version, if_not_exists=True))
            return migrations.upgrade(conn, int(conn.execute(version).scalar_one()))

        return await self.db.write(apply)

    async def schema_version(self) -> int:
        def read(conn: sa.Connection) -> int:
            if not sa.inspect(conn).has_table("schema_version"):
                return 0
            stmt = sa.select(sa.func.coalesce(sa.func.max(schema_version.c.version), 0))
            return int(conn.execute(stmt).scalar_one())

        return await self.db.read(read)

    # --- credentials ------------------------------------------------------------------------------

    @staticmethod
    def _put(conn: sa.Connection, record: CredentialRecord) -> CredentialRecord:
        values = {
            "id": record.id,
            "subject_id": record.subject_id,
            "types": record.types,
            "issued_at": record.issued_at,
            "valid_from": record.valid_from,
            "valid_until": record.valid_until,
            "status_entries": record.status_entries,
            "credential": record.credential,
            "idempotency_key": record.idempotency_key,
            "page_id": record.page_id,
            "stored_at": utcnow(),
        }
        if conn.execute(insert_ignore(conn, credentials).values(values)).rowcount == 1:
            return record
        # Lost to a stored (or just-committed) row: the key wins, else it is a conflict.
        if record.idempotency_key is not None:
            stmt = _CRED.where(credentials.c.idempotency_key == record.idempotency_key)
            row = conn.execute(stmt).first()
            if row is not None:
                return _cred(row)
        if conn.execute(sa.select(credentials.c.id).where(credentials.c.id == record.id)).first():
            raise ConflictError(f"a credential with id {record.id!r} is already stored")
        raise ConflictError(f"credential record {record.id!r} conflicts on its page id")

    async def put_credential(self, record: CredentialRecord) -> CredentialRecord:
        rec = check_record(record)
        return await self.db.write(lambda conn: self._put(conn, rec))

    async def put_credentials(self, records: Sequence[CredentialRecord]) -> list[CredentialRecord]:
        recs = [check_record(r) for r in records]
        if not recs:
            return []
        return await self.db.write(lambda conn: [self._put(conn, r) for r in recs])

    async def get_credential(self, credential_id: str) -> CredentialRecord | None:
        return await self._one(_cred, _CRED.where(credentials.c.id == credential_id))

    async def get_credential_by_page_id(self, page_id: str) -> CredentialRecord | None:
        return await self._one(_cred, _CRED.where(credentials.c.page_id == page_id))

    async def get_by_idempotency_key(self, key: str) -> CredentialRecord | None:
        return await self._one(_cred, _CRED.where(credentials.c.idempotency_key == key))

    async def list_credentials(
        self, limit: int = 100, offset: int = 0, *, subject_id: str | None = None
    ) -> list[CredentialRecord]:
        if limit < 0 or offset < 0:
            raise MalformedInputError("limit and offset must be non-negative")
        stmt = _CRED.order_by(credentials.c.issued_at.desc(), credentials.c.id)
        if subject_id is not None:
            stmt = stmt.where(credentials.c.subject_id == subject_id)
        return await self._all(_cred, stmt.limit(limit).offset(offset))

    async def count_credentials(self) -> int:
        stmt = sa.select(sa.func.count()).select_from(credentials)
        return await self.db.read(lambda conn: int(conn.execute(stmt).scalar_one()))

    # --- status lists -----------------------------------------------------------------------------

    async def allocate_indices(
        self, kind: str, purpose: str, size: int, count: int, rng: random.Random | None = None
    ) -> list[tuple[str, int]]:
        check_list_request(kind, purpose, size, count)
        if count == 0:
            return []
        draw = rng if rng is not None else default_rng()
        current = (
            sa.select(l_.id, l_.allocated, l_.alloc_bits)
            .where(l_.kind == kind, l_.purpose == purpose, l_.size == size, ~l_.is_full)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE: allocators queue on the row
        )

        def allocate(conn: sa.Connection) -> list[tuple[str, int]]:
            out: list[tuple[str, int]] = []
            now = utcnow()
            while len(out) < count:
                row = conn.execute(current).first()
                if row is None:
                    self._new_list(conn, kind, purpose, size, now)
                    continue  # lock whichever current list won
                alloc = bytearray(row.alloc_bits)
                n = min(count - len(out), size - row.allocated)
                picked = pick_free(alloc, size, row.allocated, n, draw)
                # The primary key is the last guard: a duplicate aborts the whole transaction.
                conn.execute(
                    sa.insert(status_allocations),
                    [{"list_id": row.id, "idx": i, "allocated_at": now} for i in picked],
                )
                allocated = row.allocated + n
                conn.execute(
                    sa.update(status_lists)
                    .where(l_.id == row.id)
                    .values(alloc_bits=bytes(alloc), allocated=allocated, is_full=allocated >= size)
                )
                out.extend((row.id, i) for i in picked)
            return out

        return await self.db.write(allocate)

    @staticmethod
    def _new_list(conn: sa.Connection, kind: str, purpose: str, size: int, now: datetime) -> None:
        """Start a list unless another process just did (one current list per kind/purpose/size)."""
        list_id = str(uuid.uuid4())
        empty = bytes(bitmap_len(size))
        stmt = insert_ignore(
            conn, status_lists, index_elements=CURRENT_LIST_COLUMNS, index_where=~l_.is_full
        ).values(
            id=list_id, kind=kind, purpose=purpose, size=size, created_at=now, alloc_bits=empty
        )
        if conn.execute(stmt).rowcount == 1:
            conn.execute(
                sa.insert(status_list_bits).values(
                    list_id=list_id, bits=empty, version=1, updated_at=now
                )
            )

    async def allocated_indices(self, list_id: str) -> list[int]:
        stmt = (
            sa.select(status_allocations.c.idx)
            .where(status_allocations.c.list_id == list_id)
            .order_by(status_allocations.c.idx)
        )
        return await self._all(lambda r: int(r.idx), stmt)

    async def _apply_bit_change(self, c: BitChange) -> tuple[bool, bool]:
        stmt = (
            sa.select(l_.purpose, l_.size, l_.alloc_bits, b_.bits)
            .join_from(status_lists, status_list_bits, b_.list_id == l_.id)
            .where(l_.id == c.list_id)
            .with_for_update(key_share=True, of=status_list_bits)
        )

        def change(conn: sa.Connection) -> tuple[bool, bool]:
            row = conn.execute(stmt).first()
            if row is None:
                raise NotFoundError(f"no status list {c.list_id!r}")
            check_change(c.list_id, row.purpose, row.size, row.alloc_bits, c.index, c.purpose)
            old, bits = apply_bit(row.bits, c.index, c.value)
            if bits is None:
                return old, c.value
            now = utcnow()
            conn.execute(
                sa.update(status_list_bits)
                .where(b_.list_id == c.list_id)
                .values(bits=bits, version=b_.version + 1, updated_at=now)
            )
            conn.execute(
                sa.insert(status_audit).values(
                    at=now,
                    actor=c.actor,
                    credential_id=c.credential_id,
                    list_id=c.list_id,
                    idx=c.index,
                    purpose=row.purpose,
                    old=old,
                    new=c.value,
                    reason=c.reason,
                )
            )
            return old, c.value

        return await self.db.write(change)

    async def get_status_list(self, list_id: str) -> StatusListRecord | None:
        return await self._one(_as(StatusListRecord), _LIST.where(l_.id == list_id))

    async def list_status_lists(self) -> list[StatusListRecord]:
        return await self._all(_as(StatusListRecord), _LIST.order_by(l_.created_at, l_.id))

    async def save_list_credential(
        self, list_id: str, version: int, credential: dict[str, Any]
    ) -> bool:
        check_list_credential(credential)
        stmt = (
            sa.select(b_.version, b_.credential_version)
            .where(b_.list_id == list_id)
            .with_for_update(key_share=True)
        )

        def save(conn: sa.Connection) -> bool:
            row = conn.execute(stmt).first()
            if row is None:
                raise NotFoundError(f"no status list {list_id!r}")
            check_version(list_id, version, row.version)
            if row.credential_version is not None and row.credential_version > version:
                return False
            conn.execute(
                sa.update(status_list_bits)
                .where(b_.list_id == list_id)
                .values(credential=credential, credential_version=version)
            )
            return True

        return await self.db.write(save)

    async def audit_log(
        self, credential_id: str | None = None, *, list_id: str | None = None
    ) -> list[AuditEntry]:
        stmt = _AUDIT.order_by(status_audit.c.id)
        if credential_id is not None:
            stmt = stmt.where(status_audit.c.credential_id == credential_id)
        if list_id is not None:
            stmt = stmt.where(status_audit.c.list_id == list_id)
        return await self._all(_as(AuditEntry), stmt)

    # --- tokens -----------------------------------------------------------------------------------

    async def create_token(
        self,
        token_hash: str,
        name: str,
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> TokenRecord:
        token = new_token(token_hash, name, scopes, expires_at)

        def insert(conn: sa.Connection) -> TokenRecord:
            stmt = insert_ignore(conn, api_tokens).values(
                id=token.id,
                token_hash=token.token_hash,
                name=token.name,
                scopes=token.scopes,
                created_at=token.created_at,
                expires_at=token.expires_at,
            )
            if conn.execute(stmt).rowcount != 1:
                raise ConflictError("a token with this hash already exists")
            return token

        return await self.db.write(insert)

    async def get_token_by_hash(self, token_hash: str) -> TokenRecord | None:
        return await self._one(
            _as(TokenRecord), sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash)
        )

    async def list_tokens(self) -> list[TokenRecord]:
        stmt = sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
        return await self._all(_as(TokenRecord), stmt)

    async def revoke_token(self, token_id: str) -> bool:
        stmt = (
            sa.select(api_tokens.c.revoked_at).where(api_tokens.c.id == token_id).with_for_update()
        )

        def revoke(conn: sa.Connection) -> bool:
            row = conn.execute(stmt).first()
            if row is None:
                raise NotFoundError(f"no API token with id {token_id!r}")
            if row.revoked_at is not None:
                return False
            conn.execute(
                sa.update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=utcnow())
            )
            return True

        return await self.db.write(revoke)

    # --- achievements and images ------------------------------------------------------------

    async def create_achievement(
        self, achievement_id: str, data: dict[str, Any]
    ) -> AchievementRecord:
        check_achievement_data(achievement_id, data)

        def insert(conn: sa.Connection) -> AchievementRecord:
            now = utcnow()
            stmt = insert_ignore(conn, achievements).values(
                id=achievement_id, version=1, data=data, created_at=now, updated_at=now
            )
            if conn.execute(stmt).rowcount != 1:
                raise ConflictError(f"an achievement with id {achievement_id!r} already exists")
            conn.execute(
                sa.insert(achievement_versions).values(
                    achievement_id=achievement_id, version=1, data=data, created_at=now
                )
            )
            return AchievementRecord(achievement_id, 1, data, False, now, now)

        return await self.db.write(insert)

    _CURRENT_ACH = sa.select(achievements).where(achievements.c.id == sa.bindparam("id"))

    def _current_achievement(self, conn: sa.Connection, achievement_id: str) -> AchievementRecord:
        row = conn.execute(self._CURRENT_ACH.with_for_update(), {"id": achievement_id}).first()
        if row is None:
            raise NotFoundError(f"no achievement {achievement_id!r}")
        return AchievementRecord(**row._mapping)

    async def update_achievement(
        self, achievement_id: str, data: dict[str, Any], *, expected_version: int | None = None
    ) -> AchievementRecord:
        check_achievement_data(achievement_id, data)

        def update(conn: sa.Connection) -> AchievementRecord:
            current = self._current_achievement(conn, achievement_id)
            check_expected_version(achievement_id, expected_version, current.version)
            now = utcnow()
            version = current.version + 1
            conn.execute(
                sa.update(achievements)
                .where(achievements.c.id == achievement_id)
                .values(version=version, data=data, updated_at=now)
            )
            conn.execute(
                sa.insert(achievement_versions).values(
                    achievement_id=achievement_id, version=version, data=data, created_at=now
                )
            )
            return AchievementRecord(
                achievement_id, version, data, current.archived, current.created_at, now
            )

        return await self.db.write(update)

    async def get_achievement(
        self, achievement_id: str, version: int | None = None
    ) -> AchievementRecord | None:
        old = sa.select(achievement_versions.c.data, achievement_versions.c.created_at).where(
            achievement_versions.c.achievement_id == achievement_id,
            achievement_versions.c.version == version,
        )

        def read(conn: sa.Connection) -> AchievementRecord | None:
            row = conn.execute(self._CURRENT_ACH, {"id": achievement_id}).first()
            if row is None:
                return None
            current = AchievementRecord(**row._mapping)
            if version is None or version == current.version:
                return current
            kept = conn.execute(old).first()
            if kept is None:
                return None
            return AchievementRecord(
                achievement_id,
                version,
                kept.data,
                current.archived,
                current.created_at,
                kept.created_at,
            )

        return await self.db.read(read)

    async def list_achievements(self, *, include_archived: bool = False) -> list[AchievementRecord]:
        stmt = sa.select(achievements).order_by(achievements.c.created_at, achievements.c.id)
        if not include_archived:
            stmt = stmt.where(~achievements.c.archived)
        return await self._all(_as(AchievementRecord), stmt)

    async def set_achievement_archived(
        self, achievement_id: str, archived: bool
    ) -> AchievementRecord:
        def change(conn: sa.Connection) -> AchievementRecord:
            current = self._current_achievement(conn, achievement_id)
            if current.archived == bool(archived):
                return current
            now = utcnow()
            conn.execute(
                sa.update(achievements)
                .where(achievements.c.id == achievement_id)
                .values(archived=bool(archived), updated_at=now)
            )
            return AchievementRecord(
                current.id, current.version, current.data, bool(archived), current.created_at, now
            )

        return await self.db.write(change)

    async def put_image(self, sha256: str, media_type: str, data: bytes) -> bool:
        check_image(sha256, media_type, data)

        def insert(conn: sa.Connection) -> bool:
            stmt = insert_ignore(conn, images).values(
                sha256=sha256, media_type=media_type, data=bytes(data), created_at=utcnow()
            )
            return bool(conn.execute(stmt).rowcount == 1)

        return await self.db.write(insert)

    async def get_image(self, sha256: str) -> ImageRecord | None:
        return await self._one(_as(ImageRecord), sa.select(images).where(images.c.sha256 == sha256))

    async def credential_refs(self, idempotency_keys: Sequence[str]) -> dict[str, CredentialRef]:
        keys = check_keys(idempotency_keys)  # at most 10,000: within both databases' limits
        if not keys:
            return {}
        c = credentials.c
        stmt = sa.select(c.idempotency_key, c.id, c.page_id).where(c.idempotency_key.in_(keys))
        refs = await self._all(lambda r: (r.idempotency_key, CredentialRef(r.id, r.page_id)), stmt)
        return dict(refs)

    # --- wallet exchanges -----------------------------------------------------------------------

    async def create_exchange(self, record: ExchangeRecord) -> ExchangeRecord:
        rec = check_exchange(record)

        def insert(conn: sa.Connection) -> ExchangeRecord:
            stmt = insert_ignore(conn, exchanges).values(
                id=rec.id,
                kind=rec.kind,
                state=rec.state,
                credential_id=rec.credential_id,
                template=rec.template,
                created_at=rec.created_at,
                expires_at=rec.expires_at,
                updated_at=rec.created_at,
                version=1,
                data=rec.data,
                result=rec.result,
                lookup_hash=rec.lookup_hash,
            )
            if conn.execute(stmt).rowcount != 1:
                what = f"exchange {rec.id[:8]}... conflicts: its id or lookup_hash is taken"
                raise ConflictError(what)
            return rec

        return await self.db.write(insert)

    async def get_exchange(self, exchange_id: str) -> ExchangeRecord | None:
        return await self._one(
            _as(ExchangeRecord), sa.select(exchanges).where(exchanges.c.id == exchange_id)
        )

    async def find_exchange(self, kind: str, lookup_hash: str) -> ExchangeRecord | None:
        stmt = sa.select(exchanges).where(
            exchanges.c.kind == kind, exchanges.c.lookup_hash == lookup_hash
        )
        return await self._one(_as(ExchangeRecord), stmt)

    async def transition_exchange(
        self,
        exchange_id: str,
        from_states: Sequence[str],
        to_state: str,
        *,
        data: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        lookup_hash: str | Keep | None = KEEP,
        now: datetime | None = None,
    ) -> bool:
        states = check_transition(
            from_states, to_state, data=data, result=result, lookup_hash=lookup_hash
        )
        x = exchanges.c
        values: dict[str, Any] = {
            "state": to_state,
            "version": x.version + 1,
            "updated_at": utcnow(),
        }
        if data is not None:
            values["data"] = data
        if result is not None:
            values["result"] = result
        if not isinstance(lookup_hash, Keep):
            values["lookup_hash"] = lookup_hash
        # Row-level: a concurrent UPDATE waits for this one, then re-checks the state and misses.
        stmt = sa.update(exchanges).where(x.id == exchange_id, x.state.in_(states)).values(values)
        if now is not None:
            stmt = stmt.where(x.expires_at > as_utc(now, "now"))

        def change(conn: sa.Connection) -> bool:
            try:
                return bool(conn.execute(stmt).rowcount == 1)
            except sa.exc.IntegrityError as exc:
                raise ConflictError("the new lookup_hash belongs to another exchange") from exc

        return await self.db.write(change)

    async def update_exchange_data(
        self,
        exchange_id: str,
        data: dict[str, Any],
        expected_state: str,
        *,
        expected_version: int | None = None,
    ) -> bool:
        check_exchange_json(data, "data")
        check_exchange_state(expected_state)
        x = exchanges.c
        stmt = (
            sa.update(exchanges)
            .where(x.id == exchange_id, x.state == expected_state)
            .values(data=data, version=x.version + 1, updated_at=utcnow())
        )
        if expected_version is not None:
            stmt = stmt.where(x.version == expected_version)
        return await self._changed(stmt)

    async def list_exchanges(
        self,
        *,
        credential_id: str | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[ExchangeRecord]:
        if limit < 0:
            raise MalformedInputError("limit must be non-negative")
        x = exchanges.c
        stmt = sa.select(exchanges).order_by(x.created_at.desc(), x.id).limit(limit)
        if credential_id is not None:
            stmt = stmt.where(x.credential_id == credential_id)
        if kind is not None:
            stmt = stmt.where(x.kind == kind)
        return await self._all(_as(ExchangeRecord), stmt)

    # --- claim links ------------------------------------------------------------------------------

    async def create_claims(self, records: Sequence[ClaimRecord]) -> list[ClaimRecord]:
        recs = [check_claim(r) for r in records]
        if not recs:
            return []
        rows = [
            {
                "id": r.id,
                "token_hash": r.token_hash,
                "credential_id": r.credential_id,
                "created_at": r.created_at,
                "expires_at": r.expires_at,
                "revoked_at": r.revoked_at,
                "last_used_at": r.last_used_at,
            }
            for r in recs
        ]

        def insert(conn: sa.Connection) -> list[ClaimRecord]:
            try:
                conn.execute(sa.insert(claims), rows)
            except sa.exc.IntegrityError as exc:
                raise ConflictError("a claim id or token hash is taken") from exc
            return recs

        return await self.db.write(insert)

    async def get_claim(self, claim_id: str) -> ClaimRecord | None:
        return await self._one(_as(ClaimRecord), sa.select(claims).where(claims.c.id == claim_id))

    async def find_claim(self, token_hash: str) -> ClaimRecord | None:
        return await self._one(
            _as(ClaimRecord), sa.select(claims).where(claims.c.token_hash == token_hash)
        )

    async def list_claims(
        self, *, credential_id: str | None = None, limit: int = 100
    ) -> list[ClaimRecord]:
        if limit < 0:
            raise MalformedInputError("limit must be non-negative")
        stmt = sa.select(claims).order_by(claims.c.created_at.desc(), claims.c.id).limit(limit)
        if credential_id is not None:
            stmt = stmt.where(claims.c.credential_id == credential_id)
        return await self._all(_as(ClaimRecord), stmt)

    async def revoke_claim(self, claim_id: str, now: datetime) -> ClaimRecord:
        at = as_utc(now, "now")
        revoke = (
            sa.update(claims)
            .where(claims.c.id == claim_id)
            .values(
                revoked_at=sa.func.coalesce(
                    claims.c.revoked_at, sa.bindparam("at", at, type_=claims.c.revoked_at.type)
                )
            )
        )

        def change(conn: sa.Connection) -> ClaimRecord:
            conn.execute(revoke)
            row = conn.execute(sa.select(claims).where(claims.c.id == claim_id)).first()
            if row is None:
                raise NotFoundError(f"no claim link with id {claim_id!r}")
            return ClaimRecord(**row._mapping)

        return await self.db.write(change)

    async def touch_claim(self, claim_id: str, now: datetime) -> bool:
        at = as_utc(now, "now")
        return await self._changed(
            sa.update(claims).where(claims.c.id == claim_id).values(last_used_at=at)
        )

    # --- meta -------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        return await self._one(
            lambda row: str(row.value), sa.select(meta.c.value).where(meta.c.key == key)
        )

    async def set_meta(self, key: str, value: str) -> None:
        check_meta(key, value)
        await self.db.write(
            lambda conn: conn.execute(upsert(conn, meta, "key", {"key": key, "value": value}))
        )


__all__ = ["SqlStore"]
