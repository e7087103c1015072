"""A real issuer (home on disk, SQLite store, Ed25519 key) behind a real aiohttp server on
127.0.0.1. The server's port is chosen before the home is made, so the status-list URLs in
issued credentials point at the server under test."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.vc_issuer.hostile._live_server import free_port
from vc_issuer.http import build_services, create_app, create_token
from vc_issuer.services.home import init_home, open_issuer
from vc_issuer.services.issuer import Issuer

FIX = Path(__file__).resolve().parents[2] / "fixtures"
V2 = "https://www.w3.org/ns/credentials/v2"
V1 = "https://www.w3.org/2018/credentials/v1"


def load_fixture(*parts: str) -> Any:
    return json.loads((FIX.joinpath(*parts)).read_text("utf-8"))


class Clock:
    """A settable clock shared by the issuer and its exchanges; tests move it forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Served:
    client: TestClient[web.Request, web.Application]
    issuer: Issuer
    base_url: str
    clock: Clock


@dataclass
class Authed(Served):
    """A served issuer and bearer tokens of the "issue" and "read" scopes."""

    token: str
    read_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @classmethod
    async def of(cls, s: Served) -> Self:
        token, _ = await create_token(s.issuer.store, "issue", ["issue"])
        read_token, _ = await create_token(s.issuer.store, "read", ["read"])
        return cls(s.client, s.issuer, s.base_url, s.clock, token, read_token)


@asynccontextmanager
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """A did:key issuer on a settable clock behind a real server (loopback fetches allowed)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    cfg = init_home(tmp_path / "home", base_url=base_url)
    clock = Clock()
    issuer = await open_issuer(cfg, now=clock)
    app = create_app(build_services(issuer, allow_private=True))
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(app, host="127.0.0.1", port=port)
    )
    await client.start_server()
    try:
        yield Served(client, issuer, base_url, clock)
    finally:
        await client.close()
        await issuer.close()


async def post_issue(
    client: TestClient[web.Request, web.Application], token: str, credential: dict[str, Any]
) -> dict[str, Any]:
    """POST /credentials/issue with a bearer token; asserts 201, returns the issued credential."""
    resp = await client.post(
        "/credentials/issue",
        json={"credential": credential},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 201, await resp.text()
    vc: dict[str, Any] = (await resp.json())["verifiableCredential"]
    return vc


@dataclass
class Env:
    client: TestClient[web.Request, web.Application]
    issuer: Issuer
    base_url: str
    port: int
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def did(self) -> str:
        return self.issuer.did

    def auth(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}

    def credential(self, **fields: Any) -> dict[str, Any]:
        cred: dict[str, Any] = {
            "@context": [V2],
            "type": ["VerifiableCredential"],
            "issuer": self.did,
            "credentialSubject": {"id": "did:example:alice", "name": "Alice"},
        }
        cred.update(fields)
        return {k: v for k, v in cred.items() if v is not None}

    async def issue(self, credential: dict[str, Any] | None = None, **options: Any) -> Any:
        body: dict[str, Any] = {"credential": credential or self.credential()}
        if options:
            body["options"] = options
        resp = await self.client.post("/credentials/issue", json=body, headers=self.auth("issue"))
        assert resp.status == 201, await resp.text()
        return (await resp.json())["verifiableCredential"]

    async def set_status(self, credential_id: str, purpose: str, value: bool = True) -> Any:
        """POST /credentials/status with a "status" token; the response, unchecked."""
        return await self.client.post(
            "/credentials/status",
            json={
                "credentialId": credential_id,
                "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": purpose},
                "status": value,
            },
            headers=self.auth("status"),
        )


EnvFactory = Callable[..., Awaitable[Env]]


@pytest.fixture
async def make_env(tmp_path: Path) -> AsyncIterator[EnvFactory]:
    made: list[tuple[TestClient[web.Request, web.Application], Issuer]] = []

    async def factory(
        *, did_web_path: str | None = None, home_name: str = "home", **app_options: Any
    ) -> Env:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        did_web = None
        if did_web_path is not None:
            did_web = f"127.0.0.1%3A{port}" + (f":{did_web_path}" if did_web_path else "")
        cfg = init_home(tmp_path / home_name, base_url=base_url, did_web=did_web)
        issuer = await open_issuer(cfg)
        app_keys = {"max_body", "max_depth"}
        app_kw = {k: v for k, v in app_options.items() if k in app_keys}
        service_kw = {k: v for k, v in app_options.items() if k not in app_keys}
        app = create_app(build_services(issuer, **service_kw), **app_kw)
        server = TestServer(app, host="127.0.0.1", port=port)
        client: TestClient[web.Request, web.Application] = TestClient(server)
        await client.start_server()
        made.append((client, issuer))
        env = Env(client, issuer, base_url, port)
        for scope in ("issue", "status", "read", "admin"):
            token, _ = await create_token(issuer.store, f"test-{scope}", [scope])
            env.tokens[scope] = token
        return env

    yield factory
    for client, issuer in made:
        await client.close()
        await issuer.close()


@pytest.fixture
async def env(make_env: EnvFactory) -> Env:
    """A did:key issuer; the verifier may fetch from loopback (its own served lists)."""
    return await make_env(allow_private=True)
