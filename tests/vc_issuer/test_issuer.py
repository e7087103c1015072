"""The issue pipeline end to end: real store (SQLite and PostgreSQL), real proofs, the status list
credentials served by a real HTTP server on 127.0.0.1 and checked by the real verifier."""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from vc_issuer.core.keys import Ed25519Key, load_key_file
from vc_issuer.core.status import SL2021_CONTEXT, decode, parse_credential_status
from vc_issuer.errors import (
    ConfigError,
    ConflictError,
    MalformedInputError,
    NotFoundError,
    VCIssuerError,
)
from vc_issuer.services.issuer import DEFAULT_INDEX_RESERVE, LIST_ID_KEY, Issuer, resolve_suites
from vc_issuer.services.status_check import StatusListChecker
from vc_issuer.services.verifier import VerificationResult, verify_credential
from vc_issuer.store import Store, open_store

from ._helpers import FIX

VC2 = "https://www.w3.org/ns/credentials/v2"
VC1 = "https://www.w3.org/2018/credentials/v1"


def vc2(subject: str = "did:example:alice", **extra: Any) -> dict[str, Any]:
    return {
        "@context": [VC2],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": subject},
        **extra,
    }


def vc1(subject: str = "did:example:alice") -> dict[str, Any]:
    return {
        "@context": [VC1],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": subject},
    }


# --- fixtures: a store, a list server, an issuer behind it ------------------------------------


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "store.sqlite3") as store:
        yield store


@dataclass
class Env:
    issuer: Issuer
    base: str
    served: list[str]

    async def verify(self, credential: dict[str, Any]) -> VerificationResult:
        # a fresh checker each time: the list's ttl would otherwise (rightly) let it cache
        async with StatusListChecker(allow_private=True) as checker:
            return await verify_credential(
                credential, status_checker=checker, allow_private_hosts=True
            )


