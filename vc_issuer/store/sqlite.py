"""SQLite backend: the embedded default.

One writer connection in its own thread runs each transaction as a single function (BEGIN IMMEDIATE
... COMMIT), so coroutines never interleave inside a transaction and every transaction costs one
thread hop. Reads use a second, read-only connection (WAL lets it read while the writer writes).
Several processes may share the file: BEGIN IMMEDIATE takes SQLite's write lock, ``busy_timeout``
makes the others wait for it. ``synchronous=FULL``: a commit that returned survives power loss.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

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
from vc_issuer.store.migrations.sqlite import MIGRATIONS

T = TypeVar("T")
_TS = "%Y-%m-%dT%H:%M:%S.%fZ"


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_TS)


def _opt_ts(value: datetime | None) -> str | None:
    return None if value is None else _ts(value)


def _dt(value: str) -> datetime:
    return datetime.strptime(value, _TS).replace(tzinfo=UTC)


def _opt_dt(value: str | None) -> datetime | None:
    return None if value is None else _dt(value)


def _cred(row: sqlite3.Row | tuple[Any, ...]) -> CredentialRecord:
    return CredentialRecord(
        id=row[0],
        subject_id=row[1],
        types=json.loads(row[2]),
        issued_at=_dt(row[3]),
        valid_from=_opt_dt(row[4]),
        valid_until=_opt_dt(row[5]),
        status_entries=json.loads(row[6]),
        credential=json.loads(row[7]),
        idempotency_key=row[8],
        page_id=row[9],
    )


def _list(row: tuple[Any, ...]) -> StatusListRecord:
    return StatusListRecord(
        id=row[0],
        kind=row[1],
        purpose=row[2],
        size=row[3],
        bits=bytes(row[4]),
        version=row[5],
        updated_at=_dt(row[6]),
        created_at=_dt(row[7]),
        full=bool(row[8]),
        allocated=row[9],
        credential=None if row[10] is None else json.loads(row[10]),
        credential_version=row[11],
    )


def _audit(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(
        id=row[0],
        at=_dt(row[1]),
        actor=row[2],
        credential_id=row[3],
        list_id=row[4],
        index=row[5],
        purpose=row[6],
        old=bool(row[7]),
        new=bool(row[8]),
        reason=row[9],
    )


def _achievement(row: tuple[Any, ...]) -> AchievementRecord:
    return AchievementRecord(
        id=row[0],
        version=int(row[1]),
        data=json.loads(row[2]),
        archived=bool(row[3]),
        created_at=_dt(row[4]),
        updated_at=_dt(row[5]),
    )


def _exchange(row: tuple[Any, ...]) -> ExchangeRecord:
    return ExchangeRecord(
        id=row[0],
        kind=row[1],
        state=row[2],
        credential_id=row[3],
        template=None if row[4] is None else json.loads(row[4]),
        created_at=_dt(row[5]),
        expires_at=_dt(row[6]),
        updated_at=_dt(row[7]),
        version=int(row[8]),
        data=json.loads(row[9]),
        result=None if row[10] is None else json.loads(row[10]),
        lookup_hash=row[11],
    )


def _claim(row: tuple[Any, ...]) -> ClaimRecord:
    return ClaimRecord(
        id=row[0],
        token_hash=row[1],
        credential_id=row[2],
        created_at=_dt(row[3]),
        expires_at=_dt(row[4]),
        revoked_at=_opt_dt(row[5]),
        last_used_at=_opt_dt(row[6]),
    )


def _token(row: tuple[Any, ...]) -> TokenRecord:
    return TokenRecord(
        id=row[0],
        token_hash=row[1],
        name=row[2],
        scopes=json.loads(row[3]),
        created_at=_dt(row[4]),
        expires_at=_opt_dt(row[5]),
        revoked_at=_opt_dt(row[6]),
    )


class _Worker:
    """One sqlite3 connection bound to one thread."""

    def __init__(self, path: str, *, readonly: bool, busy_timeout_ms: int) -> None:
        self._path = path
        self._readonly = readonly
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vc-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        # ``timeout`` is SQLite's busy_timeout: writers in other processes wait for the lock.
        timeout = self._busy_timeout_ms / 1e3
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=timeout)
        conn.execute("PRAGMA foreign_keys = ON")
        if self._readonly:
            conn.execute("PRAGMA query_only = ON")
        else:
            mode = self._switch_to_wal(conn)
            if mode.lower() != "wal" and self._path != ":memory:":
                raise StoreError(f"SQLite refused WAL mode for {self._path} (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
        return conn

    def _switch_to_wal(self, conn: sqlite3.Connection) -> str:
        """Retry by hand: SQLite skips the busy handler here when processes race on a new file."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1e3
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.005, 0.05))

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:  # the executor is shut down: it would raise a bare RuntimeError
            raise StoreError(f"the SQLite store {self._path} is closed")

        def call() -> T:
            if self._conn is None:
                self._conn = self._connect()
            return fn(self._conn)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except VCIssuerError:
            raise
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite error on {self._path}: {exc}") from exc

    async def close(self) -> None:
        self._closed = True

        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, close)
        finally:
            self._executor.shutdown(wait=True)


