"""Public routes against a real server: status lists (caching, 304), did:web documents, the
universal-resolver route, health."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from did_methods.registry import Resolver
from vc_issuer.services.status_check import StatusListChecker

from .conftest import Env, EnvFactory
from .test_vcapi import assert_problem


def _list_path(vc: dict[str, Any], purpose: str = "revocation") -> tuple[str, dict[str, Any]]:
    entry = next(e for e in vc["credentialStatus"] if e["statusPurpose"] == purpose)
    url: str = entry["statusListCredential"]
    return url.split("://", 1)[1].split("/", 1)[1], entry


async def test_status_list_served_with_caching_headers(env: Env) -> None:
    vc = await env.issue()
    path, entry = _list_path(vc)
    resp = await env.client.get("/" + path)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/vc+ld+json")
    assert resp.headers["Cache-Control"] == "public, max-age=300"  # ttl 300000 ms
    etag = resp.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    body = await resp.json(content_type=None)
    assert body["id"] == entry["statusListCredential"]
    assert "BitstringStatusListCredential" in body["type"]
    assert body["credentialSubject"]["ttl"] == 300_000
    assert body["proof"]["cryptosuite"] == "eddsa-rdfc-2022"

    plain = await env.client.get("/" + path, headers={"Accept": "application/json"})
    assert plain.headers["Content-Type"].startswith("application/json")
    assert await plain.json() == body
    either = await env.client.get(
        "/" + path, headers={"Accept": "application/json, application/vc+ld+json"}
    )
    assert either.headers["Content-Type"].startswith("application/vc+ld+json")

    cached = await env.client.get("/" + path, headers={"If-None-Match": etag})
    assert cached.status == 304
    assert cached.headers["ETag"] == etag
    assert await cached.read() == b""
    other = await env.client.get("/" + path, headers={"If-None-Match": '"other"'})
    assert other.status == 200


async def test_status_list_etag_changes_with_a_status_change(env: Env) -> None:
    vc = await env.issue()
    path, _ = _list_path(vc)
    etag = (await env.client.get("/" + path)).headers["ETag"]
    await env.issuer.revoke(vc["id"])
    resp = await env.client.get("/" + path, headers={"If-None-Match": etag})
    assert resp.status == 200
    assert resp.headers["ETag"] != etag


async def test_status_list_unknown_is_404(env: Env) -> None:
    await assert_problem(await env.client.get("/status-lists/nope"), 404, "NOT_FOUND")


async def test_status_change_visible_to_an_independent_verifier(env: Env) -> None:
    """A verifier that knows nothing of the issuer fetches the served list over HTTP."""
    vc = await env.issue()
    async with StatusListChecker(allow_private=True) as checker:
        before = await checker.check(vc)
        assert [c.passed for c in before] == [True, True]
        resp = await env.set_status(vc["id"], "suspension")
        assert resp.status == 200
        checker.cache.clear()  # the list's ttl would otherwise let the verifier wait 5 minutes
        after = {c.name: c for c in await checker.check(vc)}
        assert after["status:suspension"].code == "CREDENTIAL_SUSPENDED"
        assert after["status:revocation"].passed


async def test_verify_route_without_private_hosts_still_checks_own_lists(
    make_env: EnvFactory,
) -> None:
    env = await make_env()  # allow_private defaults to False
    vc = await env.issue()
    ok = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert ok.status == 200, await ok.text()
    await env.issuer.revoke(vc["id"])
    bad = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    body = await assert_problem(bad, 422, "CREDENTIAL_REVOKED")
    assert body["verified"] is False


async def test_foreign_loopback_list_is_refused_without_allow_private(
    make_env: EnvFactory,
) -> None:
    """Another issuer's list on a private address is a retrieval error unless allowed."""
    other = await make_env(home_name="other", allow_private=True)
    vc = await other.issue()
    strict = await make_env(home_name="strict")
    resp = await strict.client.post("/credentials/verify", json={"verifiableCredential": vc})
    body = await assert_problem(resp, 422, "STATUS_RETRIEVAL_ERROR")
    assert body["verified"] is False
    lax = await make_env(home_name="lax", allow_private=True)
    resp = await lax.client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert resp.status == 200, await resp.text()


