"""Auth matrix, limits and error shapes against a real server; the OpenAPI document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import jsonschema
import openapi_spec_validator
import pytest
from aiohttp import web

from vc_issuer.http.auth import hash_token, parse_expiry, parse_scopes
from vc_issuer.http.openapi import openapi_document
from vc_issuer.http.routes import ROUTES_KEY

from .conftest import Env, EnvFactory
from .test_vcapi import assert_problem

# --- auth ----------------------------------------------------------------------------------------

ROUTES: list[tuple[str, str, str]] = [
    ("POST", "/credentials/issue", "issue"),
    ("POST", "/credentials/status", "status"),
    ("GET", "/credentials/{id}", "read"),
]


async def _call(env: Env, method: str, path: str, headers: dict[str, str], vc: Any) -> Any:
    if method == "GET":
        return await env.client.get(path.format(id=quote(vc["id"], safe="")), headers=headers)
    if path == "/credentials/issue":
        body: dict[str, Any] = {"credential": env.credential()}
    else:
        body = {"credentialId": vc["id"], "credentialStatus": {"statusPurpose": "suspension"},
                "status": False}  # fmt: skip
    return await env.client.post(path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
async def test_auth_matrix(env: Env, method: str, path: str, scope: str) -> None:
    vc = await env.issue()
    store = env.issuer.store
    revoked_token = "vci_revoked-token-for-tests-0000000000000000"
    rec = await store.create_token(hash_token(revoked_token), "gone", ["admin"])
    await store.revoke_token(rec.id)
    expired_token = "vci_expired-token-for-tests-0000000000000000"
    await store.create_token(
        hash_token(expired_token), "old", ["admin"], datetime.now(UTC) - timedelta(seconds=1)
    )

    for headers, code in [
        ({}, "UNAUTHORIZED"),
        ({"Authorization": "Bearer vci_unknown"}, "UNAUTHORIZED"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "UNAUTHORIZED"),
        ({"Authorization": "Bearer"}, "UNAUTHORIZED"),
        ({"Authorization": f"Bearer {revoked_token}"}, "TOKEN_INACTIVE"),
        ({"Authorization": f"Bearer {expired_token}"}, "TOKEN_INACTIVE"),
    ]:
        resp = await _call(env, method, path, headers, vc)
        await assert_problem(resp, 401, code)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")

    for other in ("issue", "status", "read"):
        resp = await _call(env, method, path, env.auth(other), vc)
        if other == scope:
            assert resp.status in (200, 201), await resp.text()
        else:
            body = await assert_problem(resp, 403, "FORBIDDEN")
            assert body["required_scope"] == scope
    resp = await _call(env, method, path, env.auth("admin"), vc)
    assert resp.status in (200, 201)


async def test_auth_checked_before_body(env: Env) -> None:
    """An unauthenticated caller learns nothing about the body's validity."""
    resp = await env.client.post("/credentials/issue", data=b"not json")
    await assert_problem(resp, 401)


async def test_token_helpers() -> None:
    assert parse_scopes(["issue,read", "read", " status "]) == ["issue", "read", "status"]
    with pytest.raises(Exception, match="unknown scope"):
        parse_scopes(["root"])
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_expiry("30d", now) == now + timedelta(days=30)
    assert parse_expiry("2031-01-01T00:00:00Z", now) == datetime(2031, 1, 1, tzinfo=UTC)
    assert parse_expiry(None) is None
    for bad in ("soon", "0d", "2020-01-01T00:00:00Z", "2031-01-01T00:00:00"):
        with pytest.raises(Exception, match="expires"):
            parse_expiry(bad, now)
    assert len(hash_token("x")) == 64


# --- limits and errors ---------------------------------------------------------------------------


async def test_body_over_one_mib_is_413(env: Env) -> None:
    big = json.dumps({"credential": {"pad": "x" * (1 << 20)}}).encode()
    for path, headers in (("/credentials/issue", env.auth("issue")), ("/credentials/verify", {})):
        resp = await env.client.post(path, data=big, headers=headers)
        await assert_problem(resp, 413, "INPUT_TOO_LARGE")


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/credentials/verify", "application/json"),
        ("/credentials/verify", "image/png"),  # a baked badge as the raw body
        ("/presentations/verify", "application/json"),
        ("/credential", "application/json"),  # OpenID4VCI: still problem+json for size
        ("/exchanges/anything", "application/json"),
    ],
)
async def test_chunked_body_over_limit_is_413(env: Env, path: str, content_type: str) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 65536

    resp = await env.client.post(path, data=chunks(), headers={"Content-Type": content_type})
    body = await assert_problem(resp, 413, "INPUT_TOO_LARGE")
    assert body["limit"] == 1 << 20