async def _env(store: Store, **options: Any) -> AsyncIterator[Env]:
    holder: dict[str, Issuer] = {}
    served: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        list_id = request.match_info["list_id"]
        served.append(list_id)
        try:
            cred = await holder["issuer"].status_list_credential(list_id)
        except NotFoundError:
            return web.Response(status=404)
        return web.json_response(cred, content_type="application/vc+ld+json")

    app = web.Application()
    app.router.add_get("/issuer/status-lists/{list_id}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}/issuer"
    key = Ed25519Key.generate()
    issuer = Issuer(key=key, did=key.did, store=store, base_url=base, **options)
    holder["issuer"] = issuer
    try:
        yield Env(issuer, base, served)
    finally:
        await server.close()


@pytest.fixture
async def env(any_store: Store) -> AsyncIterator[Env]:
    async for e in _env(any_store):
        yield e


@pytest.fixture
async def lite(sqlite_store: Store) -> AsyncIterator[Env]:
    async for e in _env(sqlite_store):
        yield e


def codes(result: VerificationResult) -> list[str]:
    return [e["code"] for e in result.errors]


# --- the whole life of a credential, on both backends -----------------------------------------


async def test_issue_verify_revoke_suspend_reinstate(env: Env) -> None:
    issuer = env.issuer
    signed = await issuer.issue(vc2())
    assert signed["issuer"] == issuer.did
    assert signed["id"].startswith("urn:uuid:")
    entries = parse_credential_status(signed["credentialStatus"])
    assert [e.purpose for e in entries] == ["revocation", "suspension"]
    assert all(e.type == "BitstringStatusListEntry" for e in entries)
    assert all(e.list_url.startswith(env.base + "/status-lists/") for e in entries)

    result = await env.verify(signed)
    assert result.verified, result.to_dict()
    assert [c.name for c in result.checks if c.name.startswith("status")]

    # suspend -> CREDENTIAL_SUSPENDED; reinstate -> verified
    change = await issuer.suspend(signed["id"], actor="alice", reason="inquiry")
    assert change == {**change, "old": False, "new": True, "changed": True}
    result = await env.verify(signed)
    assert not result.verified
    assert "CREDENTIAL_SUSPENDED" in codes(result)

    await issuer.reinstate(signed["id"], actor="alice", reason="cleared")
    assert (await env.verify(signed)).verified

    # revoke -> CREDENTIAL_REVOKED, for good
    await issuer.revoke(signed["id"], actor="bob", reason="fraud")
    result = await env.verify(signed)
    assert not result.verified
    assert "CREDENTIAL_REVOKED" in codes(result)
    with pytest.raises(ConflictError):
        await issuer.reinstate(signed["id"], actor="bob")
    with pytest.raises(ConflictError):
        await issuer.suspend(signed["id"], actor="bob")
    with pytest.raises(ConflictError):
        await issuer.set_status(signed["id"], "revocation", False, actor="bob")
    assert "CREDENTIAL_REVOKED" in codes(await env.verify(signed))

    log = await issuer.store.audit_log(signed["id"])
    assert [(a.actor, a.purpose, a.old, a.new, a.reason) for a in log] == [
        ("alice", "suspension", False, True, "inquiry"),
        ("alice", "suspension", True, False, "cleared"),
        ("bob", "revocation", False, True, "fraud"),
    ]


async def test_record_is_stored_as_returned(env: Env) -> None:
    signed = await env.issuer.issue(vc2("did:example:bob", name="Badge"))
    record = await env.issuer.store.get_credential(signed["id"])
    assert record is not None
    assert record.credential == signed
    assert record.subject_id == "did:example:bob"
    assert record.types == ["VerifiableCredential"]
    assert record.valid_from is not None
    assert [e["statusPurpose"] for e in record.status_entries] == ["revocation", "suspension"]
    # stored: the credential's own entries (no store id in them) plus the id of their list
    stored = record.status_entries
    assert [{k: v for k, v in e.items() if k != LIST_ID_KEY} for e in stored] == signed[
        "credentialStatus"
    ]
    assert all(env.issuer.list_url(e[LIST_ID_KEY]) == e["statusListCredential"] for e in stored)
    assert await env.issuer.get_credential(signed["id"]) == signed
    assert await env.issuer.get_credential("urn:uuid:nope") is None


async def test_idempotency_key_returns_first_result(env: Env) -> None:
    first = await env.issuer.issue(vc2(), idempotency_key="award-42")
    allocated = [lst.allocated for lst in await env.issuer.store.list_status_lists()]
    again = await env.issuer.issue(vc2("did:example:other"), idempotency_key="award-42")
    assert again == first
    assert await env.issuer.store.count_credentials() == 1
    # the retry allocated nothing
    assert [lst.allocated for lst in await env.issuer.store.list_status_lists()] == allocated


async def test_concurrent_retries_with_one_key_issue_once(env: Env) -> None:
    results = await asyncio.gather(
        *(env.issuer.issue(vc2(), idempotency_key="same") for _ in range(8))
    )
    assert len({r["id"] for r in results}) == 1
    assert await env.issuer.store.count_credentials() == 1


async def test_500_concurrent_issues_never_share_an_index(env: Env) -> None:
    results = await asyncio.gather(*(env.issuer.issue(vc2(f"did:example:{i}")) for i in range(500)))
    seen: dict[str, set[tuple[str, str]]] = {"revocation": set(), "suspension": set()}
    for cred in results:
        for entry in cred["credentialStatus"]:
            assert isinstance(entry["statusListIndex"], str)
            seen[entry["statusPurpose"]].add(
                (entry["statusListCredential"], entry["statusListIndex"])
            )
    assert len(seen["revocation"]) == 500
    assert len(seen["suspension"]) == 500
    indices = sorted(int(i) for _, i in seen["revocation"])
    assert indices != list(range(indices[0], indices[0] + 500))  # not sequential
    assert await env.issuer.store.count_credentials() == 500


async def test_vc11_gets_statuslist2021_when_asked_and_verifies(env: Env) -> None:
    signed = await env.issuer.issue(vc1(), status=True)
    assert signed["@context"][:2] == [VC1, SL2021_CONTEXT]
    assert "issuanceDate" in signed and "validFrom" not in signed
    entries = parse_credential_status(signed["credentialStatus"])
    assert {e.type for e in entries} == {"StatusList2021Entry"}
    assert (await env.verify(signed)).verified

    lists = {lst.kind for lst in await env.issuer.store.list_status_lists()}
    assert lists == {"StatusList2021"}  # separate lists from the BSL ones
    list_id = entries[0].list_url.rsplit("/", 1)[1]
    list_vc = await env.issuer.status_list_credential(list_id)
    assert list_vc["type"] == ["VerifiableCredential", "StatusList2021Credential"]
    assert list_vc["proof"]["type"] == "Ed25519Signature2020"

    await env.issuer.revoke(signed["id"], actor="t")
    assert "CREDENTIAL_REVOKED" in codes(await env.verify(signed))


async def test_vc11_default_issue_adds_no_status_and_no_context(lite: Env) -> None:
    """Issued with default options, a VC 1.1 credential stays expandable with the contexts the
    caller sent (plus the suite's own): status only when asked for."""
    plain = await lite.issuer.issue(vc1())
    assert "credentialStatus" not in plain
    assert plain["@context"] == [VC1, "https://w3id.org/security/data-integrity/v2"]
    assert await lite.issuer.store.list_status_lists() == []
    asked = await lite.issuer.issue(vc1(), status_purposes=["revocation"])
    assert asked["credentialStatus"]["type"] == "StatusList2021Entry"
    assert SL2021_CONTEXT in asked["@context"]
    assert "credentialStatus" not in await lite.issuer.issue(vc1(), status=False)
    assert "credentialStatus" in await lite.issuer.issue(vc2())  # VC 2.0: status by default


async def test_vc11_status_by_default_when_configured(sqlite_store: Store) -> None:
    key = Ed25519Key.generate()
    issuer = Issuer(
        key=key, did=key.did, store=sqlite_store, base_url="https://i.example", vc11_status=True
    )
    signed = await issuer.issue(vc1())
    assert [e["type"] for e in signed["credentialStatus"]] == ["StatusList2021Entry"] * 2
    assert "credentialStatus" not in await issuer.issue(vc1(), status=False)


# --- the pipeline's choices (SQLite) -------------------------------------------------------------


async def test_single_purpose_is_an_object(lite: Env) -> None:
    signed = await lite.issuer.issue(vc2(), status_purposes=["revocation"])
    status = signed["credentialStatus"]
    assert isinstance(status, dict)
    assert status["statusPurpose"] == "revocation"
    assert status["statusListIndex"] == str(int(status["statusListIndex"]))
    with pytest.raises(ConflictError) as err:
        await lite.issuer.suspend(signed["id"], actor="t")
    assert err.value.code == "NO_STATUS_ENTRY"


async def test_no_status(lite: Env) -> None:
    signed = await lite.issuer.issue(vc2(), status=False)
    assert "credentialStatus" not in signed
    assert await lite.issuer.store.list_status_lists() == []
    assert (await lite.verify(signed)).verified
    with pytest.raises(ConflictError):
        await lite.issuer.revoke(signed["id"], actor="t")


async def test_revoke_twice_is_one_audit_entry(lite: Env) -> None:
    signed = await lite.issuer.issue(vc2())
    one = await lite.issuer.revoke(signed["id"], actor="t")
    two = await lite.issuer.revoke(signed["id"], actor="t")
    assert one["changed"] and not two["changed"]
    assert len(await lite.issuer.store.audit_log(signed["id"])) == 1


async def test_reinstate_not_suspended_is_noop(lite: Env) -> None:
    signed = await lite.issuer.issue(vc2())
    change = await lite.issuer.reinstate(signed["id"], actor="t")
    assert change["changed"] is False
    assert await lite.issuer.store.audit_log(signed["id"]) == []


async def test_unknown_credential_is_not_found(lite: Env) -> None:
    with pytest.raises(NotFoundError) as err:
        await lite.issuer.revoke("urn:uuid:never-issued", actor="t")
    assert err.value.exit_code == 2 and err.value.http_status == 404
    with pytest.raises(NotFoundError):
        await lite.issuer.status_list_credential("no-such-list")


@pytest.mark.parametrize(
    "status",
    [
        {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
         "statusListIndex": 5, "statusListCredential": "https://x.example/l"},
        {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
         "statusListIndex": "-1", "statusListCredential": "https://x.example/l"},
        {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
         "statusListIndex": "7", "statusListCredential": "not a url"},
        {"type": "BitstringStatusListEntry", "statusListIndex": "7",
         "statusListCredential": "https://x.example/l"},
        "https://x.example/l#7",
        [],
        {"statusPurpose": "revocation"},
    ],
)  # fmt: skip
async def test_malformed_credential_status_is_refused(lite: Env, status: Any) -> None:
    with pytest.raises(MalformedInputError) as err:
        await lite.issuer.issue(vc2(credentialStatus=status))
    assert err.value.code == "MALFORMED_VALUE_ERROR"
    assert await lite.issuer.store.count_credentials() == 0
    assert await lite.issuer.store.list_status_lists() == []


async def test_own_wellformed_status_is_kept(lite: Env) -> None:
    theirs = {
        "id": "https://elsewhere.example/status/1#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://elsewhere.example/status/1",
    }
    signed = await lite.issuer.issue(vc2(credentialStatus=theirs))
    assert signed["credentialStatus"] == theirs
    assert await lite.issuer.store.list_status_lists() == []
    with pytest.raises(ConflictError):  # not ours to change
        await lite.issuer.revoke(signed["id"], actor="t")


async def test_status_of_a_type_we_do_not_manage_is_kept(lite: Env) -> None:
    """VCDM 2.0 §4.10: any typed status object is fine; only our own types get deep checks
    (the W3C suite's CredentialStatusList2017, with or without an id)."""
    context = {"CredentialStatusList2017": "https://example.org/examples#CredentialStatusList2017"}
    for theirs in (
        {"id": "did:example:status", "type": "CredentialStatusList2017"},
        {"type": "CredentialStatusList2017"},
    ):
        unsigned = vc2(credentialStatus=theirs)
        unsigned["@context"] = [VC2, context]
        signed = await lite.issuer.issue(unsigned)
        assert signed["credentialStatus"] == theirs
        result = await lite.verify(signed)
        assert result.verified, result.to_dict()
        assert {"code": "STATUS_NOT_CHECKED",
                "detail": "status of type CredentialStatusList2017 is not checked here"
                } in result.warnings  # fmt: skip
    assert await lite.issuer.store.list_status_lists() == []
    for bad in ({"id": "did:example:status"}, {"type": "X", "id": "not a url"}):
        with pytest.raises(MalformedInputError):
            await lite.issuer.issue(vc2(credentialStatus=bad))


async def test_related_resource_digest_must_match_what_we_hold(lite: Env) -> None:
    import base64
    import hashlib

    from vc_issuer.core.jsonld import contexts_dir

    held = (contexts_dir() / "credentials-v2.jsonld").read_bytes()
    right = "sha384-" + base64.b64encode(hashlib.sha384(held).digest()).decode()
    signed = await lite.issuer.issue(vc2(relatedResource=[{"id": VC2, "digestSRI": right}]))
    assert signed["relatedResource"] == [{"id": VC2, "digestSRI": right}]
    wrong = "uM4RgWQc3RUDtjJCSgTJtTfvpZ7SPEg_LNO0ESlovQC0"  # the W3C suite's wrong digest
    with pytest.raises(VCIssuerError) as err:
        await lite.issuer.issue(vc2(relatedResource=[{"id": VC2, "digestMultibase": wrong}]))
    assert (err.value.code, err.value.http_status) == ("RELATED_RESOURCE_DIGEST_MISMATCH", 422)
    elsewhere = {"id": "https://example.org/r", "digestSRI": right}  # not held: not compared
    assert (await lite.issuer.issue(vc2(relatedResource=elsewhere)))["relatedResource"]


async def test_status_pointing_at_our_lists_is_refused(lite: Env) -> None:
    victim = await lite.issuer.issue(vc2())
    forged = copy.deepcopy(victim["credentialStatus"][0])
    with pytest.raises(MalformedInputError):
        await lite.issuer.issue(vc2(credentialStatus=forged))


async def test_issuer_other_than_ours_is_refused(lite: Env) -> None:
    other = Ed25519Key.generate().did
    for issuer in (other, {"id": other, "name": "Somebody"}, "https://evil.example"):
        with pytest.raises(MalformedInputError) as err:
            await lite.issuer.issue(vc2(issuer=issuer))
        assert err.value.code == "FOREIGN_ISSUER"
        assert err.value.http_status == 400
    with pytest.raises(MalformedInputError):
        await lite.issuer.issue(vc2(issuer=42))
    assert await lite.issuer.store.count_credentials() == 0


async def test_issuer_profile_keeps_its_fields(lite: Env) -> None:
    profile = {"type": ["Profile"], "name": "Example U", "url": "https://u.example"}
    ctx = [VC2, "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    cred = {
        "@context": ctx,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Badge",
        "issuer": profile,
        "credentialSubject": {
            "id": "did:example:learner",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://u.example/a/1",
                "type": ["Achievement"],
                "name": "A",
                "description": "d",
                "criteria": {"narrative": "n"},
            },
        },
    }
    signed = await lite.issuer.issue(cred, status_purposes=["revocation"])
    assert signed["issuer"] == {"id": lite.issuer.did, **profile}
    assert isinstance(signed["credentialStatus"], dict)  # OB 3.0: a single object
    assert (await lite.verify(signed)).verified
    same = await lite.issuer.issue({**cred, "issuer": {"id": lite.issuer.did, **profile}})
    assert same["issuer"]["id"] == lite.issuer.did


