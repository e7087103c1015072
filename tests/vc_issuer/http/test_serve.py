"""`vc-issuer serve` and `vc-issuer tokens` as real processes: first run, issue and verify over
HTTP, token lifecycle, graceful shutdown, --no-auth rules, TLS, and several server processes
(including --workers) issuing concurrently on one PostgreSQL store."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests._certs import self_signed
from tests.vc_issuer.hostile._live_server import PG_URL, LiveServer, cli, pg_schema
from vc_issuer.services.home import init_home

from .conftest import V2, free_port


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[LiveServer]]:
    started: list[LiveServer] = []
    yield started
    for s in started:
        s.stop()


def _credential(did: str, n: int = 0) -> dict[str, Any]:
    return {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": did,
        "credentialSubject": {"id": f"did:example:subject-{n}"},
    }


async def test_serve_first_run_issue_verify_tokens_and_graceful_stop(
    tmp_path: Path, servers: list[LiveServer]
) -> None:
    home = tmp_path / "home"
    port = free_port()
    srv = LiveServer(["--home", str(home), "--port", str(port)], tmp_path / "serve.log")
    servers.append(srv)
    url = srv.wait_ready()
    assert url == f"http://127.0.0.1:{port}"
    did = srv.value("issuer DID:")
    assert did.startswith("did:key:z6Mk")
    assert srv.value("base URL:") == url
    token = srv.value("admin token")
    assert token.startswith("vci_")
    assert (home / "config.toml").is_file()

    async with aiohttp.ClientSession(url) as http:
        auth = {"Authorization": f"Bearer {token}"}
        resp = await http.post("/credentials/issue", json={"credential": _credential(did)},
                               headers=auth)  # fmt: skip
        assert resp.status == 201, await resp.text()
        vc = (await resp.json())["verifiableCredential"]
        resp = await http.post("/credentials/verify", json={"verifiableCredential": vc})
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["verified"] is True

        # tokens CLI while the server runs: a read token works, and stops working once revoked
        made = subprocess.run(
            cli("tokens", "create", "--home", str(home), "--scope", "read", "--name", "reader",
                "--expires", "1d"),
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        created = json.loads(made.stdout)
        assert created["scopes"] == ["read"] and created["name"] == "reader"
        assert created["expiresAt"] is not None
        reader = {"Authorization": f"Bearer {created['token']}"}
        from urllib.parse import quote

        path = "/credentials/" + quote(vc["id"], safe="")
        assert (await http.get(path, headers=reader)).status == 200
        assert (await http.post("/credentials/issue", json={}, headers=reader)).status == 403
        listed = json.loads(
            subprocess.run(
                cli("tokens", "list", "--home", str(home)),
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        assert {t["name"] for t in listed} == {"admin", "reader"}
        assert all("token" not in t and "token_hash" not in t for t in listed)
        subprocess.run(cli("tokens", "revoke", created["id"], "--home", str(home)), check=True,
                       capture_output=True)  # fmt: skip
        assert (await http.get(path, headers=reader)).status == 401
        gone = subprocess.run(cli("tokens", "revoke", "nope", "--home", str(home)),
                              capture_output=True, text=True)  # fmt: skip
        assert gone.returncode == 2 and "TOKEN_NOT_FOUND" in gone.stderr

        # graceful stop: requests in flight when SIGTERM arrives still complete
        async def issue(n: int) -> int:
            r = await http.post("/credentials/issue", json={"credential": _credential(did, n)},
                                headers=auth)  # fmt: skip
            await r.read()
            return r.status

        tasks = [asyncio.ensure_future(issue(n)) for n in range(8)]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        srv.proc.send_signal(signal.SIGTERM)
        statuses = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(s == 201 for s in statuses), statuses

    assert srv.proc.wait(40) == 0  # the first SIGTERM alone stops it, with exit code 0
    srv.stop()
    entries = srv.access_log()
    assert any(e["path"] == "/credentials/issue" and e["status"] == 201 for e in entries)
    assert "shutting down" in srv.log.read_text()

    # a second start reuses the home and prints no new token
    port2 = free_port()
    again = LiveServer(["--home", str(home), "--port", str(port2)], tmp_path / "serve2.log")
    servers.append(again)
    again.wait_ready()
    assert again.value("issuer DID:") == did
    assert again.value("base URL:") == f"http://127.0.0.1:{port2}"  # the local URL follows
    assert not any(x.startswith("admin token") for x in again.lines)


def test_no_auth_refused_off_loopback(tmp_path: Path) -> None:
    out = subprocess.run(
        cli("serve", "--home", str(tmp_path / "h"), "--host", "0.0.0.0", "--no-auth"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 3
    assert "NO_AUTH_REFUSED" in out.stderr
    assert not (tmp_path / "h").exists()


def test_tls_options_checked(tmp_path: Path) -> None:
    out = subprocess.run(
        cli("serve", "--home", str(tmp_path / "h"), "--tls-cert", str(tmp_path / "missing.pem")),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 3 and "TLS_CONFIG_ERROR" in out.stderr


async def test_tls_and_no_auth_on_loopback(tmp_path: Path, servers: list[LiveServer]) -> None:
    cert_file, key_file = self_signed(tmp_path)
    port = free_port()
    srv = LiveServer(
        ["--home", str(tmp_path / "h"), "--port", str(port), "--no-auth",
         "--tls-cert", str(cert_file), "--tls-key", str(key_file)],
        tmp_path / "tls.log",
    )  # fmt: skip
    servers.append(srv)
    url = srv.wait_ready()
    assert url == f"https://127.0.0.1:{port}"
    assert not any(x.startswith("admin token") for x in srv.lines)
    assert "--no-auth" in srv.log.read_text() or "DISABLED" in srv.log.read_text()
    did = srv.value("issuer DID:")
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cafile=str(cert_file))
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(ssl=ctx)) as http:
        resp = await http.post("/credentials/issue", json={"credential": _credential(did)})
        assert resp.status == 201, await resp.text()
        vc = (await resp.json())["verifiableCredential"]
        assert vc["credentialStatus"][0]["statusListCredential"].startswith(url + "/status-lists/")
        resp = await http.post("/credentials/verify", json={"verifiableCredential": vc})
        assert resp.status == 200, await resp.text()
    # plain HTTP to the TLS port does not get an answer
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            await http.get(f"http://127.0.0.1:{port}/healthz")


async def test_several_processes_on_one_postgresql_store(
    tmp_path: Path, servers: list[LiveServer]
) -> None:
    """Two `serve` commands on one home (one of them with --workers 2): three processes
    allocate status indices from one PostgreSQL store, concurrently; none is handed out twice."""
    async with pg_schema("vch_") as (admin, schema):
        port_a, port_b = free_port(), free_port()
        home = tmp_path / "pg-home"
        cfg = init_home(home, base_url=f"http://127.0.0.1:{port_a}",
                        database_url=f"{PG_URL}?search_path={schema}")  # fmt: skip
        made = subprocess.run(
            cli("tokens", "create", "--home", str(home), "--scope", "issue,read"),
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        token = json.loads(made.stdout)["token"]
        a = LiveServer(["--home", str(home), "--port", str(port_a), "--workers", "2"],
                   tmp_path / "a.log")  # fmt: skip
        b = LiveServer(["--home", str(home), "--port", str(port_b)], tmp_path / "b.log")
        servers.extend([a, b])
        urls = [a.wait_ready(), b.wait_ready()]
        auth = {"Authorization": f"Bearer {token}"}
        total = 120
        sem = asyncio.Semaphore(16)

        async def issue(http: aiohttp.ClientSession, url: str, n: int) -> dict[str, Any]:
            async with sem:
                # a fresh connection each time, so the kernel spreads them over the workers
                r = await http.post(
                    f"{url}/credentials/issue",
                    headers={**auth, "Connection": "close"},
                    json={"credential": _credential(cfg.did, n)},
                )
                assert r.status == 201, await r.text()
                return dict((await r.json())["verifiableCredential"])

        async with aiohttp.ClientSession() as http:
            vcs = await asyncio.gather(*(issue(http, urls[n % 2], n) for n in range(total)))
        entries = [
            (e["statusPurpose"], e["statusListCredential"], e["statusListIndex"])
            for vc in vcs
            for e in vc["credentialStatus"]
        ]
        assert len(entries) == 2 * total
        assert len(set(entries)) == len(entries), "a status index was handed out twice"
        assert len({vc["id"] for vc in vcs}) == total
        count = await admin.fetchval(f'SELECT count(*) FROM "{schema}".credentials')
        assert count == total
        pids = {e["pid"] for e in a.access_log() if e["path"] == "/credentials/issue"}
        assert len(pids) == 2, "both workers of --workers 2 should have served requests"
        assert a.stop() == 0 and b.stop() == 0
