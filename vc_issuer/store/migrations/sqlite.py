"""SQLite schema. Times are TEXT in one fixed UTC format (sortable); JSON is TEXT."""

from __future__ import annotations

from vc_issuer.store.migrations import Migration, check_ordered

MIGRATIONS = check_ordered(
    (
        Migration(
            1,
            "initial",
            (
                """CREATE TABLE credentials (
                    id TEXT PRIMARY KEY NOT NULL,
                    page_id TEXT NOT NULL UNIQUE,
                    subject_id TEXT,
                    types TEXT NOT NULL,
                    issued_at TEXT NOT NULL,
                    valid_from TEXT,
                    valid_until TEXT,
                    status_entries TEXT NOT NULL,
                    credential TEXT NOT NULL,
                    idempotency_key TEXT UNIQUE,
                    stored_at TEXT NOT NULL
                )""",
                "CREATE INDEX credentials_subject ON credentials(subject_id)",
                "CREATE INDEX credentials_issued ON credentials(issued_at)",
                """CREATE TABLE status_lists (
                    id TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL
                        CHECK (kind IN ('BitstringStatusList', 'StatusList2021')),
                    purpose TEXT NOT NULL,
                    size INTEGER NOT NULL CHECK (size > 0),
                    created_at TEXT NOT NULL,
                    is_full INTEGER NOT NULL DEFAULT 0,
                    allocated INTEGER NOT NULL DEFAULT 0,
                    alloc_bits BLOB NOT NULL,
                    CHECK (allocated >= 0 AND allocated <= size)
                )""",
                "CREATE UNIQUE INDEX status_lists_current ON status_lists(kind, purpose, size)"
                " WHERE is_full = 0",
                """CREATE TABLE status_list_bits (
                    list_id TEXT PRIMARY KEY NOT NULL REFERENCES status_lists(id),
                    bits BLOB NOT NULL,
                    version INTEGER NOT NULL,
                    updated_at TEXT NOT NULL,
                    credential TEXT,
                    credential_version INTEGER
                )""",
                """CREATE TABLE status_allocations (
                    list_id TEXT NOT NULL REFERENCES status_lists(id),
                    idx INTEGER NOT NULL CHECK (idx >= 0),
                    allocated_at TEXT NOT NULL,
                    PRIMARY KEY (list_id, idx)
                ) WITHOUT ROWID""",
                """CREATE TABLE status_audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    credential_id TEXT,
                    list_id TEXT NOT NULL REFERENCES status_lists(id),
                    idx INTEGER NOT NULL,
                    purpose TEXT NOT NULL,
                    old INTEGER NOT NULL,
                    new INTEGER NOT NULL,
                    reason TEXT
                )""",
                "CREATE INDEX status_audit_credential ON status_audit(credential_id)",
                "CREATE INDEX status_audit_list ON status_audit(list_id)",
                """CREATE TABLE api_tokens (
                    id TEXT PRIMARY KEY NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    expires_at TEXT,
                    revoked_at TEXT
                )""",
                "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
            ),
        ),
        Migration(
            2,
            "achievements",
            (
                """CREATE TABLE achievements (
                    id TEXT PRIMARY KEY NOT NULL,
                    version INTEGER NOT NULL CHECK (version >= 1),
                    data TEXT NOT NULL,
                    archived INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                )""",
                """CREATE TABLE achievement_versions (
                    achievement_id TEXT NOT NULL REFERENCES achievements(id),
                    version INTEGER NOT NULL,
                    data TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    PRIMARY KEY (achievement_id, version)
                ) WITHOUT ROWID""",
                """CREATE TABLE images (
                    sha256 TEXT PRIMARY KEY NOT NULL,
                    media_type TEXT NOT NULL,
                    data BLOB NOT NULL,
                    created_at TEXT NOT NULL
                )""",
            ),
        ),
        Migration(
            3,
            "exchanges",
            (
                """CREATE TABLE exchanges (
                    id TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('vcapi', 'oid4vci')),
                    state TEXT NOT NULL
                        CHECK (state IN ('pending', 'active', 'complete', 'expired', 'failed')),
                    credential_id TEXT,
                    template TEXT,
                    created_at TEXT NOT NULL,
                    expires_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    version INTEGER NOT NULL DEFAULT 1,
                    data TEXT NOT NULL,
                    result TEXT,
                    lookup_hash TEXT UNIQUE,
                    CHECK (credential_id IS NOT NULL OR template IS NOT NULL)
                )""",
                "CREATE INDEX exchanges_credential ON exchanges(credential_id)",
                "CREATE INDEX exchanges_expiry ON exchanges(state, expires_at)",
            ),
        ),
        Migration(
            4,
            "claims",
            (
                """CREATE TABLE claims (
                    id TEXT PRIMARY KEY NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    credential_id TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    expires_at TEXT NOT NULL,
                    revoked_at TEXT,
                    last_used_at TEXT,
                    CHECK (expires_at > created_at)
                )""",
                "CREATE INDEX claims_credential ON claims(credential_id)",
            ),
        ),
    )
)
