"""``vc-issuer claims create|revoke|list`` and ``vc-issuer offers create``; and the claim links a
batch award writes into its results CSV open working claim pages on a real server."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from vc_issuer.http import build_services, create_app
from vc_issuer.services.home import load_home, open_issuer
from vc_issuer.wallets.exchanges import qr_terminal

from ._helpers import in_home, ok, run

BASE = "https://badges.example.edu"


def test_claims_create_prints_link_and_qr_and_stores_only_a_hash(home: str, award_id: str) -> None:
    result = run("claims", "create", award_id, "--home", home, "--expires", "7d")
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    url = lines["claim link"].strip()
    assert url.startswith(f"{BASE}/claim/")
    assert qr_terminal(url) in result.stderr
    token = url.rsplit("/", 1)[1]
    records = in_home(home, lambda i: i.store.list_claims(credential_id=award_id))
    assert [r.id for r in records] == [lines["id"].strip()]
    assert records[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (records[0].expires_at - records[0].created_at).days == 7

    out = ok("claims", "create", award_id, "--home", home, "--json", "--no-qr")
    assert set(out) == {"id", "credentialId", "claimLink", "claimUrl", "expires"}
    assert out["claimUrl"] == out["claimLink"]  # the deprecated name of the same link
    listed = ok("claims", "list", award_id, "--home", home)
    assert {c["id"] for c in listed} == {out["id"], lines["id"].strip()}
    assert all("claimLink" not in c and "claimUrl" not in c for c in listed)  # not stored

    revoked = ok("claims", "revoke", out["id"], "--home", home)
    assert revoked["id"] == out["id"] and revoked["revoked"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("claims", "create", "urn:uuid:nope"), "NOT_FOUND"),
        (("claims", "create", "X", "--expires", "forever"), "INVALID_TTL"),
        (("claims", "revoke", "nope-nope"), "NOT_FOUND"),
        (("offers", "create", "urn:uuid:nope"), "NOT_FOUND"),
    ],
)
def test_errors(home: str, args: tuple[str, ...], code: str) -> None:
    result = run(*args, "--home", home)
    assert result.exit_code == 2 and code in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("tx_code", [False, True])
def test_offers_create(home: str, award_id: str, tx_code: bool) -> None:
    args = ["offers", "create", award_id, "--home", home] + (["--tx-code"] if tx_code else [])
    result = run(*args)
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    uri = lines["offer URI"].strip()
    assert uri.startswith("openid-credential-offer://?credential_offer_uri=")
    ref = parse_qs(urlsplit(uri).query)["credential_offer_uri"][0]
    assert ref == lines["offer URL"].strip() and ref.startswith(f"{BASE}/oid4vci/offers/")
    assert qr_terminal(uri) in result.stderr
    assert ("PIN" in lines) is tx_code
    if tx_code:
        assert lines["PIN"].split()[0].isdigit()
    out = ok("offers", "create", award_id, "--home", home, "--json", "--no-qr")
    assert out["credentialId"] == award_id and out["credentialOfferRefUri"].startswith(
        "openid-credential-offer://"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_batch_results_claim_links_open_claim_pages(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    h = str(tmp_path / "home")
    assert run("init", "--home", h, "--base-url", base, "--name", "Example U").exit_code == 0
    badge = ok("achievements", "create", "--home", h, "--name", "Python 101",
               "--description", "Writes small programs.", "--criteria", "Pass.")  # fmt: skip
    source = tmp_path / "people.csv"
    source.write_text("email,name\n" + "".join(f"p{i}@example.edu,P{i}\n" for i in range(5)))
    out = tmp_path / "results.csv"
    result = run("award", "--home", h, badge["key"], "--csv", str(source), "--out", str(out),
                 "--no-progress", "--workers", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["status"] for r in rows] == ["issued"] * 5
    assert all(r["claim_link"].startswith(f"{base}/claim/") for r in rows)

    async def visit() -> None:
        issuer = await open_issuer(load_home(Path(h)))
        client = TestClient(
            TestServer(create_app(build_services(issuer)), host="127.0.0.1", port=port)
        )
        await client.start_server()
        try:
            for row in rows:
                path = row["claim_link"][len(base) :]
                resp = await client.get(path, headers={"Accept": "application/json"})
                assert resp.status == 200, await resp.text()
                links = await resp.json()
                assert links["credentialId"] == row["credential_id"]
                assert links["badgeName"] == "Python 101"
                html = await (await client.get(path)).text()
                assert html.count("<svg") == 2 and "openid-credential-offer://" in html
        finally:
            await client.close()
            await issuer.close()

    asyncio.run(visit())
