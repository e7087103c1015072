"""What a running service leaves where others can read it, against a real `vc-issuer serve`:

* the access log holds no bearer secret from a URL (claim tokens, VC API exchange ids, OpenID4VCI
  offer ids, query values such as ``?claim=``), only a short hash of each; for a claim token it is
  the start of the hash the store keeps, so a log line can still be matched to its claim;
* every stderr line is JSON;
* files holding secrets (config.toml, the key, the SQLite store and its -wal/-shm) are 0600 even
  under a permissive umask, and serving an older home with 0644 files makes them 0600;
* cross-origin reads: a route guarded by an API token never answers with CORS, even under a
  public prefix (``GET /exchanges/{id}`` needs a ``read`` token; ``POST`` is the wallet's).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import secrets
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import pytest

from vc_issuer.http.middlewares import redact_path, redact_query, secret_hash
from vc_issuer.services.tokens import hash_secret

from ._live_server import PG_URL, Live, LiveServer, cli, free_port, mode, open_badge, pg_schema

ORIGIN = {"Origin": "https://wallet.example"}


def short(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:12]


# --- the redaction functions, case by case -------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/claim/abcDEF_123-xyz", f"/claim/{short('abcDEF_123-xyz')}"),
        ("/exchanges/ex1", f"/exchanges/{short('ex1')}"),
        ("/exchanges/ex1/qr.svg", f"/exchanges/{short('ex1')}/qr.svg"),
        ("/interactions/ex1", f"/interactions/{short('ex1')}"),
        ("/oid4vci/offers/of1", f"/oid4vci/offers/{short('of1')}"),
        # not secrets: collections, the public page, protected ids, everything else
        ("/exchanges", "/exchanges"),
        ("/oid4vci/offers", "/oid4vci/offers"),
        ("/claims", "/claims"),
        ("/claims/c1", "/claims/c1"),
        ("/c/page1", "/c/page1"),
        ("/credentials/urn:uuid:1", "/credentials/urn:uuid:1"),
        ("/healthz", "/healthz"),
    ],
)
def test_redact_path(path: str, logged: str) -> None:
    assert redact_path(path) == logged


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("claim=tok", f"claim={short('tok')}"),
        ("code=c&state=s", f"code={short('c')}&state={short('s')}"),
        ("token=a%2Bb", f"token={short('a+b')}"),
        ("pre-authorized_code=x&tx_code=1234", f"pre-authorized_code={short('x')}&tx_code="
         f"{short('1234')}"),
        ("version=3", "version=3"),
        ("all=1&claim=t", f"all=1&claim={short('t')}"),
        ("flag", "flag"),
        ("empty=", "empty="),
    ],
)  # fmt: skip
def test_redact_query(query: str, logged: str) -> None:
    assert redact_query(query) == logged


def test_claim_token_hash_matches_the_stored_hash() -> None:
    token = secrets.token_urlsafe(32)
    assert hash_secret(token).startswith(secret_hash(token).removeprefix("sha256:"))


# --- a live server ------------------------------------------------------------------------------


async def _issue_and_claim(http: aiohttp.ClientSession, live: Live) -> tuple[str, str]:
    """An Open Badge and a claim link for it: (credential id, claim token)."""
    resp = await http.post(
        "/credentials/issue", json={"credential": open_badge(live.did)}, headers=live.auth
    )
    assert resp.status == 201, await resp.text()
    credential_id = (await resp.json())["verifiableCredential"]["id"]
    resp = await http.post("/claims", json={"credentialId": credential_id}, headers=live.auth)
    assert resp.status == 201, await resp.text()
    claim_link = (await resp.json())["claimLink"]
    token = live.path(claim_link).removeprefix("/claim/")
    return credential_id, token


async def test_access_log_holds_hashes_not_bearer_secrets(live: Live) -> None:
    secrets_seen: dict[str, str] = {}
    async with aiohttp.ClientSession(live.url) as http:
        _credential_id, token = await _issue_and_claim(http, live)
        secrets_seen["claim token"] = token

        page = await http.get(f"/claim/{token}", headers={"Accept": "text/html"})
        assert page.status == 200
        page_id = re.search(r'/c/([A-Za-z0-9_-]+)"', await page.text())
        assert page_id is not None
        links = await (await http.get(f"/claim/{token}", headers={"Accept": "application/json"})
                       ).json()  # fmt: skip
        exchange_url = links["lcw"]["exchangeUrl"]
        exchange_id = exchange_url.rsplit("/", 1)[1]
        secrets_seen["exchange id"] = exchange_id
        offer_url = links["oid4vci"]["credentialOfferUrl"]
        offer_id = offer_url.rsplit("/", 1)[1]
        secrets_seen["offer id"] = offer_id

        # the wallet's and the learner's requests, each carrying one of the secrets
        assert (await http.get(live.path(links["lcw"]["interactionUrl"]))).status == 200
        assert (await http.get(live.path(links["lcw"]["qrSvgUrl"]))).status == 200
        assert (await http.post(live.path(exchange_url), json={})).status == 200
        assert (await http.get(live.path(exchange_url), headers=live.auth)).status == 200
        offer = await (await http.get(live.path(offer_url))).json()
        code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"][
            "pre-authorized_code"
        ]
        secrets_seen["pre-authorized code"] = code
        granted = await http.post(
            "/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
                  "pre-authorized_code": code},
        )  # fmt: skip
        assert granted.status == 200, await granted.text()
        secrets_seen["access token"] = (await granted.json())["access_token"]
        shared = await http.get(f"/c/{page_id.group(1)}?claim={quote(token)}&all=1")
        assert shared.status == 200
        unknown = secrets.token_urlsafe(32)
        secrets_seen["unknown claim token"] = unknown
        assert (await http.get(f"/claim/{unknown}")).status == 404
        assert (await http.get(f"/claim/{unknown}", params={"code": "zz-secret-zz"})).status == 404
        secrets_seen["query code"] = "zz-secret-zz"

    await asyncio.sleep(0.2)  # the access line is written after the response
    text = live.server.log_text()
    for what, value in secrets_seen.items():
        assert value not in text, f"the {what} is in the log"
    entries = [r for r in live.server.log_records() if r.get("event") == "http.request"]
    paths = {(e["method"], e["path"], e.get("query")) for e in entries}
    assert ("GET", f"/claim/{short(token)}", None) in paths
    assert ("GET", f"/claim/{short(unknown)}", f"code={short('zz-secret-zz')}") in paths
    assert ("POST", f"/exchanges/{short(exchange_id)}", None) in paths
    assert ("GET", f"/exchanges/{short(exchange_id)}", None) in paths
    assert ("GET", f"/exchanges/{short(exchange_id)}/qr.svg", None) in paths
    assert ("GET", f"/interactions/{short(exchange_id)}", "iuv=1") in paths
    assert ("GET", f"/oid4vci/offers/{short(offer_id)}", None) in paths
    assert ("GET", f"/c/{page_id.group(1)}", f"claim={short(token)}&all=1") in paths
    # an operator holding the store can still tell which claim a log line is about
    assert hash_secret(token).startswith(short(token).removeprefix("sha256:"))


async def test_token_guarded_routes_get_no_cors(live: Live) -> None:
    async with aiohttp.ClientSession(live.url) as http:
        resp = await http.post(
            "/exchanges",
            json={"credential": open_badge(live.did, "CORS")},
            headers=live.auth,
        )
        assert resp.status == 201, await resp.text()
        path = live.path(resp.headers["Location"])

        # the issuer reading its exchange (read scope): same-origin only
        read = await http.get(path, headers={**ORIGIN, **live.auth})
        assert read.status == 200
        assert "Access-Control-Allow-Origin" not in read.headers
        pre_get = await http.options(path, headers={**ORIGIN, "Access-Control-Request-Method":
                                                    "GET"})  # fmt: skip
        assert pre_get.status != 204
        assert "Access-Control-Allow-Origin" not in pre_get.headers

        pre_delete = await http.options(
            path, headers={**ORIGIN, "Access-Control-Request-Method": "DELETE"}
        )  # no such route: no CORS either
        assert "Access-Control-Allow-Origin" not in pre_delete.headers

        # the wallet's POST to the same URL, and the public routes, stay cross-origin
        pre_post = await http.options(path, headers={**ORIGIN, "Access-Control-Request-Method":
                                                     "POST"})  # fmt: skip
        assert pre_post.status == 204
        assert pre_post.headers["Access-Control-Allow-Origin"] == "*"
        wallet = await http.post(path, json={}, headers=ORIGIN)
        assert wallet.status == 200
        assert wallet.headers["Access-Control-Allow-Origin"] == "*"
        qr = await http.get(path + "/qr.svg", headers=ORIGIN)
        assert qr.status == 200 and qr.headers["Access-Control-Allow-Origin"] == "*"


def test_every_log_line_is_json(live: Live) -> None:
    records = live.server.log_records()
    assert {"home.created", "token.created", "http.request"} <= {r["event"] for r in records}
    for record in records:
        if record["event"] != "http.request":
            assert {"time", "level", "logger", "message", "pid"} <= set(record)


# --- files --------------------------------------------------------------------------------------


def test_secret_files_of_a_served_sqlite_home_are_0600(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = LiveServer(
        ["--home", str(home), "--port", str(free_port())], tmp_path / "serve.log", umask=0o022
    )
    try:
        url = server.wait_ready()

        async def issue() -> None:
            async with aiohttp.ClientSession(url) as http:
                resp = await http.post(
                    "/credentials/issue",
                    json={"credential": open_badge(server.value("issuer DID:"))},
                    headers={"Authorization": f"Bearer {server.value('admin token')}"},
                )
                assert resp.status == 201, await resp.text()

        asyncio.run(issue())
        # while the store is open, SQLite's -wal and -shm files exist: owner only too
        assert mode(home) == 0o700
        for name in ("config.toml", "issuer-key.json", "store.sqlite3",
                     "store.sqlite3-wal", "store.sqlite3-shm"):  # fmt: skip
            assert mode(home / name) == 0o600, name
    finally:
        assert server.stop() == 0
    assert not list(home.glob(".*")), "nothing of the staged home is left"


def test_serving_an_older_home_makes_its_secret_files_0600(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = subprocess.run(cli("init", "--home", str(home)), capture_output=True, text=True,
                          umask=0o022)  # fmt: skip
    assert made.returncode == 0, made.stderr
    for name in ("config.toml", "issuer-key.json", "store.sqlite3"):
        assert mode(home / name) == 0o600, name
        os.chmod(home / name, 0o644)  # as homes made before this release were
    server = LiveServer(
        ["--home", str(home), "--port", str(free_port())], tmp_path / "serve.log", umask=0o022
    )
    try:
        server.wait_ready()
        for name in ("config.toml", "issuer-key.json", "store.sqlite3"):
            assert mode(home / name) == 0o600, name
        secured = {Path(e["message"].split()[0]).name for e in server.events("home.secured")}
        assert secured == {"config.toml", "issuer-key.json", "store.sqlite3"}
    finally:
        assert server.stop() == 0


async def test_config_with_a_database_password_is_0600(tmp_path: Path) -> None:
    async with pg_schema("vch_") as (admin, schema):
        split = urlsplit(PG_URL)
        password = "pw-" + secrets.token_hex(4)
        url = f"{split.scheme}://{split.username}:{password}@{split.hostname}:{split.port}" + (
            f"{split.path}?search_path={schema}"
        )
        home = tmp_path / "pg-home"
        made = await asyncio.to_thread(
            subprocess.run,
            cli("init", "--home", str(home), "--database-url", url),
            capture_output=True,
            text=True,
            umask=0o022,
        )
        assert made.returncode == 0, made.stderr
        assert password not in made.stdout  # the CLI shows the URL with the password masked
        assert json.loads(made.stdout)["store"].endswith(
            f"@{split.hostname}:{split.port}{split.path}?search_path={schema}"
        )
        assert password in (home / "config.toml").read_text()
        assert mode(home / "config.toml") == 0o600
        assert mode(home / "issuer-key.json") == 0o600
        assert mode(home) == 0o700
        assert parse_qs(urlsplit(url).query)["search_path"] == [schema]
        assert await admin.fetchval(f'SELECT count(*) FROM "{schema}".meta') == 1
