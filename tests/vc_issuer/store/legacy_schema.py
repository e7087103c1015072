# ruff: noqa: E501
"""The schema as the hand-written backends created it (schema version 4, before the SQL layer).

Frozen copies of the old ``store/migrations/{sqlite,postgres}.py``: homes created by them must keep
opening, so tests build such a store and open it with today's code.
"""

from __future__ import annotations

SQLITE: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "initial",
        (
            "CREATE TABLE credentials ( id TEXT PRIMARY KEY NOT NULL, page_id TEXT NOT NULL UNIQUE, subject_id TEXT, types TEXT NOT NULL, issued_at TEXT NOT NULL, valid_from TEXT, valid_until TEXT, status_entries TEXT NOT NULL, credential TEXT NOT NULL, idempotency_key TEXT UNIQUE, stored_at TEXT NOT NULL )",
            "CREATE INDEX credentials_subject ON credentials(subject_id)",
            "CREATE INDEX credentials_issued ON credentials(issued_at)",
            "CREATE TABLE status_lists ( id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('BitstringStatusList', 'StatusList2021')), purpose TEXT NOT NULL, size INTEGER NOT NULL CHECK (size > 0), created_at TEXT NOT NULL, is_full INTEGER NOT NULL DEFAULT 0, allocated INTEGER NOT NULL DEFAULT 0, alloc_bits BLOB NOT NULL, CHECK (allocated >= 0 AND allocated <= size) )",
            "CREATE UNIQUE INDEX status_lists_current ON status_lists(kind, purpose, size) WHERE is_full = 0",
            "CREATE TABLE status_list_bits ( list_id TEXT PRIMARY KEY NOT NULL REFERENCES status_lists(id), bits BLOB NOT NULL, version INTEGER NOT NULL, updated_at TEXT NOT NULL, credential TEXT, credential_version INTEGER )",
            "CREATE TABLE status_allocations ( list_id TEXT NOT NULL REFERENCES status_lists(id), idx INTEGER NOT NULL CHECK (idx >= 0), allocated_at TEXT NOT NULL, PRIMARY KEY (list_id, idx) ) WITHOUT ROWID",
            "CREATE TABLE status_audit ( id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, credential_id TEXT, list_id TEXT NOT NULL REFERENCES status_lists(id), idx INTEGER NOT NULL, purpose TEXT NOT NULL, old INTEGER NOT NULL, new INTEGER NOT NULL, reason TEXT )",
            "CREATE INDEX status_audit_credential ON status_audit(credential_id)",
            "CREATE INDEX status_audit_list ON status_audit(list_id)",
            "CREATE TABLE api_tokens ( id TEXT PRIMARY KEY NOT NULL, token_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, scopes TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT )",
            "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
        ),
    ),
    (
        2,
        "achievements",
        (
            "CREATE TABLE achievements ( id TEXT PRIMARY KEY NOT NULL, version INTEGER NOT NULL CHECK (version >= 1), data TEXT NOT NULL, archived INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL )",
            "CREATE TABLE achievement_versions ( achievement_id TEXT NOT NULL REFERENCES achievements(id), version INTEGER NOT NULL, data TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (achievement_id, version) ) WITHOUT ROWID",
            "CREATE TABLE images ( sha256 TEXT PRIMARY KEY NOT NULL, media_type TEXT NOT NULL, data BLOB NOT NULL, created_at TEXT NOT NULL )",
        ),
    ),
    (
        3,
        "exchanges",
        (
            "CREATE TABLE exchanges ( id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('vcapi', 'oid4vci')), state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'complete', 'expired', 'failed')), credential_id TEXT, template TEXT, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, updated_at TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1, data TEXT NOT NULL, result TEXT, lookup_hash TEXT UNIQUE, CHECK (credential_id IS NOT NULL OR template IS NOT NULL) )",
            "CREATE INDEX exchanges_credential ON exchanges(credential_id)",
            "CREATE INDEX exchanges_expiry ON exchanges(state, expires_at)",
        ),
    ),
    (
        4,
        "claims",
        (
            "CREATE TABLE claims ( id TEXT PRIMARY KEY NOT NULL, token_hash TEXT NOT NULL UNIQUE, credential_id TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT, last_used_at TEXT, CHECK (expires_at > created_at) )",
            "CREATE INDEX claims_credential ON claims(credential_id)",
        ),
    ),
)

