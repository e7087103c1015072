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
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from vc_issuer.http import create_app
from vc_issuer.http.oid4vci import OID4VCI_KEY
from vc_issuer.services.home import init_home, open_issuer
from vc_issuer.services.issuer import Issuer
from vc_issuer.services.verifier import verify_credential
from vc_issuer.wallets.oid4vci import OID4VCIService

from ._node import require_node

HERE = Path(__file__).resolve().parent
WALLET_JS = HERE / "oid4vci_wallet.mjs"
PKG = "@sphereon/oid4vci-client"
V2 = "https://www.w3.org/ns/credentials/v2"
OB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


@pytest.fixture(scope="module", autouse=True)
def _require_node() -> None:
    require_node("OpenID4VCI", PKG)


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
    app = create_app(issuer, allow_private=True)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Server(issuer, app[OID4VCI_KEY], base_url)
    finally:
        await runner.cleanup()
        await issuer.close()


async def _award(issuer: Issuer) -> dict[str, Any]:
    return await issuer.issue(
        {
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
        },
        status_purposes=["revocation"],
    )


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
