"""``POST /achievements/{id}/awards`` with ``"notify": true`` on a real server whose background
sender delivers to aiosmtpd on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from vc_issuer.email import mailer_for
from vc_issuer.email.config import SmtpSettings
from vc_issuer.http import build_services, create_app, create_token
from vc_issuer.services.home import init_home, open_issuer

from .conftest import SmtpServer, Start, free_port

Client = TestClient[web.Request, web.Application]


async def start(tmp_path: Path, smtp: SmtpServer | None) -> tuple[Client, dict[str, str], Any]:
    port = free_port()
    cfg = init_home(tmp_path / "home", base_url=f"http://127.0.0.1:{port}")
    issuer = await open_issuer(cfg)
    mailer = None
    if smtp is not None:
        settings = SmtpSettings(
            host="127.0.0.1", port=smtp.port, security="none", sender="b@example.edu"
        )
        mailer = mailer_for(cfg.home, issuer, settings=settings)
        assert mailer is not None
    # mail_poll: only a wake-up sends within the test
    app = create_app(build_services(issuer, mailer=mailer, mail_poll=30.0, close_issuer=True))
    client: Client = TestClient(TestServer(app, host="127.0.0.1", port=port))
    await client.start_server()
    token, _ = await create_token(issuer.store, "t", ["issue"])
    auth = {"Authorization": f"Bearer {token}"}
    resp = await client.post("/achievements", json={"name": "Python 101", "description": "D",
                             "criteria": {"narrative": "C"}}, headers=auth)  # fmt: skip
    assert resp.status == 201, await resp.text()
    return client, auth, (await resp.json())["key"]


@pytest.fixture
async def closing() -> AsyncIterator[list[Client]]:
    clients: list[Client] = []
    yield clients
    for c in clients:
        await c.close()


async def test_notify_queues_and_the_server_sends(
    tmp_path: Path, smtp_server: Start, closing: list[Client]
) -> None:
    smtp = smtp_server()
    client, auth, key = await start(tmp_path, smtp)
    closing.append(client)
    body = {"recipient": {"email": "ada@example.org", "name": "Ada"}, "notify": True}
    resp = await client.post(f"/achievements/{key}/awards", json=body, headers=auth)
    assert resp.status == 201, await resp.text()
    out = await resp.json()
    assert out["notified"] is True and out["claimLink"].startswith(str(client.make_url("/claim/")))
    for _ in range(200):
        if smtp.recorder.messages:
            break
        await asyncio.sleep(0.05)
    assert smtp.recorder.rcpts == ["ada@example.org"]
    text = smtp.recorder.messages[0].get_body(("plain",))
    assert text is not None and out["claimLink"] in text.get_content()
    # The claim link in the email works.
    page = await client.get(out["claimLink"].split(str(client.make_url("")).rstrip("/"), 1)[1])
    assert page.status == 200
    # Awarded before: no second email.
    again = await client.post(f"/achievements/{key}/awards", json=body, headers=auth)
    assert again.status == 200 and (await again.json())["notified"] is False


async def test_notify_refusals(tmp_path: Path, closing: list[Client]) -> None:
    client, auth, key = await start(tmp_path, None)
    closing.append(client)
    url = f"/achievements/{key}/awards"
    body: dict[str, Any] = {"recipient": {"email": "ada@example.org"}, "notify": True}
    resp = await client.post(url, json=body, headers=auth)
    assert resp.status == 409 and (await resp.json())["code"] == "EMAIL_NOT_CONFIGURED"
    resp = await client.post(url, json={**body, "notify": "yes"}, headers=auth)
    assert resp.status == 400 and (await resp.json())["code"] == "MALFORMED_VALUE_ERROR"
    # Nothing was awarded by the refused calls.
    resp = await client.post(url, json={"recipient": {"email": "ada@example.org"}}, headers=auth)
    assert resp.status == 201


async def test_notify_needs_the_recipients_email(
    tmp_path: Path, smtp_server: Start, closing: list[Client]
) -> None:
    client, auth, key = await start(tmp_path, smtp_server())
    closing.append(client)
    body = {"recipient": {"id": "did:example:ada"}, "notify": True}
    resp = await client.post(f"/achievements/{key}/awards", json=body, headers=auth)
    assert resp.status == 400 and (await resp.json())["code"] == "NO_RECIPIENT_EMAIL"
