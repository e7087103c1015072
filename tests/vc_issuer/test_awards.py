"""Awarding badges through a real Issuer on a real SQLite store: one, many, bad rows, reruns."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from vc_issuer.badges.achievements import StoredAchievement
from vc_issuer.badges.awards import (
    AWARD_STATUS_PURPOSES,
    ERROR,
    ISSUED,
    SKIPPED,
    Awarder,
    Recipient,
    award_key,
    open_text,
    read_csv_rows,
    read_jsonl_rows,
    write_results,
)
from vc_issuer.badges.openbadges import (
    identity_matches,
    ob_schema_compatible,
    validate_ob_credential,
)
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.errors import (
    AchievementArchivedError,
    MalformedInputError,
    NotFoundError,
    ParsingError,
)
from vc_issuer.services.issuer import Issuer
from vc_issuer.services.verifier import verify_credential
from vc_issuer.store import Store, open_store

BASE = "https://badges.example.edu"
KEY = Ed25519Key.from_seed(bytes(range(32)))
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2025, 6, 1, tzinfo=UTC)


def design(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "Python 101",
        "description": "Writes and tests small Python programs.",
        "criteria": {"narrative": "Pass the final project.", "id": "https://example.edu/c"},
        "achievementType": "Course",
        "alignment": [{"targetName": "Programming", "targetUrl": "https://esco.example/p"}],
    }
    doc.update(overrides)
    return doc


@pytest.fixture
def issuer(store: Store) -> Issuer:
    return Issuer(
        key=KEY, did=KEY.did, store=store, base_url=BASE, issuer_name="Example U", now=lambda: NOW
    )


@pytest.fixture
def awarder(issuer: Issuer) -> Awarder:
    return Awarder(issuer, chunk_size=64)


@pytest.fixture
async def badge(awarder: Awarder) -> StoredAchievement:
    return await awarder.achievements.create(design(), valid_for_months=24)


async def verified(credential: dict[str, Any]) -> bool:
    result = await verify_credential(credential, now=lambda: LATER)
    return result.verified


# --- one award --------------------------------------------------------------------------------


async def test_award_to_a_did(awarder: Awarder, badge: StoredAchievement, store: Store) -> None:
    award = await awarder.award(badge.key, Recipient(did="did:example:ada", name="Ada"))
    cred = award.credential
    assert award.created
    assert cred["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert cred["issuer"]["id"] == KEY.did and cred["issuer"]["name"] == "Example U"
    subject = cred["credentialSubject"]
    assert subject["id"] == "did:example:ada" and subject["name"] == "Ada"
    assert subject["achievement"]["id"] == badge.id
    assert cred["validFrom"] == "2025-03-01T12:00:00Z"
    assert cred["validUntil"] == "2027-03-01T12:00:00Z"  # 24 months
    status = cred["credentialStatus"]
    assert isinstance(status, dict) and status["statusPurpose"] == "revocation"
    assert AWARD_STATUS_PURPOSES == ("revocation",)
    assert isinstance(cred["proof"], list) and len(cred["proof"]) == 1
    assert validate_ob_credential(cred) == []
    assert await verified(cred)
    assert award.page_url == f"{BASE}/c/{award.page_id}"
    record = await store.get_credential_by_page_id(award.page_id)
    assert record is not None and record.id == award.credential_id == cred["id"]


async def test_award_to_an_email_hashes_it(awarder: Awarder, badge: StoredAchievement) -> None:
    award = await awarder.award(badge.id, Recipient(email=" Ada@Example.EDU "))
    subject = award.credential["credentialSubject"]
    assert "id" not in subject
    (identity,) = subject["identifier"]
    assert identity["hashed"] is True and identity["identityHash"].startswith("sha256$")
    assert "ada@example.edu" not in json.dumps(award.credential).lower()
    assert identity_matches(identity, "ada@example.edu")
    assert await verified(award.credential)


async def test_same_award_twice_returns_the_first(
    awarder: Awarder, badge: StoredAchievement, store: Store
) -> None:
    first = await awarder.award(badge.key, Recipient(email="ada@example.edu"))
    again = await awarder.award(badge.key, Recipient(email="ADA@example.edu"))
    assert not again.created and again.credential_id == first.credential_id
    assert again.credential == first.credential
    repeat = await awarder.award(badge.key, Recipient(email="ada@example.edu"), repeat=True)
    assert repeat.created and repeat.credential_id != first.credential_id
    assert await store.count_credentials() == 2


async def test_update_keeps_issued_awards_valid(awarder: Awarder, badge: StoredAchievement) -> None:
    before = await awarder.award(badge.key, Recipient(did="did:example:ada"))
    await awarder.achievements.update(badge.key, {"name": "Python 101 (2025)"})
    after = await awarder.award(badge.key, Recipient(did="did:example:bob"))
    assert after.credential["credentialSubject"]["achievement"]["name"] == "Python 101 (2025)"
    assert after.credential["credentialSubject"]["achievement"]["version"] == "2"
    assert before.credential["credentialSubject"]["achievement"]["name"] == "Python 101"
    assert await verified(before.credential) and await verified(after.credential)


async def test_idempotency_key_ignores_version_and_email_spelling() -> None:
    assert award_key("k", Recipient(email="A@x.org")) == award_key("k", Recipient(email="a@x.org"))
    assert award_key("k", Recipient(email="a@x.org")) != award_key("j", Recipient(email="a@x.org"))
    assert award_key("k", Recipient(did="did:x:1")) != award_key("k", Recipient(email="a@x.org"))


# --- refusals: nothing half-issued -------------------------------------------------------------


async def test_archived_achievement_is_refused(
    awarder: Awarder, badge: StoredAchievement, store: Store
) -> None:
    await awarder.achievements.archive(badge.key)
    with pytest.raises(AchievementArchivedError) as info:
        await awarder.award(badge.key, Recipient(did="did:example:ada"))
    assert info.value.code == "ACHIEVEMENT_ARCHIVED"
    rows = read_csv_rows(io.StringIO("did\ndid:example:a\n"))
    with pytest.raises(AchievementArchivedError) as batch:
        await awarder.award_many(badge.key, rows)
    assert batch.value.code == "ACHIEVEMENT_ARCHIVED"
    assert await store.count_credentials() == 0
    assert await store.list_status_lists() == []  # not even an index was allocated


async def test_unknown_achievement_is_refused(awarder: Awarder, store: Store) -> None:
    for ref in ("0b6c0d4e-8a8b-4a57-9a52-2b1d5f6b1c11", "nope"):
        with pytest.raises(NotFoundError) as info:
            await awarder.award(ref, Recipient(did="did:example:ada"))
        assert info.value.code == "ACHIEVEMENT_NOT_FOUND"
    assert await store.count_credentials() == 0


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, "MISSING_RECIPIENT"),
        ({"did": "  ", "email": ""}, "MISSING_RECIPIENT"),
        ({"did": "ada"}, "INVALID_RECIPIENT"),
        ({"email": "not an email"}, "INVALID_RECIPIENT"),
        ({"email": "a@b@c"}, "INVALID_RECIPIENT"),
    ],
)
def test_bad_recipients(kwargs: dict[str, str], code: str) -> None:
    with pytest.raises(MalformedInputError) as info:
        Recipient(**kwargs)
    assert info.value.code == code


# --- batches --------------------------------------------------------------------------------


def recipients_csv(n: int, *, extra: str = "") -> str:
    lines = ["did,email,name,evidence_url"]
    for i in range(n):
        if i % 2:
            lines.append(f",learner{i}@example.edu,Learner {i},https://example.edu/work/{i}")
        else:
            lines.append(f"did:example:learner{i},,Learner {i},")
    return "\n".join(lines) + "\n" + extra


async def test_batch_of_200_then_rerun_issues_nothing(
    awarder: Awarder, badge: StoredAchievement, store: Store
) -> None:
    text = recipients_csv(200)
    ticks: list[int] = []
    first = await awarder.award_many(
        badge.key, read_csv_rows(io.StringIO(text)), progress=ticks.append
    )
    assert first.to_dict() == {"total": 200, "issued": 200, "skipped": 0, "errors": 0}
    assert sum(ticks) == 200 and len(ticks) == 4  # chunks of 64
    assert await store.count_credentials() == 200
    assert [r.row for r in first.results] == list(range(2, 202))
    for r in first.results:
        assert r.status == ISSUED and r.credential_id.startswith("urn:uuid:")
        assert r.page_url.startswith(f"{BASE}/c/")
    record = await store.get_credential(first.results[1].credential_id)
    assert record is not None
    cred = record.credential
    assert cred["evidence"] == [{"id": "https://example.edu/work/1", "type": ["Evidence"]}]
    assert cred["credentialSubject"]["name"] == "Learner 1"
    lists = await store.list_status_lists()
    assert len(lists) == 1 and lists[0].allocated >= 200 and lists[0].purpose == "revocation"

    second = await awarder.award_many(badge.key, read_csv_rows(io.StringIO(text)))
    assert second.to_dict() == {"total": 200, "issued": 0, "skipped": 200, "errors": 0}
    assert await store.count_credentials() == 200
    assert [(r.credential_id, r.page_url) for r in second.results] == [
        (r.credential_id, r.page_url) for r in first.results
    ]


async def test_interrupted_batch_resumes(
    awarder: Awarder, badge: StoredAchievement, store: Store
) -> None:
    text = recipients_csv(100)
    head = "\n".join(text.splitlines()[:41]) + "\n"  # header + 40 rows
    await awarder.award_many(badge.key, read_csv_rows(io.StringIO(head)))
    resumed = await awarder.award_many(badge.key, read_csv_rows(io.StringIO(text)))
    assert resumed.to_dict() == {"total": 100, "issued": 60, "skipped": 40, "errors": 0}
    assert await store.count_credentials() == 100


async def test_bad_rows_are_reported_and_the_batch_goes_on(
    awarder: Awarder, badge: StoredAchievement, store: Store
) -> None:
    text = (
        "did,email,name,evidence_url\n"
        "did:example:a,,A,\n"  # 2 ok
        ",,Nobody,\n"  # 3 no recipient
        ",not-an-email,X,\n"  # 4 bad email
        "did:example:b,,B,ftp://nope\n"  # 5 bad evidence URL
        "did:example:c,,C,,surplus\n"  # 6 too many cells
        "ada,,Ada,\n"  # 7 not a DID
        "\n"  # blank: ignored
        ",Z@Example.org,Z,\n"  # 9 ok
        "did:example:a,,A again,\n"  # 10 same recipient as row 2
    )
    summary = await awarder.award_many(badge.key, read_csv_rows(io.StringIO(text)))
    by_row = {r.row: r for r in summary.results}
    assert by_row[2].status == ISSUED and by_row[9].status == ISSUED
    assert by_row[3].error_code == "MISSING_RECIPIENT"
    assert by_row[4].error_code == "INVALID_RECIPIENT"
    assert by_row[5].error_code == "MALFORMED_VALUE_ERROR" and "evidence_url" in by_row[5].error
    assert by_row[6].error_code == "INVALID_ROW"
    assert by_row[7].error_code == "INVALID_RECIPIENT"
    assert by_row[10].status == SKIPPED and by_row[10].credential_id == by_row[2].credential_id
    assert "row 2" in by_row[10].error
    for row in (3, 4, 5, 6, 7):
        assert by_row[row].status == ERROR and not by_row[row].credential_id
    assert summary.to_dict() == {"total": 8, "issued": 2, "skipped": 1, "errors": 5}
    assert await store.count_credentials() == 2


async def test_jsonl_batch(awarder: Awarder, badge: StoredAchievement) -> None:
    text = "\n".join(
        [
            json.dumps({"did": "did:example:j1", "name": "J"}),
            "not json",
            json.dumps(["an", "array"]),
            "",
            json.dumps({"email": "j@example.org", "evidence": [{"id": "https://e.org/1"}]}),
            json.dumps({"did": 5}),
        ]
    )
    summary = await awarder.award_many(badge.key, read_jsonl_rows(io.StringIO(text)))
    codes = {r.row: (r.status, r.error_code) for r in summary.results}
    assert codes == {
        1: (ISSUED, ""),
        2: (ERROR, "PARSING_ERROR"),
        3: (ERROR, "MALFORMED_VALUE_ERROR"),
        5: (ISSUED, ""),
        6: (ERROR, "MALFORMED_VALUE_ERROR"),
    }


async def test_csv_header_and_encoding_errors_fail_the_whole_file() -> None:
    with pytest.raises(MalformedInputError) as info:
        list(read_csv_rows(io.StringIO("name,phone\nAda,123\n")))
    assert info.value.code == "MISSING_RECIPIENT"
    with pytest.raises(ParsingError):
        list(read_csv_rows(io.StringIO("")))
    with pytest.raises(ParsingError):
        open_text(b"did\n\xff\xfe")
    rows = list(read_csv_rows(open_text("\ufeffEmail,Name\r\na@b.org,A\r\n".encode())))
    assert rows[0].recipient is not None and rows[0].recipient.email == "a@b.org"


async def test_results_csv(awarder: Awarder, badge: StoredAchievement) -> None:
    summary = await awarder.award_many(
        badge.key, read_csv_rows(io.StringIO("email\na@example.org\nbad\n"))
    )
    out = io.StringIO()
    write_results(out, summary.results)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["status"] for r in rows] == [ISSUED, ERROR]
    assert rows[0]["page_url"].startswith(f"{BASE}/c/") and rows[0]["recipient"] == "a@example.org"
    assert rows[1]["error_code"] == "INVALID_RECIPIENT" and rows[1]["row"] == "3"


async def test_streamed_results_arrive_in_row_order(
    awarder: Awarder, badge: StoredAchievement
) -> None:
    seen: list[int] = []

    async def sink(results: list[Any]) -> None:
        seen.extend(r.row for r in results)

    summary = await awarder.award_many(
        badge.key,
        read_csv_rows(io.StringIO(recipients_csv(130))),
        on_results=sink,
        keep_results=False,
    )
    assert seen == list(range(2, 132)) and summary.results == [] and summary.issued == 130


# --- worker processes -------------------------------------------------------------------------


async def test_worker_processes_award_a_batch_once(
    awarder: Awarder, badge: StoredAchievement, store: Store
) -> None:
    text = recipients_csv(200) + "did:example:learner0,,Again,\n,,Nobody,\n"
    fast = Awarder(awarder.issuer, chunk_size=32, workers=2)
    first = await fast.award_many(badge.key, read_csv_rows(io.StringIO(text)))
    assert first.to_dict() == {"total": 202, "issued": 200, "skipped": 1, "errors": 1}
    assert [r.row for r in first.results] == list(range(2, 204))  # row order is kept
    ids = [r.credential_id for r in first.results[:200]]
    assert len(set(ids)) == 200 and await store.count_credentials() == 200
    assert first.results[200].credential_id == ids[0]  # the repeat points at row 2's badge
    assert first.results[201].error_code == "MISSING_RECIPIENT"
    # signed in another process with the same key, status on the same list
    for result in (first.results[0], first.results[199]):
        record = await store.get_credential(result.credential_id)
        assert record is not None
        assert await verified(ob_schema_compatible(record.credential))
        assert f"{BASE}/c/{record.page_id}" == result.page_url
    lists = await store.list_status_lists()
    assert len(lists) == 1
    indices = {
        int(r.status_entries[0]["statusListIndex"]) for r in await store.list_credentials(limit=500)
    }
    assert len(indices) == 200  # no index handed out twice across processes

    again = await fast.award_many(badge.key, read_csv_rows(io.StringIO(text)))
    assert again.to_dict() == {"total": 202, "issued": 0, "skipped": 201, "errors": 1}
    assert await store.count_credentials() == 200


async def test_workers_need_a_shareable_store(badge: StoredAchievement) -> None:
    async with open_store(":memory:") as memory:
        issuer = Issuer(key=KEY, did=KEY.did, store=memory, base_url=BASE)
        service = Awarder(issuer, workers=2)
        stored = await service.achievements.create(design())
        with pytest.raises(MalformedInputError):
            await service.award_many(stored.key, read_csv_rows(io.StringIO("did\ndid:x:1\n")))
        assert await memory.count_credentials() == 0


async def test_batch_on_postgresql_with_workers() -> None:
    """The same batch on PostgreSQL: worker processes share one schema, a rerun issues nothing."""
    pg_url = os.environ.get("VC_ISSUER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    if os.environ.get("VC_ISSUER_SKIP_PG") == "1":
        pytest.skip("VC_ISSUER_SKIP_PG=1")
    schema = "vct_" + secrets.token_hex(6)
    admin = await asyncpg.connect(pg_url, timeout=5)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        async with open_store(f"{pg_url}?search_path={schema}") as pg:
            issuer = Issuer(key=KEY, did=KEY.did, store=pg, base_url=BASE, now=lambda: NOW)
            service = Awarder(issuer, chunk_size=25, workers=2)
            stored = await service.achievements.create(design())
            text = recipients_csv(100)
            first = await service.award_many(stored.key, read_csv_rows(io.StringIO(text)))
            assert first.to_dict() == {"total": 100, "issued": 100, "skipped": 0, "errors": 0}
            again = await service.award_many(stored.key, read_csv_rows(io.StringIO(text)))
            assert again.to_dict() == {"total": 100, "issued": 0, "skipped": 100, "errors": 0}
            assert await pg.count_credentials() == 100
            record = await pg.get_credential(first.results[-1].credential_id)
            assert record is not None and await verified(ob_schema_compatible(record.credential))
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
