"""Store contract for the email outbox (SQLite and PostgreSQL): queued with its award in one
transaction, taken once, settled, retried, recovered after a crash."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import timedelta

import asyncpg

from vc_issuer.errors import MalformedInputError
from vc_issuer.store import (
    Attached,
    ClaimRecord,
    CredentialRecord,
    OutboxRecord,
    Store,
    open_store,
)
from vc_issuer.store.migrations import LATEST

from ._records import T0, bare_credential


def mail(key: str = "claim:urn:uuid:a", **kw: object) -> OutboxRecord:
    base: dict[str, object] = {
        "id": secrets.token_hex(8),
        "dedupe_key": key,
        "recipient": "ada@example.org",
        "next_attempt_at": T0,
        "created_at": T0,
        "credential_id": "urn:uuid:a",
        "claim_link": "https://issuer.example/claim/secret",
        "data": {"name": "Ada"},
    }
    base.update(kw)
    return OutboxRecord(**base)  # type: ignore[arg-type]


def record(cred_id: str, key: str | None = None) -> CredentialRecord:
    return bare_credential(cred_id, valid_from=T0, idempotency_key=key)


def claim(cred_id: str) -> ClaimRecord:
    return ClaimRecord(
        id=secrets.token_hex(8),
        token_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
        credential_id=cred_id,
        created_at=T0,
        expires_at=T0 + timedelta(days=30),
    )


async def test_migrated_to_version_6(store: Store) -> None:
    assert await store.schema_version() >= 6


async def test_a_version_6_outbox_keeps_its_links_as_claim_link(
    store_url: str, backend: str
) -> None:
    """Step 7 renames the column ``claim_url`` (the personal link) to ``claim_link``; queued
    messages keep their link."""
    async with open_store(store_url) as store:
        assert await store.schema_version() == LATEST >= 7
        await store.enqueue_mail([mail()])
    undo = [  # the store as version 6 left it
        "ALTER TABLE outbox RENAME COLUMN claim_link TO claim_url",
        "DELETE FROM schema_version WHERE version = 7",
    ]
    if backend == "sqlite":
        conn = sqlite3.connect(store_url)
        for statement in undo:
            conn.execute(statement)
        conn.commit()
        conn.close()
    else:
        pg = await asyncpg.connect(store_url)
        try:
            for statement in undo:
                await pg.execute(statement)
        finally:
            await pg.close()
    async with open_store(store_url) as store:
        assert await store.schema_version() == LATEST
        (row,) = await store.list_mail()
        assert row.claim_link == "https://issuer.example/claim/secret"


async def test_enqueue_is_idempotent_by_dedupe_key(store: Store) -> None:
    assert await store.enqueue_mail([mail(), mail("claim:urn:uuid:b")]) == 2
    assert await store.enqueue_mail([mail()]) == 0
    rows = await store.list_mail()
    assert {r.dedupe_key for r in rows} == {"claim:urn:uuid:a", "claim:urn:uuid:b"}
    assert all(r.status == "queued" and r.attempts == 0 for r in rows)
    assert rows[0].data == {"name": "Ada"} and rows[0].next_attempt_at == T0


async def test_put_credentials_writes_attached_rows_only_for_new_credentials(store: Store) -> None:
    first = record("urn:uuid:a", "key-a")
    mail_a = mail("claim:urn:uuid:a")
    await store.put_credentials(
        [first], attached={"urn:uuid:a": Attached((claim("urn:uuid:a"),), (mail_a,))}
    )
    assert len(await store.list_claims(credential_id="urn:uuid:a")) == 1
    assert [m.id for m in await store.list_mail()] == [mail_a.id]
    # The same key again (a rerun): the earlier award comes back and nothing new is attached.
    again = record("urn:uuid:a2", "key-a")
    out = await store.put_credentials(
        [again],
        attached={"urn:uuid:a2": Attached((claim("urn:uuid:a2"),), (mail("claim:urn:uuid:a2"),))},
    )
    assert out[0].id == "urn:uuid:a"
    assert await store.list_claims(credential_id="urn:uuid:a2") == []
    assert len(await store.list_mail()) == 1


async def test_attached_rows_roll_back_with_their_credentials(store: Store) -> None:
    await store.enqueue_mail([mail("claim:urn:uuid:b")])
    try:
        await store.put_credentials(
            [record("urn:uuid:b")],
            attached={"urn:uuid:b": Attached((), (mail("claim:urn:uuid:b"),))},
        )
    except Exception as exc:
        assert getattr(exc, "code", "") == "conflict" or "dedupe" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a taken dedupe key must fail the transaction")
    assert await store.get_credential("urn:uuid:b") is None


async def test_take_marks_sending_once_and_respects_next_attempt(store: Store) -> None:
    later = mail("claim:later", next_attempt_at=T0 + timedelta(hours=1))
    now_ = mail("claim:now")
    await store.enqueue_mail([later, now_])
    taken = await store.take_mail(T0, 10)
    assert [m.id for m in taken] == [now_.id]
    assert taken[0].status == "sending" and taken[0].attempts == 1
    assert await store.take_mail(T0, 10) == []  # never handed out twice
    assert [m.id for m in await store.take_mail(T0 + timedelta(hours=2), 10)] == [later.id]


async def test_finish_sent_erases_the_claim_link(store: Store) -> None:
    m = mail()
    await store.enqueue_mail([m])
    await store.take_mail(T0, 1)
    assert await store.finish_mail(m.id, "sent", T0 + timedelta(seconds=1))
    assert not await store.finish_mail(m.id, "sent", T0)  # only a sending message settles
    (row,) = await store.list_mail()
    assert row.status == "sent" and row.claim_link is None
    assert row.sent_at == T0 + timedelta(seconds=1)


async def test_requeue_failed_retry_and_filter(store: Store) -> None:
    m = mail()
    await store.enqueue_mail([m])
    await store.take_mail(T0, 1)
    t1 = T0 + timedelta(minutes=1)
    assert await store.finish_mail(m.id, "queued", T0, error="451 busy", next_attempt_at=t1)
    assert await store.take_mail(T0, 1) == []
    (again,) = await store.take_mail(t1, 1)
    assert again.attempts == 2 and again.last_error == "451 busy"
    assert await store.finish_mail(m.id, "failed", t1, error="550 no such user")
    (failed,) = await store.list_mail(status="failed")
    assert failed.claim_link is not None  # kept for a retry
    assert await store.retry_mail(t1, ["not-there"]) == 0
    assert await store.retry_mail(t1) == 1
    (queued,) = await store.list_mail(status="queued")
    assert queued.attempts == 0 and queued.last_error is None


async def test_recover_fails_stuck_sends(store: Store) -> None:
    m = mail()
    await store.enqueue_mail([m])
    await store.take_mail(T0, 1)
    assert await store.recover_mail(T0, T0) == 0  # not older than the cut-off
    assert await store.recover_mail(T0 + timedelta(minutes=5), T0 + timedelta(minutes=5)) == 1
    (row,) = await store.list_mail(status="failed")
    assert row.last_error is not None and "may have been delivered" in row.last_error


async def test_bad_rows_are_refused(store: Store) -> None:
    for bad in (mail(status="nope"), mail(recipient=""), mail(data=[1])):
        try:
            await store.enqueue_mail([bad])
        except MalformedInputError:
            continue
        raise AssertionError(f"accepted {bad}")
    try:
        await store.finish_mail("x", "queued", T0)
    except MalformedInputError:
        pass
    else:  # pragma: no cover
        raise AssertionError("queued again without a time")
