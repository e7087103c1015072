"""A did:web issuer with an Ed25519, a P-256 and a P-384 key behind a real server: the hosted DID
document lists every key, the VC API issue options pick the suite and the JWT alg (hence the
key), awards can be JWTs, and whatever is issued verifies through the server's own did:web
document. A suite the home has no key for is NO_KEY_FOR_SUITE (422)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from vc_issuer.core import jose
from vc_issuer.http import build_services, create_app, create_token
from vc_issuer.services.home import add_key, init_home, load_home, open_issuer
from vc_issuer.services.issuer import Issuer

from .conftest import V2, free_port
from .test_achievements_api import design

OB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


@dataclass
class Web:
    client: TestClient[web.Request, web.Application]
    issuer: Issuer
    did: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def issue(self, status: int = 201, **options: Any) -> Any:
        credential = {
            "@context": [V2],
            "type": ["VerifiableCredential"],
            "issuer": self.did,
            "credentialSubject": {"id": "did:example:alice", "name": "Alice"},
        }
        resp = await self.client.post(
            "/credentials/issue",
            json={"credential": credential, "options": options},
            headers=self.auth,
        )
        assert resp.status == status, await resp.text()
        return await resp.json()

    async def verify(self, credential: Any) -> dict[str, Any]:
        resp = await self.client.post(
            "/credentials/verify", json={"verifiableCredential": credential}
        )
        report: dict[str, Any] = await resp.json()
        return report


async def _serve(tmp_path: Path, *key_types: str) -> AsyncIterator[Web]:
    port = free_port()
    home = tmp_path / "home"
    init_home(home, did_web=f"127.0.0.1%3A{port}", base_url=f"http://127.0.0.1:{port}")
    for key_type in key_types:
        add_key(load_home(home), key_type)
    issuer = await open_issuer(load_home(home))
    client: TestClient[web.Request, web.Application] = TestClient(
        TestServer(
            create_app(build_services(issuer, allow_private=True)), host="127.0.0.1", port=port
        )
    )
    await client.start_server()
    token, _ = await create_token(issuer.store, "keys-test", ["issue"])
    try:
        yield Web(client, issuer, issuer.did, token)
    finally:
        await client.close()
        await issuer.close()


@pytest.fixture
async def three_keys(tmp_path: Path) -> AsyncIterator[Web]:
    async for served in _serve(tmp_path, "p256", "p384"):
        yield served


@pytest.fixture
async def ed25519_only(tmp_path: Path) -> AsyncIterator[Web]:
    async for served in _serve(tmp_path):
        yield served


async def test_the_did_web_document_lists_every_key(three_keys: Web) -> None:
    resp = await three_keys.client.get("/.well-known/did.json")
    assert resp.status == 200
    document = await resp.json()
    did = three_keys.did
    ids = [f"{did}#key-1", f"{did}#key-2", f"{did}#key-3"]
    assert [vm["id"] for vm in document["verificationMethod"]] == ids
    assert document["verificationMethod"][0]["publicKeyMultibase"].startswith("z6Mk")
    assert document["verificationMethod"][1]["publicKeyMultibase"].startswith("zDn")
    assert document["verificationMethod"][2]["publicKeyMultibase"].startswith("z82")
    assert {vm["type"] for vm in document["verificationMethod"]} == {"Multikey"}
    assert document["assertionMethod"] == ids


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({}, "key-1"),
        ({"cryptosuite": "eddsa-jcs-2022"}, "key-1"),
        ({"type": "DataIntegrityProof", "cryptosuite": "ecdsa-rdfc-2019"}, "key-2"),
        ({"cryptosuite": "ecdsa-jcs-2019", "verificationMethod": "p384"}, "key-3"),
        ({"cryptosuite": "ecdsa-sd-2023"}, "key-2"),
    ],
    ids=["default", "eddsa-jcs-2022", "ecdsa-rdfc-2019", "ecdsa-jcs-2019-p384", "ecdsa-sd-2023"],
)
async def test_vc_api_cryptosuite_picks_the_key(
    three_keys: Web, options: dict[str, Any], fragment: str
) -> None:
    signed = (await three_keys.issue(**options))["verifiableCredential"]
    assert signed["proof"]["verificationMethod"] == f"{three_keys.did}#{fragment}"
    if options.get("cryptosuite") != "ecdsa-sd-2023":  # a base proof is the holder's to derive
        report = await three_keys.verify(signed)
        assert report["verified"] is True, report


@pytest.mark.parametrize(
    ("alg", "fragment"), [(None, "key-1"), ("ES256", "key-2"), ("ES384", "key-3")]
)
async def test_vc_api_jwt_alg_picks_the_key(
    three_keys: Web, alg: str | None, fragment: str
) -> None:
    options = {"format": "jwt", **({"alg": alg} if alg else {})}
    envelope = (await three_keys.issue(**options))["verifiableCredential"]
    header = jose.parse_jws(jose.enveloped_token(envelope)).header
    assert header["alg"] == (alg or "EdDSA")
    assert header["kid"] == f"{three_keys.did}#{fragment}"
    report = await three_keys.verify(envelope)
    assert report["verified"] is True, report


async def test_vc_api_asks_for_a_key_the_home_lacks(ed25519_only: Web) -> None:
    for options, hint in (
        ({"cryptosuite": "ecdsa-rdfc-2019"}, "keys generate --type p256"),
        ({"format": "jwt", "alg": "ES384"}, "keys generate --type p384"),
    ):
        problem = await ed25519_only.issue(422, **options)
        assert problem["code"] == "NO_KEY_FOR_SUITE", problem
        assert hint in problem["detail"]
    problem = await ed25519_only.issue(400, cryptosuite="ecdsa-rdfc-2019", alg="ES256")
    assert problem["code"] == "MALFORMED_VALUE_ERROR"  # alg is for JWTs only
    problem = await ed25519_only.issue(400, format="jwt", alg="RS256")
    assert problem["code"] == "MALFORMED_VALUE_ERROR"


async def test_award_api_issues_a_jwt_award(three_keys: Web) -> None:
    resp = await three_keys.client.post("/achievements", json=design(), headers=three_keys.auth)
    assert resp.status == 201, await resp.text()
    key = (await resp.json())["key"]
    body = {"recipient": {"email": "ada@example.com", "name": "Ada"},
            "options": {"format": "jwt", "alg": "ES256"}}  # fmt: skip
    resp = await three_keys.client.post(f"/achievements/{key}/awards", json=body,
                                        headers=three_keys.auth)  # fmt: skip
    assert resp.status == 201, await resp.text()
    out = await resp.json()
    envelope = out["verifiableCredential"]
    assert envelope["type"] == "EnvelopedVerifiableCredential"
    token = jose.enveloped_token(envelope)
    assert jose.parse_jws(token).header["kid"] == f"{three_keys.did}#key-2"
    assert jose.credential_id(envelope) == out["credentialId"]
    report = await three_keys.verify(envelope)
    assert report["verified"] is True, report
    page_path = urlsplit(out["pageUrl"]).path
    page = await three_keys.client.get(page_path)
    assert page.status == 200

    async def verify_baked() -> dict[str, Any]:
        png = await three_keys.client.get(page_path + "/badge.png")
        assert png.status == 200
        resp = await three_keys.client.post("/credentials/verify", data=await png.read(),
                                            headers={"Content-Type": "image/png"})  # fmt: skip
        report: dict[str, Any] = await resp.json()
        return report

    baked = await verify_baked()  # the baked PNG carries the token
    assert baked["verified"] is True and baked["format"] == "vc-jose", baked
    await three_keys.issuer.revoke(out["credentialId"])
    revoked = await verify_baked()
    assert revoked["verified"] is False
    assert [c["code"] for c in revoked["checks"] if not c["passed"]] == ["CREDENTIAL_REVOKED"]
    again = await three_keys.client.post(f"/achievements/{key}/awards", json=body,
                                         headers=three_keys.auth)  # fmt: skip
    assert again.status == 200 and (await again.json())["credentialId"] == out["credentialId"]