POSTGRES: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "initial",
        (
            "CREATE TABLE credentials ( id text PRIMARY KEY, page_id text NOT NULL UNIQUE, subject_id text, types text[] NOT NULL, issued_at timestamptz NOT NULL, valid_from timestamptz, valid_until timestamptz, status_entries json NOT NULL, credential json NOT NULL, idempotency_key text UNIQUE, stored_at timestamptz NOT NULL DEFAULT now() )",
            "CREATE INDEX credentials_subject ON credentials(subject_id)",
            "CREATE INDEX credentials_issued ON credentials(issued_at)",
            "CREATE TABLE status_lists ( id text PRIMARY KEY, kind text NOT NULL CHECK (kind IN ('BitstringStatusList', 'StatusList2021')), purpose text NOT NULL, size integer NOT NULL CHECK (size > 0), created_at timestamptz NOT NULL, is_full boolean NOT NULL DEFAULT false, allocated integer NOT NULL DEFAULT 0, alloc_bits bytea NOT NULL, CHECK (allocated >= 0 AND allocated <= size) )",
            "CREATE UNIQUE INDEX status_lists_current ON status_lists(kind, purpose, size) WHERE NOT is_full",
            "CREATE TABLE status_list_bits ( list_id text PRIMARY KEY REFERENCES status_lists(id), bits bytea NOT NULL, version bigint NOT NULL, updated_at timestamptz NOT NULL, credential json, credential_version bigint )",
            "CREATE TABLE status_allocations ( list_id text NOT NULL REFERENCES status_lists(id), idx integer NOT NULL CHECK (idx >= 0), allocated_at timestamptz NOT NULL, PRIMARY KEY (list_id, idx) )",
            "CREATE TABLE status_audit ( id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL, actor text NOT NULL, credential_id text, list_id text NOT NULL REFERENCES status_lists(id), idx integer NOT NULL, purpose text NOT NULL, old boolean NOT NULL, new boolean NOT NULL, reason text )",
            "CREATE INDEX status_audit_credential ON status_audit(credential_id)",
            "CREATE INDEX status_audit_list ON status_audit(list_id)",
            "CREATE TABLE api_tokens ( id text PRIMARY KEY, token_hash text NOT NULL UNIQUE, name text NOT NULL, scopes text[] NOT NULL, created_at timestamptz NOT NULL, expires_at timestamptz, revoked_at timestamptz )",
            "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)",
        ),
    ),
    (
        2,
        "achievements",
        (
            "CREATE TABLE achievements ( id text PRIMARY KEY, version integer NOT NULL CHECK (version >= 1), data json NOT NULL, archived boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL )",
            "CREATE TABLE achievement_versions ( achievement_id text NOT NULL REFERENCES achievements(id), version integer NOT NULL, data json NOT NULL, created_at timestamptz NOT NULL, PRIMARY KEY (achievement_id, version) )",
            "CREATE TABLE images ( sha256 text PRIMARY KEY, media_type text NOT NULL, data bytea NOT NULL, created_at timestamptz NOT NULL )",
        ),
    ),
    (
        3,
        "exchanges",
        (
            "CREATE TABLE exchanges ( id text PRIMARY KEY, kind text NOT NULL CHECK (kind IN ('vcapi', 'oid4vci')), state text NOT NULL CHECK (state IN ('pending', 'active', 'complete', 'expired', 'failed')), credential_id text, template json, created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, version integer NOT NULL DEFAULT 1, data json NOT NULL, result json, lookup_hash text UNIQUE, CHECK (credential_id IS NOT NULL OR template IS NOT NULL) )",
            "CREATE INDEX exchanges_credential ON exchanges(credential_id)",
            "CREATE INDEX exchanges_expiry ON exchanges(state, expires_at)",
        ),
    ),
    (
        4,
        "claims",
        (
            "CREATE TABLE claims ( id text PRIMARY KEY, token_hash text NOT NULL UNIQUE, credential_id text NOT NULL, created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, revoked_at timestamptz, last_used_at timestamptz, CHECK (expires_at > created_at) )",
            "CREATE INDEX claims_credential ON claims(credential_id)",
        ),
    ),
)