def _transaction(fn: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    """Wrap ``fn`` in BEGIN IMMEDIATE ... COMMIT: the write lock is taken before the first read."""

    def run(conn: sqlite3.Connection) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    return run


class SqliteStore(Store):
    backend = "sqlite"

    def __init__(self, path: str | PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = str(path)
        ms = int(busy_timeout * 1000)
        self._writer = _Worker(self.path, readonly=False, busy_timeout_ms=ms)
        # An in-memory database exists once per connection: read through the writer then.
        self._reader = (
            self._writer
            if self.path == ":memory:"
            else _Worker(self.path, readonly=True, busy_timeout_ms=ms)
        )
        self._closed = False

    @classmethod
    async def open(
        cls, path: str | PathLike[str], *, migrate: bool = True, busy_timeout: float = 30.0
    ) -> SqliteStore:
        if str(path) != ":memory:":
            parent = Path(path).parent
            if not parent.is_dir():
                raise StoreError(f"directory for the SQLite store does not exist: {parent}")
        store = cls(path, busy_timeout=busy_timeout)
        try:
            await store._writer.run(lambda conn: None)  # connect, set WAL now: fail early
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
        await self._writer.close()
        if self._reader is not self._writer:
            await self._reader.close()

    async def _one(
        self, record: Callable[[Any], T], sql: str, args: Sequence[Any] = ()
    ) -> T | None:
        """The first row of a read, as a record (None without rows)."""

        def read(conn: sqlite3.Connection) -> T | None:
            row = conn.execute(sql, args).fetchone()
            return None if row is None else record(row)

        return await self._reader.run(read)

    async def _all(self, record: Callable[[Any], T], sql: str, args: Sequence[Any] = ()) -> list[T]:
        """Every row of a read, as records."""
        return await self._reader.run(
            lambda conn: [record(r) for r in conn.execute(sql, args).fetchall()]
        )

    # --- schema ----------------------------------------------------------------------------------

    async def migrate(self) -> int:
        def apply(conn: sqlite3.Connection) -> int:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            version: int = current.fetchone()[0]
            for m in pending(MIGRATIONS, version):
                for statement in m.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (m.version, m.name, _ts(utcnow())),
                )
                version = m.version
            return version

        return await self._writer.run(_transaction(apply))

    async def schema_version(self) -> int:
        def read(conn: sqlite3.Connection) -> int:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if exists is None:
                return 0
            return int(
                conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            )

        return await self._reader.run(read)

    # --- credentials ------------------------------------------------------------------------------

    @staticmethod
    def _put(conn: sqlite3.Connection, record: CredentialRecord) -> CredentialRecord:
        if record.idempotency_key is not None:
            row = conn.execute(
                f"SELECT {CRED_COLS} FROM credentials WHERE idempotency_key = ?",
                (record.idempotency_key,),
            ).fetchone()
            if row is not None:
                return _cred(row)
        if conn.execute("SELECT 1 FROM credentials WHERE id = ?", (record.id,)).fetchone():
            raise ConflictError(f"a credential with id {record.id!r} is already stored")
        try:
            conn.execute(
                "INSERT INTO credentials (id, subject_id, types, issued_at, valid_from,"
                " valid_until, status_entries, credential, idempotency_key, page_id, stored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.subject_id,
                    dumps(record.types),
                    _ts(record.issued_at),
                    _opt_ts(record.valid_from),
                    _opt_ts(record.valid_until),
                    dumps(record.status_entries),
                    dumps(record.credential),
                    record.idempotency_key,
                    record.page_id,
                    _ts(utcnow()),
                ),
            )
        except sqlite3.IntegrityError as exc:  # page_id collision: a caller bug, not chance
            raise ConflictError(f"credential record {record.id!r} conflicts: {exc}") from exc
        return record

    async def put_credential(self, record: CredentialRecord) -> CredentialRecord:
        rec = check_record(record)
        return await self._writer.run(_transaction(lambda conn: self._put(conn, rec)))

    async def put_credentials(self, records: Sequence[CredentialRecord]) -> list[CredentialRecord]:
        recs = [check_record(r) for r in records]
        if not recs:
            return []
        return await self._writer.run(_transaction(lambda conn: [self._put(conn, r) for r in recs]))

    async def _one_cred(self, where: str, value: str) -> CredentialRecord | None:
        return await self._one(
            _cred, f"SELECT {CRED_COLS} FROM credentials WHERE {where} = ?", (value,)
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
        where, args = ("", ()) if subject_id is None else ("WHERE subject_id = ?", (subject_id,))
        return await self._all(
            _cred,
            f"SELECT {CRED_COLS} FROM credentials {where}"
            " ORDER BY issued_at DESC, id LIMIT ? OFFSET ?",
            (*args, limit, offset),
        )

    async def count_credentials(self) -> int:
        return await self._reader.run(
            lambda conn: int(conn.execute("SELECT COUNT(*) FROM credentials").fetchone()[0])
        )

    # --- status lists -----------------------------------------------------------------------------

    async def allocate_indices(
        self, kind: str, purpose: str, size: int, count: int, rng: random.Random | None = None
    ) -> list[tuple[str, int]]:
        check_list_request(kind, purpose, size, count)
        if count == 0:
            return []
        draw = rng if rng is not None else default_rng()

        def allocate(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            out: list[tuple[str, int]] = []
            now = _ts(utcnow())
            while len(out) < count:
                row = conn.execute(
                    "SELECT id, allocated, alloc_bits FROM status_lists"
                    " WHERE kind = ? AND purpose = ? AND size = ? AND is_full = 0",
                    (kind, purpose, size),
                ).fetchone()
                if row is None:
                    list_id = str(uuid.uuid4())
                    conn.execute(
                        "INSERT INTO status_lists (id, kind, purpose, size, created_at, is_full,"
                        " allocated, alloc_bits) VALUES (?, ?, ?, ?, ?, 0, 0, ?)",
                        (list_id, kind, purpose, size, now, bytes(bitmap_len(size))),
                    )
                    conn.execute(
                        "INSERT INTO status_list_bits (list_id, bits, version, updated_at)"
                        " VALUES (?, ?, 1, ?)",
                        (list_id, bytes(bitmap_len(size)), now),
                    )
                    continue
                list_id, allocated, alloc_blob = row
                alloc = bytearray(alloc_blob)
                n = min(count - len(out), size - allocated)
                picked = pick_free(alloc, size, allocated, n, draw)
                # The primary key is the last guard: a duplicate aborts the whole transaction.
                conn.executemany(
                    "INSERT INTO status_allocations (list_id, idx, allocated_at) VALUES (?, ?, ?)",
                    [(list_id, i, now) for i in picked],
                )
                allocated += n
                conn.execute(
                    "UPDATE status_lists SET alloc_bits = ?, allocated = ?, is_full = ?"
                    " WHERE id = ?",
                    (bytes(alloc), allocated, int(allocated >= size), list_id),
                )
                out.extend((list_id, i) for i in picked)
            return out

        return await self._writer.run(_transaction(allocate))

    async def allocated_indices(self, list_id: str) -> list[int]:
        return await self._all(
            lambda r: int(r[0]),
            "SELECT idx FROM status_allocations WHERE list_id = ? ORDER BY idx",
            (list_id,),
        )

    async def _apply_bit_change(self, c: BitChange) -> tuple[bool, bool]:
        def change(conn: sqlite3.Connection) -> tuple[bool, bool]:
            row = conn.execute(
                "SELECT l.purpose, l.size, l.alloc_bits, b.bits FROM "
                + LIST_FROM
                + " WHERE l.id = ?",
                (c.list_id,),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no status list {c.list_id!r}")
            list_purpose, size, alloc, bits_blob = row
            check_change(c.list_id, list_purpose, size, alloc, c.index, c.purpose)
            old, bits = apply_bit(bits_blob, c.index, c.value)
            if bits is None:
                return old, c.value
            now = _ts(utcnow())
            conn.execute(
                "UPDATE status_list_bits SET bits = ?, version = version + 1, updated_at = ?"
                " WHERE list_id = ?",
                (bits, now, c.list_id),
            )
            conn.execute(
                "INSERT INTO status_audit (at, actor, credential_id, list_id, idx, purpose, old,"
                " new, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    c.actor,
                    c.credential_id,
                    c.list_id,
                    c.index,
                    list_purpose,
                    int(old),
                    int(c.value),
                    c.reason,
                ),
            )
            return old, c.value

        return await self._writer.run(_transaction(change))

    async def get_status_list(self, list_id: str) -> StatusListRecord | None:
        return await self._one(
            _list, f"SELECT {LIST_COLS} FROM {LIST_FROM} WHERE l.id = ?", (list_id,)
        )

    async def list_status_lists(self) -> list[StatusListRecord]:
        return await self._all(
            _list, f"SELECT {LIST_COLS} FROM {LIST_FROM} ORDER BY l.created_at, l.id"
        )

    async def save_list_credential(
        self, list_id: str, version: int, credential: dict[str, Any]
    ) -> bool:
        text = dumps(check_list_credential(credential))

        def save(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT version, credential_version FROM status_list_bits WHERE list_id = ?",
                (list_id,),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no status list {list_id!r}")
            current, kept = row
            check_version(list_id, version, current)
            if kept is not None and kept > version:
                return False
            conn.execute(
                "UPDATE status_list_bits SET credential = ?, credential_version = ?"
                " WHERE list_id = ?",
                (text, version, list_id),
            )
            return True

        return await self._writer.run(_transaction(save))

    async def audit_log(
        self, credential_id: str | None = None, *, list_id: str | None = None
    ) -> list[AuditEntry]:
        clauses: list[str] = []
        args: list[str] = []
        if credential_id is not None:
            clauses.append("credential_id = ?")
            args.append(credential_id)
        if list_id is not None:
            clauses.append("list_id = ?")
            args.append(list_id)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return await self._all(
            _audit, f"SELECT {AUDIT_COLS} FROM status_audit {where} ORDER BY id", args
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

        def insert(conn: sqlite3.Connection) -> TokenRecord:
            try:
                conn.execute(
                    f"INSERT INTO api_tokens ({TOKEN_COLS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    (
                        token.id,
                        token.token_hash,
                        token.name,
                        dumps(token.scopes),
                        _ts(token.created_at),
                        _opt_ts(token.expires_at),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError("a token with this hash already exists") from exc
            return token

        return await self._writer.run(_transaction(insert))

    async def get_token_by_hash(self, token_hash: str) -> TokenRecord | None:
        return await self._one(
            _token, f"SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = ?", (token_hash,)
        )

    async def list_tokens(self) -> list[TokenRecord]:
        return await self._all(
            _token, f"SELECT {TOKEN_COLS} FROM api_tokens ORDER BY created_at, id"
        )

    async def revoke_token(self, token_id: str) -> bool:
        def revoke(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT revoked_at FROM api_tokens WHERE id = ?", (token_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no API token with id {token_id!r}")
            if row[0] is not None:
                return False
            conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (_ts(utcnow()), token_id)
            )
            return True

        return await self._writer.run(_transaction(revoke))

    # --- achievements and images ------------------------------------------------------------

    async def create_achievement(
        self, achievement_id: str, data: dict[str, Any]
    ) -> AchievementRecord:
        check_achievement_data(achievement_id, data)
        text = dumps(data)

        def insert(conn: sqlite3.Connection) -> AchievementRecord:
            now = utcnow()
            if conn.execute(
                "SELECT 1 FROM achievements WHERE id = ?", (achievement_id,)
            ).fetchone():
                raise ConflictError(f"an achievement with id {achievement_id!r} already exists")
            conn.execute(
                f"INSERT INTO achievements ({ACH_COLS}) VALUES (?, 1, ?, 0, ?, ?)",
                (achievement_id, text, _ts(now), _ts(now)),
            )
            conn.execute(
                "INSERT INTO achievement_versions (achievement_id, version, data, created_at)"
                " VALUES (?, 1, ?, ?)",
                (achievement_id, text, _ts(now)),
            )
            return AchievementRecord(achievement_id, 1, json.loads(text), False, now, now)

        return await self._writer.run(_transaction(insert))

    async def update_achievement(
        self, achievement_id: str, data: dict[str, Any], *, expected_version: int | None = None
    ) -> AchievementRecord:
        check_achievement_data(achievement_id, data)
        text = dumps(data)

        def update(conn: sqlite3.Connection) -> AchievementRecord:
            row = conn.execute(
                f"SELECT {ACH_COLS} FROM achievements WHERE id = ?", (achievement_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no achievement {achievement_id!r}")
            current = _achievement(row)
            check_expected_version(achievement_id, expected_version, current.version)
            now = utcnow()
            version = current.version + 1
            conn.execute(
                "UPDATE achievements SET version = ?, data = ?, updated_at = ? WHERE id = ?",
                (version, text, _ts(now), achievement_id),
            )
            conn.execute(
                "INSERT INTO achievement_versions (achievement_id, version, data, created_at)"
                " VALUES (?, ?, ?, ?)",
                (achievement_id, version, text, _ts(now)),
            )
            return AchievementRecord(
                achievement_id, version, json.loads(text), current.archived, current.created_at, now
            )

        return await self._writer.run(_transaction(update))

    async def get_achievement(
        self, achievement_id: str, version: int | None = None
    ) -> AchievementRecord | None:
        def read(conn: sqlite3.Connection) -> AchievementRecord | None:
            row = conn.execute(
                f"SELECT {ACH_COLS} FROM achievements WHERE id = ?", (achievement_id,)
            ).fetchone()
            if row is None:
                return None
            current = _achievement(row)
            if version is None or version == current.version:
                return current
            old = conn.execute(
                "SELECT data, created_at FROM achievement_versions"
                " WHERE achievement_id = ? AND version = ?",
                (achievement_id, version),
            ).fetchone()
            if old is None:
                return None
            return AchievementRecord(
                achievement_id,
                version,
                json.loads(old[0]),
                current.archived,
                current.created_at,
                _dt(old[1]),
            )

        return await self._reader.run(read)

    async def list_achievements(self, *, include_archived: bool = False) -> list[AchievementRecord]:
        where = "" if include_archived else "WHERE archived = 0"
        return await self._all(
            _achievement, f"SELECT {ACH_COLS} FROM achievements {where} ORDER BY created_at, id"
        )

    async def set_achievement_archived(
        self, achievement_id: str, archived: bool
    ) -> AchievementRecord:
        def change(conn: sqlite3.Connection) -> AchievementRecord:
            row = conn.execute(
                f"SELECT {ACH_COLS} FROM achievements WHERE id = ?", (achievement_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no achievement {achievement_id!r}")
            current = _achievement(row)
            if current.archived == bool(archived):
                return current
            now = utcnow()
            conn.execute(
                "UPDATE achievements SET archived = ?, updated_at = ? WHERE id = ?",
                (int(bool(archived)), _ts(now), achievement_id),
            )
            return AchievementRecord(
                current.id, current.version, current.data, bool(archived), current.created_at, now
            )

        return await self._writer.run(_transaction(change))

    async def put_image(self, sha256: str, media_type: str, data: bytes) -> bool:
        check_image(sha256, media_type, data)

        def insert(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT INTO images (sha256, media_type, data, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (sha256) DO NOTHING",
                (sha256, media_type, bytes(data), _ts(utcnow())),
            )
            return cur.rowcount == 1

        return await self._writer.run(_transaction(insert))

    async def get_image(self, sha256: str) -> ImageRecord | None:
        return await self._one(
            lambda row: ImageRecord(row[0], row[1], bytes(row[2]), _dt(row[3])),
            "SELECT sha256, media_type, data, created_at FROM images WHERE sha256 = ?",
            (sha256,),
        )

    async def credential_refs(self, idempotency_keys: Sequence[str]) -> dict[str, CredentialRef]:
        keys = check_keys(idempotency_keys)
        if not keys:
            return {}

        def read(conn: sqlite3.Connection) -> dict[str, CredentialRef]:
            out: dict[str, CredentialRef] = {}
            for start in range(0, len(keys), 500):  # SQLite caps bound parameters
                part = keys[start : start + 500]
                rows = conn.execute(
                    "SELECT idempotency_key, id, page_id FROM credentials"
                    f" WHERE idempotency_key IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
                out.update({r[0]: CredentialRef(r[1], r[2]) for r in rows})
            return out

        return await self._reader.run(read)

    # --- wallet exchanges -----------------------------------------------------------------------

    async def create_exchange(self, record: ExchangeRecord) -> ExchangeRecord:
        rec = check_exchange(record)

        def insert(conn: sqlite3.Connection) -> ExchangeRecord:
            try:
                conn.execute(
                    f"INSERT INTO exchanges ({EXCHANGE_COLS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
                    (
                        rec.id,
                        rec.kind,
                        rec.state,
                        rec.credential_id,
                        None if rec.template is None else dumps(rec.template),
                        _ts(rec.created_at),
                        _ts(rec.expires_at),
                        _ts(rec.created_at),
                        dumps(rec.data),
                        None if rec.result is None else dumps(rec.result),
                        rec.lookup_hash,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                what = f"exchange {rec.id[:8]}... conflicts: its id or lookup_hash is taken"
                raise ConflictError(what) from exc
            return rec

        return await self._writer.run(_transaction(insert))

    async def _one_exchange(self, where: str, args: tuple[str, ...]) -> ExchangeRecord | None:
        return await self._one(
            _exchange, f"SELECT {EXCHANGE_COLS} FROM exchanges WHERE {where}", args
        )

    async def get_exchange(self, exchange_id: str) -> ExchangeRecord | None:
        return await self._one_exchange("id = ?", (exchange_id,))

    async def find_exchange(self, kind: str, lookup_hash: str) -> ExchangeRecord | None:
        return await self._one_exchange("kind = ? AND lookup_hash = ?", (kind, lookup_hash))

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
        sets = ["state = ?", "version = version + 1", "updated_at = ?"]
        args: list[Any] = [to_state, _ts(utcnow())]
        if data is not None:
            sets.append("data = ?")
            args.append(dumps(data))
        if result is not None:
            sets.append("result = ?")
            args.append(dumps(result))
        if not isinstance(lookup_hash, Keep):
            sets.append("lookup_hash = ?")
            args.append(lookup_hash)
        where = f"id = ? AND state IN ({','.join('?' * len(states))})"
        args += [exchange_id, *states]
        if now is not None:
            where += " AND expires_at > ?"
            args.append(_ts(as_utc(now, "now")))

        def change(conn: sqlite3.Connection) -> bool:
            try:
                cur = conn.execute(f"UPDATE exchanges SET {', '.join(sets)} WHERE {where}", args)
            except sqlite3.IntegrityError as exc:
                raise ConflictError("the new lookup_hash belongs to another exchange") from exc
            return cur.rowcount == 1

        return await self._writer.run(_transaction(change))

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
        where = "id = ? AND state = ?"
        args: list[Any] = [dumps(data), _ts(utcnow()), exchange_id, expected_state]
        if expected_version is not None:
            where += " AND version = ?"
            args.append(expected_version)

        def change(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE exchanges SET data = ?, version = version + 1, updated_at = ?"
                f" WHERE {where}",
                args,
            )
            return cur.rowcount == 1

        return await self._writer.run(_transaction(change))

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
            clauses.append("credential_id = ?")
            args.append(credential_id)
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return await self._all(
            _exchange,
            f"SELECT {EXCHANGE_COLS} FROM exchanges {where} ORDER BY created_at DESC, id LIMIT ?",
            (*args, limit),
        )

    # --- claim links ------------------------------------------------------------------------------

    async def create_claims(self, records: Sequence[ClaimRecord]) -> list[ClaimRecord]:
        recs = [check_claim(r) for r in records]
        rows = [
            (
                r.id,
                r.token_hash,
                r.credential_id,
                _ts(r.created_at),
                _ts(r.expires_at),
                _opt_ts(r.revoked_at),
                _opt_ts(r.last_used_at),
            )
            for r in recs
        ]

        def insert(conn: sqlite3.Connection) -> list[ClaimRecord]:
            try:
                conn.executemany(
                    f"INSERT INTO claims ({CLAIM_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError("a claim id or token hash is taken") from exc
            return recs

        if not recs:
            return []
        return await self._writer.run(_transaction(insert))

    async def _one_claim(self, where: str, value: str) -> ClaimRecord | None:
        return await self._one(
            _claim, f"SELECT {CLAIM_COLS} FROM claims WHERE {where} = ?", (value,)
        )

    async def get_claim(self, claim_id: str) -> ClaimRecord | None:
        return await self._one_claim("id", claim_id)

    async def find_claim(self, token_hash: str) -> ClaimRecord | None:
        return await self._one_claim("token_hash", token_hash)

    async def list_claims(
        self, *, credential_id: str | None = None, limit: int = 100
    ) -> list[ClaimRecord]:
        if limit < 0:
            raise MalformedInputError("limit must be non-negative")
        where = "" if credential_id is None else "WHERE credential_id = ?"
        args: tuple[Any, ...] = (limit,) if credential_id is None else (credential_id, limit)
        return await self._all(
            _claim,
            f"SELECT {CLAIM_COLS} FROM claims {where} ORDER BY created_at DESC, id LIMIT ?",
            args,
        )

    async def revoke_claim(self, claim_id: str, now: datetime) -> ClaimRecord:
        at = _ts(as_utc(now, "now"))

        def change(conn: sqlite3.Connection) -> ClaimRecord:
            conn.execute(
                "UPDATE claims SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, claim_id),
            )
            row = conn.execute(
                f"SELECT {CLAIM_COLS} FROM claims WHERE id = ?", (claim_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no claim link with id {claim_id!r}")
            return _claim(row)

        return await self._writer.run(_transaction(change))

    async def touch_claim(self, claim_id: str, now: datetime) -> bool:
        at = _ts(as_utc(now, "now"))

        def change(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("UPDATE claims SET last_used_at = ? WHERE id = ?", (at, claim_id))
            return cur.rowcount == 1

        return await self._writer.run(_transaction(change))

    # --- meta -------------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        return await self._one(
            lambda row: str(row[0]), "SELECT value FROM meta WHERE key = ?", (key,)
        )

    async def set_meta(self, key: str, value: str) -> None:
        check_meta(key, value)
        await self._writer.run(
            _transaction(
                lambda conn: conn.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
            )
        )


__all__ = ["SqliteStore"]
