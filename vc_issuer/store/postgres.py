"""PostgreSQL backend through an asyncpg pool: several processes and hosts may share one database.

Index allocation locks the current list's row (``SELECT ... FOR NO KEY UPDATE``), so concurrent
allocators on any number of processes queue on that row; a partial unique index allows one current
(not full) list per (kind, purpose, size), so two processes that both fill a list cannot both start
a new one. Transactions that lose a deadlock or serialization race are retried whole.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from vc_issuer.errors import (
    ConflictError,
    MalformedInputError,
    NotFoundError,
    StoreError,
    VCIssuerError,
)
from vc_issuer.store.base import (
    ACH_COLS,
    AUDIT_COLS,
    CLAIM_COLS,
    CRED_COLS,
    EXCHANGE_COLS,
    KEEP,
    LIST_COLS,
    LIST_FROM,
    TOKEN_COLS,
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
    dumps,
    new_token,
    pick_free,
    utcnow,
)
from vc_issuer.store.migrations import pending
from vc_issuer.store.migrations.postgres import MIGRATIONS

T = TypeVar("T")

# pg_advisory_xact_lock key for migrations ("vc-issuer" in ASCII, as a bigint).
_MIGRATION_LOCK = 0x76632D697373756572 & 0x7FFFFFFFFFFFFFFF
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_RETRIES = 5


def _cred(row: asyncpg.Record) -> CredentialRecord:
    return CredentialRecord(
        id=row["id"],
        subject_id=row["subject_id"],
        types=list(row["types"]),
        issued_at=row["issued_at"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        status_entries=json.loads(row["status_entries"]),
        credential=json.loads(row["credential"]),
        idempotency_key=row["idempotency_key"],
        page_id=row["page_id"],
    )


def _list(row: asyncpg.Record) -> StatusListRecord:
    return StatusListRecord(
        id=row["id"],
        kind=row["kind"],
        purpose=row["purpose"],
        size=row["size"],
        bits=bytes(row["bits"]),
        version=row["version"],
        updated_at=row["updated_at"],
        created_at=row["created_at"],
        full=row["is_full"],
        allocated=row["allocated"],
        credential=None if row["credential"] is None else json.loads(row["credential"]),
        credential_version=row["credential_version"],
    )


def _audit(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        credential_id=row["credential_id"],
        list_id=row["list_id"],
        index=row["idx"],
        purpose=row["purpose"],
        old=row["old"],
        new=row["new"],
        reason=row["reason"],
    )


def _achievement(row: asyncpg.Record) -> AchievementRecord:
    return AchievementRecord(
        id=row["id"],
        version=int(row["version"]),
        data=json.loads(row["data"]),
        archived=bool(row["archived"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _exchange(row: asyncpg.Record) -> ExchangeRecord:
    return ExchangeRecord(
        id=row["id"],
        kind=row["kind"],
        state=row["state"],
        credential_id=row["credential_id"],
        template=None if row["template"] is None else json.loads(row["template"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        updated_at=row["updated_at"],
        version=int(row["version"]),
        data=json.loads(row["data"]),
        result=None if row["result"] is None else json.loads(row["result"]),
        lookup_hash=row["lookup_hash"],
    )


def _claim(row: asyncpg.Record) -> ClaimRecord:
    return ClaimRecord(
        id=row["id"],
        token_hash=row["token_hash"],
        credential_id=row["credential_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


def _token(row: asyncpg.Record) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        token_hash=row["token_hash"],
        name=row["name"],
        scopes=list(row["scopes"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
    )


def _redact(dsn: str) -> str:
    """The DSN without a password, for error messages."""
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"


class PostgresStore(Store):
    backend = "postgresql"

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
        migrate: bool = True,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
    ) -> PostgresStore:
        """Connect a pool; ``schema`` (else the DSN's search_path) holds the tables."""
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
                f"cannot connect to PostgreSQL at {_redact(dsn)}: {exc} ({type(exc).__name__})"
            ) from exc
        except (asyncpg.InterfaceError, ValueError) as exc:
            raise StoreError(f"bad PostgreSQL URL {_redact(dsn)}: {exc}") from exc
        store = cls(pool, dsn, schema)
        try:
            if migrate:
                await store.migrate()
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._pool.close()

    async def _run(
        self, fn: Callable[[asyncpg.Connection], Awaitable[T]], *, transaction: bool = True
    ) -> T:
        """Run ``fn`` on a pooled connection (in one transaction), mapping driver errors."""
        for attempt in range(_RETRIES):
            try:
                async with self._pool.acquire() as conn:
                    if not transaction:
                        return await fn(conn)
                    async with conn.transaction():
                        return await fn(conn)
            except VCIssuerError:
                raise
            except asyncpg.PostgresError as exc:
                if exc.sqlstate in _RETRY_SQLSTATES and attempt + 1 < _RETRIES:
                    await asyncio.sleep(0.01 * (attempt + 1))
                    continue
                raise StoreError(f"PostgreSQL error: {exc} (SQLSTATE {exc.sqlstate})") from exc
            except (TimeoutError, OSError, asyncpg.InterfaceError) as exc:
                raise StoreError(f"PostgreSQL unavailable: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        return await self._run(fn, transaction=False)

    async def _one(self, record: Callable[[asyncpg.Record], T], sql: str, *args: Any) -> T | None:
        """The first row of a read, as a record (None without rows)."""

        async def read(conn: asyncpg.Connection) -> T | None:
            row = await conn.fetchrow(sql, *args)
            return None if row is None else record(row)

        return await self._read(read)

    async def _all(self, record: Callable[[asyncpg.Record], T], sql: str, *args: Any) -> list[T]:
        """Every row of a read, as records."""

        async def read(conn: asyncpg.Connection) -> list[T]:
            return [record(r) for r in await conn.fetch(sql, *args)]

        return await self._read(read)

    # --- schema ----------------------------------------------------------------------------------

    async def migrate(self) -> int:
        async def apply(conn: asyncpg.Connection) -> int:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            if self.schema is not None:
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(self.schema)}")
            elif await conn.fetchval("SELECT current_schema()") is None:
                path = await conn.fetchval("SHOW search_path")
                raise StoreError(
                    f"no schema of the search_path ({path}) exists in the database;"
                    " create it, or pass schema= to have it created"
                )
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            version: int = await conn.fetchval(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version"
            )
            for m in pending(MIGRATIONS, version):
                for statement in m.statements:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_version (version, name) VALUES ($1, $2)", m.version, m.name
                )
                version = m.version
            return version

        return await self._run(apply)

    async def schema_version(self) -> int:
        async def read(conn: asyncpg.Connection) -> int:
            if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
                return 0
            return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))

        return await self._read(read)

    # --- credentials ------------------------------------------------------------------------------

    @staticmethod
    async def _put(conn: asyncpg.Connection, record: CredentialRecord) -> CredentialRecord:
        inserted = await conn.fetchval(
            "INSERT INTO credentials (id, subject_id, types, issued_at, valid_from, valid_until,"
            " status_entries, credential, idempotency_key, page_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8::json, $9, $10)"
            " ON CONFLICT DO NOTHING RETURNING id",
            record.id,
            record.subject_id,
            record.types,
            record.issued_at,
            record.valid_from,
            record.valid_until,
            dumps(record.status_entries),
            dumps(record.credential),
            record.idempotency_key,
            record.page_id,
        )
        if inserted is not None:
            return record
        # Lost to a committed (or just-committed) row: the key wins, else it is a conflict.
        if record.idempotency_key is not None:
            row = await conn.fetchrow(
                f"SELECT {CRED_COLS} FROM credentials WHERE idempotency_key = $1",
                record.idempotency_key,
            )
            if row is not None:
                return _cred(row)
        if await conn.fetchval("SELECT 1 FROM credentials WHERE id = $1", record.id):
            raise ConflictError(f"a credential with id {record.id!r} is already stored")
        raise ConflictError(f"credential record {record.id!r} conflicts on its page id")

    async def put_credential(self, record: CredentialRecord) -> CredentialRecord:
        rec = check_record(record)
        return await self._run(lambda conn: self._put(conn, rec))

    async def put_credentials(self, records: Sequence[CredentialRecord]) -> list[CredentialRecord]:
        recs = [check_record(r) for r in records]
        if not recs:
            return []

        async def put_all(conn: asyncpg.Connection) -> list[CredentialRecord]:
            return [await self._put(conn, r) for r in recs]

        return await self._run(put_all)

    async def _one_cred(self, where: str, value: str) -> CredentialRecord | None:
        return await self._one(
            _cred, f"SELECT {CRED_COLS} FROM credentials WHERE {where} = $1", value
        )

    async def get_credential(self, credential_id: str) -> CredentialRecord | None:
        return await self._one_cred("id", credential_id)

    async def get_credential_by_page_id(self, page_id: str) -> CredentialRecord | None:
        return await self._one_cred("page_id", page_id)

    async def get_by_idempotency_key(self, key: str) -> CredentialRecord | None:
        return await self._one_cred("idempotency_key", key)

    async def list_credentials(
        self, limit: int = 100, offset: int = 0, *, subject_id: str | None = None
    ) -> list[CredentialRecord]:
        if limit < 0 or offset < 0:
            raise MalformedInputError("limit and offset must be non-negative")
        return await self._all(
            _cred,
            f"SELECT {CRED_COLS} FROM credentials"
            " WHERE $1::text IS NULL OR subject_id = $1"
            " ORDER BY issued_at DESC, id LIMIT $2 OFFSET $3",
            subject_id,
            limit,
            offset,
        )

    async def count_credentials(self) -> int:
        async def read(conn: asyncpg.Connection) -> int:
            return int(await conn.fetchval("SELECT COUNT(*) FROM credentials"))

        return await self._read(read)

    # --- status lists -----------------------------------------------------------------------------

    async def allocate_indices(
        self, kind: str, purpose: str, size: int, count: int, rng: random.Random | None = None
    ) -> list[tuple[str, int]]:
        check_list_request(kind, purpose, size, count)
        if count == 0:
            return []
        draw = rng if rng is not None else default_rng()

        async def allocate(conn: asyncpg.Connection) -> list[tuple[str, int]]:
            out: list[tuple[str, int]] = []
            while len(out) < count:
                now = utcnow()
                row = await conn.fetchrow(
                    "SELECT id, allocated, alloc_bits FROM status_lists"
                    " WHERE kind = $1 AND purpose = $2 AND size = $3 AND NOT is_full"
                    " FOR NO KEY UPDATE",
                    kind,
                    purpose,
                    size,
                )
                if row is None:
                    list_id = str(uuid.uuid4())
                    created = await conn.fetchval(
                        "INSERT INTO status_lists (id, kind, purpose, size, created_at,"
                        " alloc_bits) VALUES ($1, $2, $3, $4, $5, $6)"
                        " ON CONFLICT (kind, purpose, size) WHERE NOT is_full DO NOTHING"
                        " RETURNING id",
                        list_id,
                        kind,
                        purpose,
                        size,
                        now,
                        bytes(bitmap_len(size)),
                    )
                    if created is not None:
                        await conn.execute(
                            "INSERT INTO status_list_bits (list_id, bits, version, updated_at)"
                            " VALUES ($1, $2, 1, $3)",
                            list_id,
                            bytes(bitmap_len(size)),
                            now,
                        )
                    continue  # lock whichever current list won
                list_id = row["id"]
                allocated: int = row["allocated"]
                alloc = bytearray(row["alloc_bits"])
                n = min(count - len(out), size - allocated)
                picked = pick_free(alloc, size, allocated, n, draw)
                # The primary key is the last guard: a duplicate aborts the whole transaction.
                await conn.execute(
                    "INSERT INTO status_allocations (list_id, idx, allocated_at)"
                    " SELECT $1, i, $3 FROM unnest($2::integer[]) AS i",
                    list_id,
                    picked,
                    now,
                )
                allocated += n
                await conn.execute(
                    "UPDATE status_lists SET alloc_bits = $1, allocated = $2, is_full = $3"
                    " WHERE id = $4",
                    bytes(alloc),
                    allocated,
                    allocated >= size,
                    list_id,
                )
                out.extend((list_id, i) for i in picked)
            return out

        return await self._run(allocate)

    async def allocated_indices(self, list_id: str) -> list[int]:
        return await self._all(
            lambda r: int(r[0]),
            "SELECT idx FROM status_allocations WHERE list_id = $1 ORDER BY idx",
            list_id,
        )

    async def _apply_bit_change(self, c: BitChange) -> tuple[bool, bool]:
        async def change(conn: asyncpg.Connection) -> tuple[bool, bool]:
            row = await conn.fetchrow(
                "SELECT l.purpose, l.size, l.alloc_bits, b.bits FROM "
                + LIST_FROM
                + " WHERE l.id = $1 FOR NO KEY UPDATE OF b",
                c.list_id,
            )
            if row is None:
                raise NotFoundError(f"no status list {c.list_id!r}")
            check_change(
                c.list_id, row["purpose"], row["size"], row["alloc_bits"], c.index, c.purpose
            )
            old, bits = apply_bit(row["bits"], c.index, c.value)
            if bits is None:
                return old, c.value
            now = utcnow()
            await conn.execute(
                "UPDATE status_list_bits SET bits = $1, version = version + 1, updated_at = $2"
                " WHERE list_id = $3",
                bits,
                now,
                c.list_id,
            )
            await conn.execute(
                "INSERT INTO status_audit (at, actor, credential_id, list_id, idx, purpose, old,"
                " new, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                now,
                c.actor,
                c.credential_id,
                c.list_id,
                c.index,
                row["purpose"],
                old,
                c.value,
                c.reason,
            )
            return old, c.value

        return await self._run(change)

    async def get_status_list(self, list_id: str) -> StatusListRecord | None:
        return await self._one(
            _list, f"SELECT {LIST_COLS} FROM {LIST_FROM} WHERE l.id = $1", list_id
        )

    async def list_status_lists(self) -> list[StatusListRecord]:
        return await self._all(
            _list, f"SELECT {LIST_COLS} FROM {LIST_FROM} ORDER BY l.created_at, l.id"
        )

    async def save_list_credential(
        self, list_id: str, version: int, credential: dict[str, Any]
    ) -> bool:
        text = dumps(check_list_credential(credential))

        async def save(conn: asyncpg.Connection) -> bool:
            row = await conn.fetchrow(
                "SELECT version, credential_version FROM status_list_bits WHERE list_id = $1"
                " FOR NO KEY UPDATE",
                list_id,
            )
            if row is None:
                raise NotFoundError(f"no status list {list_id!r}")
            check_version(list_id, version, row["version"])
            kept = row["credential_version"]
            if kept is not None and kept > version:
                return False
            await conn.execute(
                "UPDATE status_list_bits SET credential = $1::json, credential_version = $2"
                " WHERE list_id = $3",
                text,
                version,
                list_id,
            )
            return True

        return await self._run(save)

    async def audit_log(
        self, credential_id: str | None = None, *, list_id: str | None = None
    ) -> list[AuditEntry]:
        return await self._all(
            _audit,
            f"SELECT {AUDIT_COLS} FROM status_audit"
            " WHERE ($1::text IS NULL OR credential_id = $1)"
            " AND ($2::text IS NULL OR list_id = $2) ORDER BY id",
            credential_id,
            list_id,
        )

    # --- tokens -----------------------------------------------------------------------------------

    async def create_token(
        self,
        token_hash: str,
        name: str,
        scopes: Sequence[str],
        expires_at: datetime | None = None,
    ) -> TokenRecord:
        token = new_token(token_hash, name, scopes, expires_at)

        async def insert(conn: asyncpg.Connection) -> TokenRecord:
            done = await conn.fetchval(
                f"INSERT INTO api_tokens ({TOKEN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, NULL)"
                " ON CONFLICT DO NOTHING RETURNING id",
                token.id,
                token.token_hash,
                token.name,
                token.scopes,
                token.created_at,
                token.expires_at,
            )
            if done is None:
                raise ConflictError("a token with this hash already exists")
            return token

        return await self._run(insert)

    async def get_token_by_hash(self, token_hash: str) -> TokenRecord | None:
        return await self._one(
            _token, f"SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = $1", token_hash
        )

    async def list_tokens(self) -> list[TokenRecord]:
        return await self._all(
            _token, f"SELECT {TOKEN_COLS} FROM api_tokens ORDER BY created_at, id"
        )

    async def revoke_token(self, token_id: str) -> bool:
        async def revoke(conn: asyncpg.Connection) -> bool:
            row = await conn.fetchrow(
                "SELECT revoked_at FROM api_tokens WHERE id = $1 FOR UPDATE", token_id
            )
            if row is None:
                raise NotFoundError(f"no API token with id {token_id!r}")
            if row["revoked_at"] is not None:
                return False
            await conn.execute(
                "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2", utcnow(), token_id
            )
            return True

        return await self._run(revoke)

    # --- achievements and images ------------------------------------------------------------

    async def create_achievement(
        self, achievement_id: str, data: dict[str, Any]
    ) -> AchievementRecord:
        check_achievement_data(achievement_id, data)
        text = dumps(data)

        async def insert(conn: asyncpg.Connection) -> AchievementRecord:
            now = utcnow()
            inserted = await conn.fetchval(
                f"INSERT INTO achievements ({ACH_COLS}) VALUES ($1, 1, $2::json, false, $3, $3)"
                " ON CONFLICT DO NOTHING RETURNING id",
                achievement_id,
                text,
                now,
            )
            if inserted is None:
                raise ConflictError(f"an achievement with id {achievement_id!r} already exists")
            await conn.execute(
                "INSERT INTO achievement_versions (achievement_id, version, data, created_at)"
                " VALUES ($1, 1, $2::json, $3)",
                achievement_id,
                text,
                now,
            )
            return AchievementRecord(achievement_id, 1, json.loads(text), False, now, now)

        return await self._run(insert)

    async def update_achievement(
        self, achievement_id: str, data: dict[str, Any], *, expected_version: int | None = None
    ) -> AchievementRecord:
        check_achievement_data(achievement_id, data)
        text = dumps(data)

        async def update(conn: asyncpg.Connection) -> AchievementRecord:
            row = await conn.fetchrow(
                f"SELECT {ACH_COLS} FROM achievements WHERE id = $1 FOR UPDATE", achievement_id
            )
            if row is None:
                raise NotFoundError(f"no achievement {achievement_id!r}")
            current = _achievement(row)
            check_expected_version(achievement_id, expected_version, current.version)
            now = utcnow()
            version = current.version + 1
            await conn.execute(
                "UPDATE achievements SET version = $1, data = $2::json, updated_at = $3"
                " WHERE id = $4",
                version,
                text,
                now,
                achievement_id,
            )
            await conn.execute(
                "INSERT INTO achievement_versions (achievement_id, version, data, created_at)"
                " VALUES ($1, $2, $3::json, $4)",
                achievement_id,
                version,
                text,
                now,
            )
            return AchievementRecord(
                achievement_id, version, json.loads(text), current.archived, current.created_at, now
            )

        return await self._run(update)

    async def get_achievement(
        self, achievement_id: str, version: int | None = None
    ) -> AchievementRecord | None:
        async def read(conn: asyncpg.Connection) -> AchievementRecord | None:
            row = await conn.fetchrow(
                f"SELECT {ACH_COLS} FROM achievements WHERE id = $1", achievement_id
            )
            if row is None:
                return None
            current = _achievement(row)
            if version is None or version == current.version:
                return current
            old = await conn.fetchrow(
                "SELECT data, created_at FROM achievement_versions"
                " WHERE achievement_id = $1 AND version = $2",
                achievement_id,
                version,
            )
            if old is None:
                return None
            return AchievementRecord(
                achievement_id,
                version,
                json.loads(old["data"]),
                current.archived,
                current.created_at,
                old["created_at"],
            )

        return await self._read(read)

    async def list_achievements(self, *, include_archived: bool = False) -> list[AchievementRecord]:
        where = "" if include_archived else "WHERE NOT archived"
        return await self._all(
            _achievement, f"SELECT {ACH_COLS} FROM achievements {where} ORDER BY created_at, id"
        )

    async def set_achievement_archived(
        self, achievement_id: str, archived: bool
    ) -> AchievementRecord:
        async def change(conn: asyncpg.Connection) -> AchievementRecord:
            row = await conn.fetchrow(
                f"SELECT {ACH_COLS} FROM achievements WHERE id = $1 FOR UPDATE", achievement_id
            )
            if row is None:
                raise NotFoundError(f"no achievement {achievement_id!r}")
            current = _achievement(row)
            if current.archived == bool(archived):
                return current
            now = utcnow()
            await conn.execute(
                "UPDATE achievements SET archived = $1, updated_at = $2 WHERE id = $3",
                bool(archived),
                now,
                achievement_id,
            )
            return AchievementRecord(
                current.id, current.version, current.data, bool(archived), current.created_at, now
            )

        return await self._run(change)

    async def put_image(self, sha256: str, media_type: str, data: bytes) -> bool:
        check_image(sha256, media_type, data)

        async def insert(conn: asyncpg.Connection) -> bool:
            inserted = await conn.fetchval(
                "INSERT INTO images (sha256, media_type, data, created_at) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (sha256) DO NOTHING RETURNING sha256",
                sha256,
                media_type,
                bytes(data),
                utcnow(),
            )
            return inserted is not None

        return await self._run(insert)

    async def get_image(self, sha256: str) -> ImageRecord | None:
        return await self._one(
            lambda row: ImageRecord(
                row["sha256"], row["media_type"], bytes(row["data"]), row["created_at"]
            ),
            "SELECT sha256, media_type, data, created_at FROM images WHERE sha256 = $1",
            sha256,
        )

    async def credential_refs(self, idempotency_keys: Sequence[str]) -> dict[str, CredentialRef]:
        keys = check_keys(idempotency_keys)
        if not keys:
            return {}

        async def read(conn: asyncpg.Connection) -> dict[str, CredentialRef]:
            rows = await conn.fetch(
                "SELECT idempotency_key, id, page_id FROM credentials"
                " WHERE idempotency_key = ANY($1::text[])",
                keys,
            )
            return {r["idempotency_key"]: CredentialRef(r["id"], r["page_id"]) for r in rows}

        return await self._read(read)

    # --- wallet exchanges -----------------------------------------------------------------------

    async def create_exchange(self, record: ExchangeRecord) -> ExchangeRecord:
        rec = check_exchange(record)

        async def insert(conn: asyncpg.Connection) -> ExchangeRecord:
            inserted = await conn.fetchval(
                f"INSERT INTO exchanges ({EXCHANGE_COLS})"
                " VALUES ($1, $2, $3, $4, $5::json, $6, $7, $6, 1, $8::json, $9::json, $10)"
                " ON CONFLICT DO NOTHING RETURNING id",
                rec.id,
                rec.kind,
                rec.state,
                rec.credential_id,
                None if rec.template is None else dumps(rec.template),
                rec.created_at,
                rec.expires_at,
                dumps(rec.data),
                None if rec.result is None else dumps(rec.result),
                rec.lookup_hash,
            )
            if inserted is None:
                what = f"exchange {rec.id[:8]}... conflicts: its id or lookup_hash is taken"
                raise ConflictError(what)
            return rec

        return await self._run(insert)

    async def _one_exchange(self, where: str, *args: str) -> ExchangeRecord | None:
        return await self._one(
            _exchange, f"SELECT {EXCHANGE_COLS} FROM exchanges WHERE {where}", *args
        )

    async def get_exchange(self, exchange_id: str) -> ExchangeRecord | None:
        return await self._one_exchange("id = $1", exchange_id)

    async def find_exchange(self, kind: str, lookup_hash: str) -> ExchangeRecord | None:
        return await self._one_exchange("kind = $1 AND lookup_hash = $2", kind, lookup_hash)

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
        args: list[Any] = [to_state, utcnow(), exchange_id, states]
        sets = ["state = $1", "version = version + 1", "updated_at = $2"]
        if data is not None:
            args.append(dumps(data))
            sets.append(f"data = ${len(args)}::json")
        if result is not None:
            args.append(dumps(result))
            sets.append(f"result = ${len(args)}::json")
        if not isinstance(lookup_hash, Keep):
            args.append(lookup_hash)
            sets.append(f"lookup_hash = ${len(args)}")
        where = "id = $3 AND state = ANY($4::text[])"
        if now is not None:
            args.append(as_utc(now, "now"))
            where += f" AND expires_at > ${len(args)}"
        # Row-level: a concurrent UPDATE waits for this one, then re-checks the state and misses.
        sql = f"UPDATE exchanges SET {', '.join(sets)} WHERE {where} RETURNING id"

        async def change(conn: asyncpg.Connection) -> bool:
            try:
                return await conn.fetchval(sql, *args) is not None
            except asyncpg.UniqueViolationError as exc:
                raise ConflictError("the new lookup_hash belongs to another exchange") from exc

        return await self._run(change)

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
        args: list[Any] = [dumps(data), utcnow(), exchange_id, expected_state]
        where = "id = $3 AND state = $4"
        if expected_version is not None:
            args.append(expected_version)
            where += " AND version = $5"
        sql = (
            "UPDATE exchanges SET data = $1::json, version = version + 1, updated_at = $2"
            f" WHERE {where} RETURNING id"
        )

        async def change(conn: asyncpg.Connection) -> bool:
            return await conn.fetchval(sql, *args) is not None

        return await self._run(change)

    async def list_exchanges(
        self,
        *,
        credential_id: str | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> list[ExchangeRecord]:
        if limit < 0:
            raise MalformedInputError("limit must be non-negative")
        clauses: list[str] = []
        args: list[Any] = []
        if credential_id is not None:
            args.append(credential_id)
            clauses.append(f"credential_id = ${len(args)}")
        if kind is not None:
            args.append(kind)
            clauses.append(f"kind = ${len(args)}")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        args.append(limit)
        sql = (
            f"SELECT {EXCHANGE_COLS} FROM exchanges {where}"
            f" ORDER BY created_at DESC, id LIMIT ${len(args)}"
        )
        return await self._all(_exchange, sql, *args)

    # --- claim links ------------------------------------------------------------------------------

    async def create_claims(self, records: Sequence[ClaimRecord]) -> list[ClaimRecord]:
        recs = [check_claim(r) for r in records]
        rows = [
            (
                r.id,
                r.token_hash,
                r.credential_id,
                r.created_at,
                r.expires_at,
                r.revoked_at,
                r.last_used_at,
            )
            for r in recs
        ]

        async def insert(conn: asyncpg.Connection) -> list[ClaimRecord]:
            try:
                await conn.executemany(
                    f"INSERT INTO claims ({CLAIM_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    rows,
                )
            except asyncpg.UniqueViolationError as exc:
                raise ConflictError("a claim id or token hash is taken") from exc
            return recs

        if not recs:
            return []
        return await self._run(insert)

    async def _one_claim(self, where: str, value: str) -> ClaimRecord | None:
        return await self._one(_claim, f"SELECT {CLAIM_COLS} FROM claims WHERE {where} = $1", value)

    async def get_claim(self, claim_id: str) -> ClaimRecord | None:
        return await self._one_claim("id", claim_id)

    async def find_claim(self, token_hash: str) -> ClaimRecord | None:
        return await self._one_claim("token_hash", token_hash)

    async def list_claims(
        self, *, credential_id: str | None = None, limit: int = 100
    ) -> list[ClaimRecord]:
        if limit < 0:
            raise MalformedInputError("limit must be non-negative")
        if credential_id is None:
            sql = f"SELECT {CLAIM_COLS} FROM claims ORDER BY created_at DESC, id LIMIT $1"
            args: tuple[Any, ...] = (limit,)
        else:
            sql = (
                f"SELECT {CLAIM_COLS} FROM claims WHERE credential_id = $1"
                " ORDER BY created_at DESC, id LIMIT $2"
            )
            args = (credential_id, limit)
        return await self._all(_claim, sql, *args)

    async def revoke_claim(self, claim_id: str, now: datetime) -> ClaimRecord:
        at = as_utc(now, "now")

        async def change(conn: asyncpg.Connection) -> ClaimRecord:
            row = await conn.fetchrow(
                "UPDATE claims SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2"
                f" RETURNING {CLAIM_COLS}",
                at,
                claim_id,
            )
            if row is None:
                raise NotFoundError(f"no claim link with id {claim_id!r}")
            return _claim(row)

        return await self._run(change)

    async def touch_claim(self, claim_id: str, now: datetime) -> bool:
        at = as_utc(now, "now")

        async def change(conn: asyncpg.Connection) -> bool:
            row = await conn.fetchval(
                "UPDATE claims SET last_used_at = $1 WHERE id = $2 RETURNING id", at, claim_id
            )
            return row is not None

        return await self._run(change)

    # --- meta -------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        async def read(conn: asyncpg.Connection) -> str | None:
            value = await conn.fetchval("SELECT value FROM meta WHERE key = $1", key)
            return None if value is None else str(value)

        return await self._read(read)

    async def set_meta(self, key: str, value: str) -> None:
        check_meta(key, value)

        async def write(conn: asyncpg.Connection) -> None:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                key,
                value,
            )

        await self._run(write)


def _ident(name: str) -> str:
    """Quote an SQL identifier (schema names come from configuration, not from users)."""
    return '"' + name.replace('"', '""') + '"'


__all__ = ["PostgresStore"]