async def test_ob303_fixture_with_its_issuer_key(sqlite_store: Store) -> None:
    key = load_key_file(FIX / "generated-interop" / "issuer-key.json")
    unsigned = json.loads((FIX / "interop" / "vc2-ob303-eddsa-rdfc-2022.unsigned.json").read_text())
    del unsigned["credentialStatus"]
    issuer = Issuer(key=key, did=key.did, store=sqlite_store, base_url="https://issuer.example")
    signed = await issuer.issue(unsigned, status_purposes=["revocation"])
    assert signed["validFrom"] == unsigned["validFrom"]  # kept when given
    assert signed["id"] == unsigned["id"]
    result = await verify_credential(signed)  # no status checker: structure + proof + issuer
    assert result.verified, result.to_dict()


async def test_suites_and_proof_sets(lite: Env) -> None:
    both = await lite.issuer.issue(vc2(), suites="both")
    assert [p.get("cryptosuite", p["type"]) for p in both["proof"]] == [
        "eddsa-rdfc-2022",
        "Ed25519Signature2020",
    ]
    assert (await lite.verify(both)).verified
    old = await lite.issuer.issue(vc2(), suites=["Ed25519Signature2020"])
    assert old["proof"]["type"] == "Ed25519Signature2020"
    assert (await lite.verify(old)).verified
    v1_both = await lite.issuer.issue(vc1(), suites="both")
    assert (await lite.verify(v1_both)).verified
    with pytest.raises(MalformedInputError) as err:
        await lite.issuer.issue(vc2(), suites="rsa")
    assert err.value.code == "UNKNOWN_SUITE"
    assert resolve_suites(None, "Ed25519Signature2020") == ("Ed25519Signature2020",)


