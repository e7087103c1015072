"""The app is assembled from services built beforehand: ``create_app(build_services(...))``.

Real issuer homes (SQLite store in tmp_path) behind real aiohttp test servers on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler

from vc_issuer.http import build_services, create_app, create_token
from vc_issuer.http.app import default_middlewares
from vc_issuer.http.openapi import openapi_document
from vc_issuer.http.routes import ROUTES_KEY
from vc_issuer.http.state import STATE_KEY, ServiceState, state_of
from vc_issuer.services.home import init_home, open_issuer
from vc_issuer.services.issuer import Issuer

from .conftest import V2, free_port, post_issue

Client = TestClient[web.Request, web.Application]

#: Served but deliberately not in the OpenAPI document: none today (the stylesheet under
#: /static/ is described like any route). Name a route here, with the reason, to exclude it.
UNDOCUMENTED: frozenset[tuple[str, str]] = frozenset()


async def _issuer(tmp_path: Path, name: str) -> tuple[Issuer, int]:
    port = free_port()
    cfg = init_home(tmp_path / name, base_url=f"http://127.0.0.1:{port}")
    return await open_issuer(cfg), port


async def _client(app: web.Application, port: int) -> Client:
    client: Client = TestClient(TestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    return client


@pytest.fixture
async def one(tmp_path: Path) -> AsyncIterator[tuple[Client, Issuer]]:
    issuer, port = await _issuer(tmp_path, "home")
    client = await _client(create_app(build_services(issuer, allow_private=True)), port)
    yield client, issuer
    await client.close()
    await issuer.close()


async def _issue(client: Client, issuer: Issuer, subject: str) -> dict[str, Any]:
    token, _ = await create_token(issuer.store, "t", ["issue"])
    credential = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": issuer.did,
        "credentialSubject": {"id": subject},
    }
    return await post_issue(client, token, credential)


async def test_healthz_and_an_issue_verify_round_trip(one: tuple[Client, Issuer]) -> None:
    client, issuer = one
    resp = await client.get("/healthz")
    assert resp.status == 200
    health = await resp.json()
    assert health["status"] == "ok" and health["issuer"] == issuer.did
    assert health["store"]["backend"] == "sqlite"

    vc = await _issue(client, issuer, "did:example:alice")
    resp = await client.post("/credentials/verify", json={"verifiableCredential": vc})
    result = await resp.json()
    assert resp.status == 200, result
    assert result["verified"] is True
    assert vc["credentialStatus"] and all(c["passed"] for c in result["checks"])
    names = {c["name"] for c in result["checks"]}
    assert "proof" in names and names - {"structure", "proof", "issuer", "validity"}  # + status

    tampered = {**vc, "credentialSubject": {"id": "did:example:eve"}}
    resp = await client.post("/credentials/verify", json={"verifiableCredential": tampered})
    assert resp.status == 422
    assert (await resp.json(content_type=None))["code"] == "PROOF_VERIFICATION_ERROR"


async def test_two_apps_in_one_process_share_nothing(tmp_path: Path) -> None:
    """No module-level state: each app has its own services, routes and issuer."""
    (issuer_a, port_a), (issuer_b, port_b) = [await _issuer(tmp_path, n) for n in ("a", "b")]
    services_a = build_services(issuer_a, allow_private=True, close_issuer=True)
    services_b = build_services(issuer_b, allow_private=True, close_issuer=True)
    app_a, app_b = create_app(services_a), create_app(services_b)
    assert app_a[STATE_KEY] is services_a and app_b[STATE_KEY] is services_b
    assert app_a[ROUTES_KEY] is not app_b[ROUTES_KEY]
    for field in ("achievements", "claims", "exchanges", "oid4vci", "status_checker", "fetcher"):
        assert getattr(services_a, field) is not getattr(services_b, field), field
    client_a, client_b = await _client(app_a, port_a), await _client(app_b, port_b)
    try:
        vc = await _issue(client_a, issuer_a, "did:example:a")
        resp = await client_b.get("/healthz")
        assert (await resp.json())["issuer"] == issuer_b.did != issuer_a.did
        # a's credential is in a's store only
        token_b, _ = await create_token(issuer_b.store, "r", ["read"])
        resp = await client_b.get(
            f"/credentials/{vc['id']}", headers={"Authorization": f"Bearer {token_b}"}
        )
        assert resp.status == 404
        assert (await resp.json(content_type=None))["code"] == "NOT_FOUND"
        # b verifies a's credential over the network (a's status list is not local to b)
        resp = await client_b.post("/credentials/verify", json={"verifiableCredential": vc})
        assert resp.status == 200 and (await resp.json())["verified"] is True
    finally:
        await client_a.close()  # closes issuer a (close_issuer)
        resp = await client_b.get("/healthz")
        assert resp.status == 200  # b does not depend on a
        await client_b.close()


async def test_hooks_middlewares_and_the_work_slot(tmp_path: Path) -> None:
    """The extension points: ``work`` on the services, hooks in order, and a middleware
    added to the default list sees every request."""
    issuer, port = await _issuer(tmp_path, "home")
    events: list[str] = []

    class Pool:
        started = False

        def close(self) -> None:
            events.append("pool closed")

    pool = Pool()
    services = build_services(issuer, close_issuer=True, work=pool)

    async def start(app: web.Application) -> None:
        app[STATE_KEY].work.started = True
        events.append("start")

    async def stop(app: web.Application) -> None:
        events.append("stop")

    @web.middleware
    async def tag(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        response.headers["X-Work"] = str(state_of(request).work is pool)
        return response

    app = create_app(
        services,
        middlewares=[*default_middlewares(), tag],
        on_startup=[start],
        on_cleanup=[stop, lambda app: _close(app[STATE_KEY], events)],
    )
    client = await _client(app, port)
    assert pool.started and events == ["start"]
    resp = await client.get("/healthz")
    assert resp.status == 200 and resp.headers["X-Work"] == "True"
    resp = await client.get("/nowhere")  # the default middlewares still answer problem+json
    assert resp.status == 404 and (await resp.json(content_type=None))["code"] == "NOT_FOUND"
    await client.close()
    assert events == ["start", "stop", "pool closed"]


async def _close(services: ServiceState, events: list[str]) -> None:
    services.work.close()


async def test_every_served_route_is_documented_and_every_documented_route_served(
    one: tuple[Client, Issuer],
) -> None:
    client, _ = one
    assert client.app is not None
    served = set()
    for route in client.app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = str(info.get("path") or info.get("formatter"))
        served.add((path, route.method))
    resp = await client.get("/openapi.json")
    doc = await resp.json()
    documented = {(p, m.upper()) for p, item in doc["paths"].items() for m in item}
    assert served - UNDOCUMENTED == documented
    assert len(client.app[ROUTES_KEY]) == len(served)


async def test_route_scopes_match_their_documented_security(one: tuple[Client, Issuer]) -> None:
    """A handler guarded by ``@requires(scope)`` documents that scope (or an optional token)."""
    client, _ = one
    assert client.app is not None
    table = client.app[ROUTES_KEY]
    guarded = [route for route in table if route.scope is not None]
    assert {r.scope for r in guarded} == {"issue", "read", "status"}
    for route in guarded:
        security = route.doc["security"]
        assert security, route.path
        assert any(route.scope in s.get("bearer", [route.scope]) for s in security), route.path
    doc = openapi_document(table)
    assert len({op["operationId"] for item in doc["paths"].values() for op in item.values()}) == (
        len(table)
    )
