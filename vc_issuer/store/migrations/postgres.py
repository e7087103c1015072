"""PostgreSQL schema. Tables are created in the first schema of the connection's search_path."""

from __future__ import annotations

from vc_issuer.store.migrations import Migration, check_ordered

MIGRATIONS = check_ordered(
    (
        Migration(
            1,
            "initial",
            (
                """CREATE TABLE credentials (
                    id text PRIMARY KEY,
                    page_id text NOT NULL UNIQUE,
                    subject_id text,
                    types text[] NOT NULL,
                    issued_at timestamptz NOT NULL,
                    valid_from timestamptz,
                    valid_until timestamptz,
                    status_entries json NOT NULL,
                    credential json NOT NULL,
                    idempotency_key text UNIQUE,
                    stored_at timestamptz NOT NULL DEFAULT now()
                )""",
                "CREATE INDEX credentials_subject ON credentials(subject_id)",
                "CREATE INDEX credentials_issued ON credentials(issued_at)",
                """CREATE TABLE status_lists (
                    id text PRIMARY KEY,
                    kind text NOT NULL
                        CHECK (kind IN ('BitstringStatusList', 'StatusList2021')),
                    purpose text NOT NULL,
                    size integer NOT NULL CHECK (size > 0),
                    created_at timestamptz NOT NULL,
                    is_full boolean NOT NULL DEFAULT false,
                    allocated integer NOT NULL DEFAULT 0,
                    alloc_bits bytea NOT NULL,
                    CHECK (allocated >= 0 AND allocated <= size)
                )""",
                "CREATE UNIQUE INDEX status_lists_current ON status_lists(kind, purpose, size)"
                " WHERE NOT is_full",
                """CREATE TABLE status_list_bits (
                    list_id text PRIMARY KEY REFERENCES status_lists(id),
                    bits bytea NOT NULL,
                    version bigint NOT NULL,
                    updated_at timestamptz NOT NULL,
                    credential json,
                    credential_version bigint
                )""",
                """CREATE TABLE status_allocations (
                    list_id text NOT NULL REFERENCES status_lists(id),
                    idx integer NOT NULL CHECK (idx >= 0),
                    allocated_at timestamptz NOT NULL,
                    PRIMARY KEY (list_id, idx)
                )""",
                """CREATE TABLE status_audit (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    at timestamptz NOT NULL,
                    actor text NOT NULL,
                    credential_id text,
                    list_id text NOT NULL REFERENCES status_lists(id),
                    idx integer NOT NULL,
                    purpose text NOT NULL,
                    old boolean NOT NULL,
                    new boolean NOT NULL,
                    reason text
                )""",
                "CREATE INDEX status_audit_credential ON status_audit(credential_id)",
                "CREATE INDEX status_audit_list ON status_audit(list_id)",
                """CREATE TABLE api_tokens (
                    id text PRIMARY KEY,
                    token_hash text NOT NULL UNIQUE,
                    name text NOT NULL,
                    scopes text[] NOT NULL,
                    created_at timestamptz NOT NULL,
                    expires_at timestamptz,
                    revoked_at timestamptz
                )""",
                "CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL)",
            ),
        ),
        Migration(
            2,
            "achievements",
            (
                """CREATE TABLE achievements (
                    id text PRIMARY KEY,
                    version integer NOT NULL CHECK (version >= 1),
                    data json NOT NULL,
                    archived boolean NOT NULL DEFAULT false,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                )""",
                """CREATE TABLE achievement_versions (
                    achievement_id text NOT NULL REFERENCES achievements(id),
                    version integer NOT NULL,
                    data json NOT NULL,
                    created_at timestamptz NOT NULL,
                    PRIMARY KEY (achievement_id, version)
                )""",
                """CREATE TABLE images (
                    sha256 text PRIMARY KEY,
                    media_type text NOT NULL,
                    data bytea NOT NULL,
                    created_at timestamptz NOT NULL
                )""",
            ),
        ),
        Migration(
            3,
            "exchanges",
            (
                """CREATE TABLE exchanges (
                    id text PRIMARY KEY,
                    kind text NOT NULL CHECK (kind IN ('vcapi', 'oid4vci')),
                    state text NOT NULL
                        CHECK (state IN ('pending', 'active', 'complete', 'expired', 'failed')),
                    credential_id text,
                    template json,
                    created_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL,
                    version integer NOT NULL DEFAULT 1,
                    data json NOT NULL,
                    result json,
                    lookup_hash text UNIQUE,
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
                    id text PRIMARY KEY,
                    token_hash text NOT NULL UNIQUE,
                    credential_id text NOT NULL,
                    created_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    revoked_at timestamptz,
                    last_used_at timestamptz,
                    CHECK (expires_at > created_at)
                )""",
                "CREATE INDEX claims_credential ON claims(credential_id)",
            ),
        ),
    )
)
