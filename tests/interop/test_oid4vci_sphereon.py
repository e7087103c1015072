"""A real wallet client against our OpenID4VCI issuer: @sphereon/oid4vci-client (npm, pinned in
package.json) runs the pre-authorized code flow from the offer URI (by value and by reference),
with a tx_code, against an aiohttp server on 127.0.0.1; the holder key is a fresh Ed25519 key in
node, named by its did:key URL (kid) or by its public JWK. The client speaks draft 15 of
OpenID4VCI (``version`` 1015), whose wire shapes for this flow are those of 1.0: metadata with
``credential_configurations_supported`` and ``nonce_endpoint``, ``/token`` with ``tx_code``,
``/nonce``, a ``proof`` (``openid4vci-proof+jwt``) and a ``credentials`` array in the response.

Skipped only with ``VC_ISSUER_SKIP_INTEROP=1`` on a machine without Node.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from vc_issuer.http import build_services, create_app
from vc_issuer.http.state import STATE_KEY
from vc_issuer.services.home import init_home, open_issuer
from vc_issuer.services.issuer import Issuer
from vc_issuer.services.verifier import verify, verify_credential
from vc_issuer.wallets.oid4vci import OID4VCIService

from ._node import HERE, needs_node

WALLET_JS = HERE / "oid4vci_wallet.mjs"
PKG = "@sphereon/oid4vci-client"
V2 = "https://www.w3.org/ns/credentials/v2"
OB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


_require_node = needs_node("OpenID4VCI", PKG)


@dataclass
class Server:
    issuer: Issuer
    service: OID4VCIService
    base_url: str


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    base_url = f"http://127.0.0.1:{port}"
    issuer = await open_issuer(init_home(tmp_path / "home", base_url=base_url))
    app = create_app(build_services(issuer, allow_private=True))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Server(issuer, app[STATE_KEY].oid4vci, base_url)
    finally:
        await runner.cleanup()
        await issuer.close()


def badge() -> dict[str, Any]:
    """An unsigned Open Badge, its subject not bound to anybody yet."""
    return {
        "@context": [V2, OB],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Data Literacy",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "urn:uuid:0d5d0f5e-2f0e-4f3e-9a51-3f7d3c6a9b10",
                "type": ["Achievement"],
                "name": "Data Literacy",
                "description": "Cleaned, charted and explained a public data set.",
                "criteria": {"narrative": "Publish the final notebook."},
            },
        },
    }


async def _award(issuer: Issuer) -> dict[str, Any]:
    return await issuer.issue(badge(), status_purposes=["revocation"])


async def _wallet(*args: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(WALLET_JS),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(HERE),
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()[-4000:]
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("by_reference", "tx_code", "use_jwk"),
    [(False, True, False), (True, False, True)],
    ids=["by_value-tx_code-kid", "by_reference-no_tx_code-jwk"],
)
async def test_sphereon_wallet_claims_a_badge(
    server: Server, by_reference: bool, tx_code: bool, use_jwk: bool
) -> None:
    award = await _award(server.issuer)
    created = await server.service.create_offer(str(award["id"]), tx_code=tx_code)
    uri = created.offer_ref_uri if by_reference else created.offer_uri
    args = [uri] + ([created.tx_code] if created.tx_code else []) + (["--jwk"] if use_jwk else [])
    result = await _wallet(*args)

    assert result["version"] == 1015
    assert result["issuer"] == server.base_url
    assert result["configurationId"] == "OpenBadgeCredential_ldp_vc"
    credentials = result["response"]["credentials"]
    assert len(credentials) == 1
    vc = credentials[0]["credential"]
    assert vc["credentialSubject"]["id"] == result["holder"]
    assert vc["credentialSubject"]["achievement"]["name"] == "Data Literacy"
    assert vc["id"] != award["id"]
    verdict = await verify_credential(vc, loader=server.issuer.loader, allow_private_hosts=True)
    assert verdict.verified, verdict

    # the offer was single use: a second wallet run with the same URI is refused at /token
    proc = await asyncio.create_subprocess_exec(
        "node", str(WALLET_JS), *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=str(HERE),
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode != 0
    text = err.decode()
    if by_reference:  # the offer URL is gone
        assert "404" in text or "not found" in text.lower(), text[-2000:]
    else:  # the code was redeemed
        assert "access token" in text and "status: 400" in text, text[-2000:]


# --- jwt_vc_json: the holder's key and proof made with npm jose, the credential a VC-JWT ---------


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _tampered(token: str) -> str:
    """The same header and signature over a payload whose achievement name changed."""
    header, _payload, signature = token.split(".")
    claims = _claims(token)
    claims["vc"]["credentialSubject"]["achievement"]["name"] = "Data Wizardry"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


@pytest.mark.parametrize(
    ("alg", "use_jwk"),
    [("ES256", False), ("ES256", True), ("EdDSA", False), ("EdDSA", True)],
    ids=["ES256-kid", "ES256-jwk", "EdDSA-kid", "EdDSA-jwk"],
)
async def test_sphereon_wallet_with_a_jose_key_gets_a_jwt_vc_json(
    server: Server, alg: str, use_jwk: bool
) -> None:
    from vc_issuer.core import jose as ours

    from .test_jose_interop import run_jose

    award = await _award(server.issuer)
    created = await server.service.create_offer(str(award["id"]))
    args = [created.offer_uri, "--alg", alg, "--config", "OpenBadgeCredential_jwt_vc_json"]
    result = await _wallet(*args, *(["--jwk"] if use_jwk else []))

    holder = result["holder"]
    assert holder.startswith("did:key:zDn" if alg == "ES256" else "did:key:z6Mk")
    assert result["configurationId"] == "OpenBadgeCredential_jwt_vc_json"
    [item] = result["response"]["credentials"]
    token = item["credential"]
    assert isinstance(token, str)  # the compact JWS, as jwt_vc_json carries it
    header = ours.parse_jws(token).header
    assert header == {"alg": "EdDSA", "typ": "JWT", "kid": server.issuer.key.verification_method}
    claims = _claims(token)
    assert claims["sub"] == holder and claims["iss"] == server.issuer.did
    vc = claims["vc"]
    assert vc["@context"][0] == "https://www.w3.org/2018/credentials/v1"
    assert vc["credentialSubject"]["id"] == holder
    assert claims["jti"] == vc["id"] != award["id"]
    assert vc["credentialStatus"] == award["credentialStatus"]  # one bit revokes both

    issuer_jwk = ours.public_jwk(ours.import_multikey(server.issuer.key.public_key_multibase))
    good, bad = run_jose(
        [
            {"op": "verify", "token": t, "jwk": issuer_jwk, "typ": "JWT",
             "issuer": server.issuer.did, "subject": holder}
            for t in (token, _tampered(token))
        ]
    )  # fmt: skip
    assert good["verified"] is True, good
    assert bad["verified"] is False and bad["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
    mine = await verify(token, allow_private_hosts=True)
    assert mine.verified, mine.to_dict()
    assert mine.format == "vc-jwt"
    tampered = await verify(_tampered(token), allow_private_hosts=True)
    assert not tampered.verified
    assert {c.code for c in tampered.checks if not c.passed} == {"PROOF_VERIFICATION_ERROR"}

    # the copy shares the award's status entry: revoking the award revokes it (the CLI's
    # verifier fetches the status list from the server)
    assert (await _cli_verify(token))["verified"] is True
    await server.issuer.revoke(str(award["id"]))
    revoked = await _cli_verify(token)
    assert revoked["verified"] is False
    assert {c["code"] for c in revoked["checks"] if not c["passed"]} == {"CREDENTIAL_REVOKED"}


async def _cli_verify(token: str) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("vc-issuer")
    proc = await asyncio.create_subprocess_exec(
        str(exe), "verify", "--allow-private-hosts", "-", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(token.encode()), timeout=120)
    assert proc.returncode in (0, 1), err.decode()
    return dict(json.loads(out))