async def test_ids_dates_and_structure(lite: Env) -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    lite.issuer.now = lambda: moment
    signed = await lite.issuer.issue(vc2(), credential_id="https://u.example/c/1")
    assert signed["id"] == "https://u.example/c/1"
    assert signed["validFrom"] == "2025-03-04T05:06:07Z"
    assert signed["proof"]["created"] == "2025-03-04T05:06:07Z"
    with pytest.raises(MalformedInputError):
        await lite.issuer.issue(
            vc2(id="https://u.example/c/2"), credential_id="https://u.example/c/3"
        )
    with pytest.raises(ConflictError):  # ids are unique
        await lite.issuer.issue(vc2(), credential_id="https://u.example/c/1")
    bad: list[Any] = [
        vc2() | {"type": ["Badge"]},
        vc2() | {"credentialSubject": "x"},
        {"type": ["VerifiableCredential"], "credentialSubject": {}},
        vc2() | {"proof": {"type": "DataIntegrityProof"}},
        "not an object",
    ]
    for doc in bad:
        with pytest.raises(MalformedInputError):
            await lite.issuer.issue(doc)
    with pytest.raises(MalformedInputError):
        await lite.issuer.issue(vc2(), status_purposes=["refresh"])
    with pytest.raises(MalformedInputError):
        await lite.issuer.issue(vc2(), idempotency_key="")


