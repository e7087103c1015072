"""Credentials an issuer home signs with its P-256 key verify in other stacks (issue 11, keys):
an ecdsa-rdfc-2019 credential in Digital Bazaar's cryptosuite, an ES256 VC-JWT in panva's
``jose``; a changed claim fails in both and in ours. The home is a real one (``init_home`` with
``key_type="p256"``, opened by ``open_issuer``): the issuer picks the key per suite and alg.
Reuses the node harnesses of test_vcjs_interop.py and test_jose_interop.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.core import jose
from vc_issuer.services.home import init_home, open_issuer
from vc_issuer.services.issuer import Issuer
from vc_issuer.services.verifier import verify, verify_credential

from .test_jose_interop import _require_node as _require_jose  # noqa: F401
from .test_jose_interop import run_jose
from .test_oid4vci_sphereon import badge as unbound_badge
from .test_vcjs_interop import run_vcjs


def badge() -> dict[str, Any]:
    cred = unbound_badge()
    cred["credentialSubject"]["id"] = "did:example:learner"
    return cred


@pytest.fixture
async def p256_issuer(tmp_path: Path) -> AsyncIterator[Issuer]:
    issuer = await open_issuer(init_home(tmp_path / "home", key_type="p256"))
    try:
        yield issuer
    finally:
        await issuer.close()


def _tamper(token: str) -> str:
    """The same header and signature over a payload whose achievement name changed."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["achievement"]["name"] = "Data Wizardry"
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


async def test_p256_home_ecdsa_rdfc_2019_verifies_in_digital_bazaar(p256_issuer: Issuer) -> None:
    signed = await p256_issuer.issue(badge(), status=False)
    assert signed["proof"]["cryptosuite"] == "ecdsa-rdfc-2019"  # the p256 home's default suite
    assert signed["proof"]["verificationMethod"].startswith("did:key:zDn")
    tampered = json.loads(json.dumps(signed))
    tampered["credentialSubject"]["achievement"]["name"] = "Data Wizardry"
    theirs, theirs_tampered = run_vcjs("verify", [{"credential": signed},
                                                  {"credential": tampered}])  # fmt: skip
    assert theirs["verified"] is True, theirs.get("error")
    assert theirs_tampered["verified"] is False
    assert (await verify_credential(signed)).verified
    assert not (await verify_credential(tampered)).verified


async def test_p256_home_es256_jwt_verifies_in_jose(p256_issuer: Issuer) -> None:
    envelope = await p256_issuer.issue(badge(), status=False, secured_as="jwt")
    token = jose.enveloped_token(envelope)
    header = jose.parse_jws(token).header
    assert header["alg"] == "ES256" and header["typ"] == "vc+jwt"
    assert header["kid"] == p256_issuer.key.verification_method
    public = jose.public_jwk(jose.import_multikey(p256_issuer.key.public_key_multibase))
    ok, bad = run_jose(
        [
            {"op": "verify", "token": t, "jwk": public, "typ": "vc+jwt",
             "issuer": p256_issuer.did, "subject": "did:example:learner"}
            for t in (token, _tamper(token))
        ]
    )  # fmt: skip
    assert ok["verified"] is True, ok
    assert ok["payload"]["credentialSubject"]["achievement"]["name"] == "Data Literacy"
    assert bad["verified"] is False and bad["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"
    assert (await verify(token)).verified
    ours_bad = await verify(_tamper(token))
    assert not ours_bad.verified
    assert {c.code for c in ours_bad.checks if not c.passed} == {"PROOF_VERIFICATION_ERROR"}