async def test_max_body_is_configurable(make_env: EnvFactory) -> None:
    env = await make_env(max_body=4096)
    resp = await env.client.post("/credentials/verify", data=b"{" + b" " * 5000 + b"}")
    await assert_problem(resp, 413)


async def test_deep_nesting_refused(env: Env) -> None:
    deep = "[" * 70 + "]" * 70
    resp = await env.client.post(
        "/credentials/verify", data=f'{{"verifiableCredential": {deep}}}'.encode()
    )
    await assert_problem(resp, 400, "JSON_TOO_DEEP")
    very_deep = "[" * 100_000 + "]" * 100_000
    resp = await env.client.post("/credentials/issue", data=very_deep, headers=env.auth("issue"))
    await assert_problem(resp, 400, "JSON_TOO_DEEP")


@pytest.mark.parametrize(
    "data", [b"", b"   ", b"not json", b"\xff\xfe", b"[1,2]", b'"string"', b"{'single': 1}", b"NaN"]
)
async def test_non_object_bodies(env: Env, data: bytes) -> None:
    for path in ("/credentials/verify", "/presentations/verify"):
        resp = await env.client.post(path, data=data)
        await assert_problem(resp, 400)
    resp = await env.client.post("/credentials/issue", data=data, headers=env.auth("issue"))
    await assert_problem(resp, 400)