# --- status list credentials ---------------------------------------------------------------------


async def test_list_credential_regenerated_after_change(lite: Env) -> None:
    signed = await lite.issuer.issue(vc2(), status_purposes=["revocation"])
    entry = parse_credential_status(signed["credentialStatus"])[0]
    list_id = entry.list_url.rsplit("/", 1)[1]
    first = await lite.issuer.status_list_credential(list_id)
    assert first["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert first["issuer"] == lite.issuer.did
    assert first["credentialSubject"]["ttl"] == 300_000
    assert first["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    assert not decode(first["credentialSubject"]["encodedList"]).get(entry.index)
    # unchanged bits: the stored credential is served as is
    assert await lite.issuer.status_list_credential(list_id) == first

    await lite.issuer.revoke(signed["id"], actor="t")
    record = await lite.issuer.store.get_status_list(list_id)
    assert record is not None and record.version == 2 and record.credential_is_current
    second = await lite.issuer.status_list_credential(list_id)
    assert second != first
    bits = decode(second["credentialSubject"]["encodedList"])
    assert len(bits) == 131_072
    assert bits.set_indices() == [entry.index]


async def test_list_credential_validity_and_refresh(sqlite_store: Store) -> None:
    now = [datetime(2025, 1, 1, tzinfo=UTC)]
    key = Ed25519Key.generate()
    issuer = Issuer(
        key=key, did=key.did, store=sqlite_store, base_url="https://i.example",
        list_validity=timedelta(days=10), list_ttl_ms=None, now=lambda: now[0],
    )  # fmt: skip
    signed = await issuer.issue(vc2(), status_purposes=["suspension"])
    list_id = signed["credentialStatus"]["statusListCredential"].rsplit("/", 1)[1]
    first = await issuer.status_list_credential(list_id)
    assert first["validFrom"] == "2025-01-01T00:00:00Z"
    assert first["validUntil"] == "2025-01-11T00:00:00Z"
    assert "ttl" not in first["credentialSubject"]
    now[0] += timedelta(days=4)
    assert await issuer.status_list_credential(list_id) == first
    now[0] += timedelta(days=2)  # less than half the validity left: re-signed
    fresh = await issuer.status_list_credential(list_id)
    assert fresh["validFrom"] == "2025-01-07T00:00:00Z"
    moved = Issuer(
        key=key, did=key.did, store=sqlite_store, base_url="https://new.example",
        now=lambda: now[0],
    )  # fmt: skip
    relocated = await moved.status_list_credential(list_id)  # base URL changed: re-signed
    assert relocated["id"] == f"https://new.example/status-lists/{list_id}"


async def test_status_list_summaries(lite: Env) -> None:
    signed = await lite.issuer.issue(vc2())
    await lite.issuer.suspend(signed["id"], actor="t")
    lists = {s["purpose"]: s for s in await lite.issuer.status_lists()}
    assert lists["suspension"]["set"] == 1 and lists["revocation"]["set"] == 0
    assert lists["suspension"]["allocated"] == 1 + DEFAULT_INDEX_RESERVE
    assert lists["suspension"]["size"] == 131_072
    assert lists["suspension"]["url"].startswith(lite.base + "/status-lists/")
    info = await lite.issuer.status_list_info(lists["revocation"]["id"])
    assert info["kind"] == "BitstringStatusList"
    assert await lite.issuer.credential_status(signed["id"]) == {
        "revocation": False,
        "suspension": True,
    }


# --- batches -------------------------------------------------------------------------------------


async def test_issue_many(lite: Env) -> None:
    creds: list[Any] = [vc2(f"did:example:{i}") for i in range(40)]
    creds[7] = {"not": "a credential"}
    creds[8] = vc1("did:example:old")
    keys: list[str | None] = [f"k{i}" for i in range(40)]
    out = await lite.issuer.issue_many(creds, idempotency_keys=keys, status=True)
    assert isinstance(out[7], VCIssuerError) and out[7].code == "MALFORMED_VALUE_ERROR"
    good = [o for o in out if isinstance(o, dict)]
    assert len(good) == 39
    assert await lite.issuer.store.count_credentials() == 39
    ok8 = out[8]
    assert isinstance(ok8, dict) and ok8["credentialStatus"][0]["type"] == "StatusList2021Entry"
    indices = {
        (e["statusListCredential"], e["statusListIndex"])
        for c in good
        for e in c["credentialStatus"]
    }
    assert len(indices) == 78
    for c in (out[0], out[39]):
        assert isinstance(c, dict)
        assert (await lite.verify(c)).verified
    # a retried batch returns the first results and allocates nothing
    allocated = sum(lst.allocated for lst in await lite.issuer.store.list_status_lists())
    again = await lite.issuer.issue_many(creds, idempotency_keys=keys)
    assert [a["id"] for a in again if isinstance(a, dict)] == [g["id"] for g in good]
    assert sum(lst.allocated for lst in await lite.issuer.store.list_status_lists()) == allocated


async def test_issue_many_conflicting_id_fails_alone(lite: Env) -> None:
    await lite.issuer.issue(vc2(id="https://u.example/taken"))
    out = await lite.issuer.issue_many([vc2(), vc2(id="https://u.example/taken"), vc2()])
    assert isinstance(out[1], ConflictError)
    assert isinstance(out[0], dict) and isinstance(out[2], dict)
    assert await lite.issuer.store.count_credentials() == 3


# --- index reserve and shared commits --------------------------------------------------------


async def test_reserved_indices_are_allocated_in_the_store(any_store: Store) -> None:
    """A reserve is committed as allocated: another process (or this one after a crash) never
    gets those indices, and only indices that were allocated are ever handed out."""
    key = Ed25519Key.generate()
    a = Issuer(key=key, did=key.did, store=any_store, base_url="https://i.example", index_reserve=8)
    first = await a.issue(vc2(), status_purposes=["revocation"])
    list_id = first["credentialStatus"]["statusListCredential"].rsplit("/", 1)[1]
    reserved = set(await any_store.allocated_indices(list_id))
    assert len(reserved) == 9 and int(first["credentialStatus"]["statusListIndex"]) in reserved
    # "restart": a new issuer over the same store never hands out the old reserve
    b = Issuer(key=key, did=key.did, store=any_store, base_url="https://i.example", index_reserve=0)
    later = await asyncio.gather(
        *(b.issue(vc2(), status_purposes=["revocation"]) for _ in range(50))
    )
    fresh = {int(c["credentialStatus"]["statusListIndex"]) for c in later}
    assert len(fresh) == 50 and not fresh & reserved
    # the old issuer keeps using its own reserve, still disjoint from everything else
    more = [await a.issue(vc2(), status_purposes=["revocation"]) for _ in range(8)]
    used = {int(c["credentialStatus"]["statusListIndex"]) for c in more}
    assert used <= reserved and not used & fresh
    assert await any_store.count_credentials() == 59


async def test_concurrent_issues_with_a_taken_id_fail_alone(lite: Env) -> None:
    await lite.issuer.issue(vc2(id="https://u.example/taken"))
    results = await asyncio.gather(
        *(lite.issuer.issue(vc2(f"did:example:{i}")) for i in range(10)),
        lite.issuer.issue(vc2(id="https://u.example/taken")),
        return_exceptions=True,
    )
    assert isinstance(results[-1], ConflictError)
    assert all(isinstance(r, dict) for r in results[:-1])
    assert await lite.issuer.store.count_credentials() == 11


# --- configuration -------------------------------------------------------------------------------


async def test_constructor_refuses_bad_configuration(sqlite_store: Store) -> None:
    key = Ed25519Key.generate()
    ok: dict[str, Any] = {
        "key": key,
        "did": key.did,
        "store": sqlite_store,
        "base_url": "https://i.example",
    }
    with pytest.raises(ConfigError):
        Issuer(**{**ok, "list_size": 1024})  # herd privacy: never fewer than 131072
    with pytest.raises(ConfigError):
        Issuer(**{**ok, "base_url": "ftp://x"})
    with pytest.raises(VCIssuerError):
        Issuer(**{**ok, "did": Ed25519Key.generate().did})  # not our key
    with pytest.raises(MalformedInputError):
        Issuer(**{**ok, "status_purposes": ["refresh"]})
    with pytest.raises(ConfigError):
        Issuer(**{**ok, "index_reserve": -1})
    issuer = Issuer(**{**ok, "rng": random.Random(7)})
    assert issuer.did_document() is None