async def test_did_key_issuer_has_no_did_document(env: Env) -> None:
    await assert_problem(await env.client.get("/.well-known/did.json"), 404, "NOT_FOUND")


async def _resolves_and_verifies(env: Env) -> None:
    """A real did:web resolution over HTTP against the server finds the served document, and
    what the server issues verifies (the verifier resolves our own did:web locally, even where
    private hosts are refused)."""
    async with Resolver(allow_private=True) as resolver:
        assert (await resolver.resolve(env.did))["id"] == env.did
    vc = await env.issue()
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert resp.status == 200, await resp.text()


async def test_did_web_document_served_and_resolvable(make_env: EnvFactory) -> None:
    env = await make_env(did_web_path="", allow_private=True)
    assert env.did == f"did:web:127.0.0.1%3A{env.port}"
    resp = await env.client.get("/.well-known/did.json")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/did")
    doc = await resp.json(content_type=None)
    assert doc["id"] == env.did
    await _resolves_and_verifies(env)


async def test_path_based_did_web(make_env: EnvFactory) -> None:
    env = await make_env(did_web_path="issuers:one")
    assert env.did.endswith(":issuers:one")
    resp = await env.client.get("/issuers/one/did.json")
    assert resp.status == 200
    assert (await resp.json(content_type=None))["id"] == env.did
    await assert_problem(await env.client.get("/.well-known/did.json"), 404)
    await _resolves_and_verifies(env)


async def test_universal_resolver_did_key(env: Env) -> None:
    resp = await env.client.get(f"/1.0/identifiers/{env.did}")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/ld+json")
    assert 'profile="https://w3id.org/did-resolution"' in resp.headers["Content-Type"]
    body = await resp.json(content_type=None)
    assert body["didDocument"]["id"] == env.did
    assert body["didResolutionMetadata"]["contentType"].startswith("application/did")
    assert body["didDocumentMetadata"] == {}


async def test_universal_resolver_errors(env: Env) -> None:
    cases = [
        ("did:key:zNotAKey", 400, "invalidDid"),
        ("not-a-did", 400, "invalidDid"),
        ("did:example:123", 501, "methodNotSupported"),
    ]
    for did, status, code in cases:
        resp = await env.client.get(f"/1.0/identifiers/{did}")
        body = await assert_problem(resp, status, code)
        assert body["didDocument"] is None
        assert body["didResolutionMetadata"]["error"] == code


async def test_universal_resolver_private_address_rules(make_env: EnvFactory) -> None:
    web_env = await make_env(did_web_path="", home_name="web", allow_private=True)
    strict = await make_env(home_name="strict")
    resp = await strict.client.get("/1.0/identifiers/" + quote(web_env.did, safe=":"))
    body = await assert_problem(resp, 400)
    assert body["didResolutionMetadata"]["error"] in ("forbiddenAddress", "insecureTransport")
    lax = await make_env(home_name="lax", allow_private=True)
    resp = await lax.client.get("/1.0/identifiers/" + quote(web_env.did, safe=":"))
    assert resp.status == 200, await resp.text()
    assert (await resp.json(content_type=None))["didDocument"]["id"] == web_env.did
    # our own did:web is answered from the home, without a fetch
    resp = await web_env.client.get("/1.0/identifiers/" + quote(web_env.did, safe=":"))
    assert resp.status == 200


async def test_healthz(env: Env) -> None:
    resp = await env.client.get("/healthz")
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "ok"
    assert body["issuer"] == env.did
    assert body["store"]["backend"] == "sqlite"
    assert resp.headers["Cache-Control"] == "no-store"
