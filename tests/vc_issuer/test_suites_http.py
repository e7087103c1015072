"""The VC API verifier takes every cryptosuite: POST /credentials/verify on a real server answers
200 for good ECDSA, JCS and selective-disclosure credentials, and 422 problem+json with the
precise code for a bad signature encoding or a key of the wrong type."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import base58
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from did_methods.jwk import create_did_jwk
from vc_issuer.core.keys import Ed25519Key, P256Key, P384Key, SigningKey
from vc_issuer.core.proofs import derive, sign
from vc_issuer.http import build_services, create_app
from vc_issuer.services.home import init_home, open_issuer

from ._helpers import FIX, load

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    issuer = await open_issuer(init_home(tmp_path / "home"))
    client: Client = TestClient(TestServer(create_app(build_services(issuer)), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await issuer.close()


def badge(key: SigningKey, issuer: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = load(FIX / "interop" / "vc2-ob303-eddsa-rdfc-2022.unsigned.json")
    doc["issuer"]["id"] = issuer or key.did
    del doc["credentialStatus"]  # its list lives on example.com
    return doc


async def verify(client: Client, credential: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/credentials/verify", json={"verifiableCredential": credential})
    body: dict[str, Any] = await resp.json()
    return resp.status, body


@pytest.mark.parametrize(
    ("suite", "key_class"),
    [
        ("eddsa-jcs-2022", Ed25519Key),
        ("ecdsa-rdfc-2019", P256Key),
        ("ecdsa-rdfc-2019", P384Key),
        ("ecdsa-jcs-2019", P256Key),
        ("ecdsa-jcs-2019", P384Key),
    ],
)
async def test_every_suite_verifies_over_http(
    client: Client, suite: str, key_class: type[SigningKey]
) -> None:
    key = key_class.generate()  # type: ignore[attr-defined]
    status, body = await verify(client, sign(badge(key), key, suite=suite))
    assert (status, body["verified"]) == (200, True), body


async def test_a_selective_disclosure_verifies_over_http(client: Client) -> None:
    key = P256Key.generate()
    signed = sign(badge(key), key, suite="ecdsa-sd-2023", mandatory_pointers=["/issuer"])
    derived = derive(signed, ["/credentialSubject/achievement/name"])
    status, body = await verify(client, derived)
    assert (status, body["verified"]) == (200, True), body
    derived["credentialSubject"]["achievement"]["name"] = "Leadership"
    status, body = await verify(client, derived)
    assert (status, body["code"]) == (422, "PROOF_VERIFICATION_ERROR")


async def test_a_did_jwk_issuer_over_http(client: Client) -> None:
    key = P384Key.generate()
    did = create_did_jwk(key.to_jwk())
    key = P384Key(secret=key.secret, public_key=key.public_key, id=f"{did}#0", controller=did)
    status, body = await verify(client, sign(badge(key, did), key, suite="ecdsa-jcs-2019"))
    assert (status, body["verified"]) == (200, True), body


async def test_a_der_signature_is_a_422_with_its_code(client: Client) -> None:
    key = P256Key.generate()
    signed = sign(badge(key), key, suite="ecdsa-rdfc-2019")
    raw = base58.b58decode(signed["proof"]["proofValue"][1:])
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    signed["proof"]["proofValue"] = "z" + base58.b58encode(der).decode()
    status, body = await verify(client, signed)
    assert (status, body["code"], body["verified"]) == (422, "INVALID_SIGNATURE_ENCODING", False)


async def test_a_key_of_the_wrong_type_is_a_422_with_its_code(client: Client) -> None:
    key = P256Key.generate()
    signed = sign(badge(key), key, suite="ecdsa-jcs-2019")
    wrong = copy.deepcopy(signed)
    wrong["proof"]["cryptosuite"] = "eddsa-jcs-2022"  # an Ed25519 suite, a P-256 key
    status, body = await verify(client, wrong)
    assert (status, body["code"]) == (422, "KEY_TYPE_MISMATCH")