async def test_routing_errors_are_problems(env: Env) -> None:
    await assert_problem(await env.client.get("/nowhere"), 404, "NOT_FOUND")
    resp = await env.client.get("/credentials/issue", headers=env.auth("read"))
    await assert_problem(resp, 404)
    resp = await env.client.put("/credentials/verify", data=b"{}")
    await assert_problem(resp, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in resp.headers["Allow"]


async def test_unexpected_exception_is_a_500_problem_without_traceback(env: Env) -> None:
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    # a route added to the running app's router (frozen apps refuse; use a fresh one)
    from vc_issuer.http import build_services, create_app

    app = create_app(build_services(env.issuer))
    app.router.add_get("/boom", boom)
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/boom")
        body = await assert_problem(resp, 500, "INTERNAL_ERROR")
        assert "secret" not in json.dumps(body)
        assert "Traceback" not in await resp.text()


async def test_request_id_echoed(env: Env) -> None:
    resp = await env.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"
    resp = await env.client.get("/healthz", headers={"X-Request-Id": "bad id\u00e9"})
    assert resp.headers["X-Request-Id"] != "bad id"
    resp = await env.client.get("/nowhere", headers={"X-Request-Id": "r-404"})
    assert resp.headers["X-Request-Id"] == "r-404"


async def test_access_log_is_structured(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from vc_issuer.http import build_services, create_app
    from vc_issuer.http.middlewares import JsonAccessLogger

    app = create_app(build_services(env.issuer))
    server = TestServer(app)
    with caplog.at_level("INFO", logger="aiohttp.access"):
        await server.start_server(access_log_class=JsonAccessLogger)
        async with TestClient(server) as client:
            await client.get("/healthz", headers={"X-Request-Id": "log-1"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    entry = next(x for x in lines if x.get("request_id") == "log-1")
    assert entry["method"] == "GET" and entry["path"] == "/healthz" and entry["status"] == 200
    assert entry["duration_ms"] >= 0


# --- OpenAPI -------------------------------------------------------------------------------------


@pytest.mark.parametrize("did_web_path", [None, "issuers:one"])
async def test_openapi_document_is_valid_and_covers_every_route(
    make_env: EnvFactory, did_web_path: str | None
) -> None:
    env = await make_env(did_web_path=did_web_path)
    resp = await env.client.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["servers"] == [{"url": env.base_url}]
    openapi_spec_validator.validate(doc)
    described = {(p, m.upper()) for p, item in doc["paths"].items() for m in item}
    app = env.client.app
    assert app is not None
    registered = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = str(info.get("path") or info.get("formatter")).replace("{id:.+}", "{id}")
        registered.add((path, route.method))
    assert registered <= described, registered - described
    assert described <= registered, described - registered


def _schema_validator(
    doc: dict[str, Any], schema: dict[str, Any]
) -> jsonschema.Draft202012Validator:
    root = {**schema, "components": doc["components"]}
    return jsonschema.Draft202012Validator(root)


async def test_responses_match_openapi_schemas(env: Env) -> None:
    assert env.client.app is not None
    doc = openapi_document(env.client.app[ROUTES_KEY])

    def check(path: str, method: str, resp_status: int, body: Any, media: str) -> None:
        responses = doc["paths"][path][method]["responses"]
        spec = responses[str(resp_status)]
        schema = spec["content"][media]["schema"]
        errors = list(_schema_validator(doc, schema).iter_errors(body))
        assert not errors, (path, resp_status, [e.message for e in errors])

    resp = await env.client.post(
        "/credentials/issue", json={"credential": env.credential()}, headers=env.auth("issue")
    )
    vc = (await resp.json())["verifiableCredential"]
    check("/credentials/issue", "post", 201, {"verifiableCredential": vc}, "application/json")

    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    check("/credentials/verify", "post", 200, await resp.json(), "application/json")

    tampered = {**vc, "credentialSubject": {"id": "did:example:eve"}}
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": tampered})
    check("/credentials/verify", "post", 422, await resp.json(content_type=None),
          "application/problem+json")  # fmt: skip

    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": "x"})
    check("/credentials/verify", "post", 400, await resp.json(content_type=None),
          "application/problem+json")  # fmt: skip

    resp = await env.set_status(vc["id"], "revocation")
    check("/credentials/status", "post", 200, await resp.json(), "application/json")

    resp = await env.client.post("/credentials/issue", json={})
    check("/credentials/issue", "post", 401, await resp.json(content_type=None),
          "application/problem+json")  # fmt: skip

    list_url = vc["credentialStatus"][0]["statusListCredential"]
    resp = await env.client.get("/status-lists/" + list_url.rsplit("/", 1)[1])
    check("/status-lists/{id}", "get", 200, await resp.json(content_type=None),
          "application/vc+ld+json")  # fmt: skip

    resp = await env.client.get(f"/1.0/identifiers/{env.did}")
    check("/1.0/identifiers/{did}", "get", 200, await resp.json(content_type=None),
          'application/ld+json;profile="https://w3id.org/did-resolution"')  # fmt: skip

    resp = await env.client.get("/healthz")
    check("/healthz", "get", 200, await resp.json(), "application/json")


# --- fuzz: no 5xx, every error a problem ----------------------------------------------------------


STRINGS = ["", "x", "did:key:z6Mk", "https://example.com", "\u0000", "é" * 5, "urn:uuid:1",
           "2030-01-01T00:00:00Z", "VerifiableCredential"]  # fmt: skip


def _random_json(rng: Any, depth: int = 0) -> Any:
    kinds = ["null", "bool", "int", "float", "str"] + (["list", "dict"] * 2 if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, -1, 1, 2**63, rng.randint(-1000, 1000)])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1e-300])
    if kind == "str":
        return rng.choice(STRINGS)
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    keys = ["@context", "type", "issuer", "credentialSubject", "proof", "id", "validFrom",
            "validUntil", "credentialStatus", "verifiableCredential", "credential", "options",
            "challenge", "domain", "statusPurpose", "credentialId", "status", "x"]  # fmt: skip
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


async def test_fuzzed_bodies_never_5xx(env: Env) -> None:
    import random

    rng = random.Random(20240601)
    valid = env.credential()
    for i in range(150):
        body = _random_json(rng)
        if i % 3 == 0:  # mutate a valid credential instead of pure noise
            vp = {"@context": valid["@context"], "type": "VerifiablePresentation",
                  "verifiableCredential": _random_json(rng)}  # fmt: skip
            body = {"credential": {**valid, rng.choice(list(valid)): _random_json(rng)},
                    "verifiableCredential": {**valid, "proof": _random_json(rng)},
                    "verifiablePresentation": vp}  # fmt: skip
        for path in ("/credentials/issue", "/credentials/verify", "/presentations/verify",
                     "/credentials/status"):  # fmt: skip
            resp = await env.client.post(path, json=body, headers=env.auth("admin"))
            text = await resp.text()
            assert resp.status < 500, (path, body, text)
            if resp.status >= 400:
                assert resp.headers["Content-Type"].startswith("application/problem+json"), text
                assert set(json.loads(text)) >= {"type", "title", "status", "detail", "code"}
