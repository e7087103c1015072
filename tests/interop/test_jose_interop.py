"""VC-JWT interop with a second JOSE implementation, panva's ``jose`` (npm, pinned in
package.json), run with node as a subprocess (issue 11, item 7 for JOSE).

Both directions: a VC-JWT our Issuer issues (VC 2.0 ``vc+jwt`` and VC 1.1 ``vc`` claim) verifies
in ``jose.jwtVerify`` (signature, ``typ``, ``iss``, ``sub``, ``nbf``); tokens ``jose`` signs
(EdDSA, ES256 and ES384 with did:key kids, RS256 and PS256 with keys the verifier trusts)
verify in ours. Changing any claim makes both reject. EdDSA is deterministic, so both stacks
produce the identical token for the same header and payload.

Needs ``npm ci --prefix tests/interop``; without it these tests fail (see ``_node.py``).
"""

from __future__ import annotations

import base64
import copy
import json
import warnings
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey, RSAKey

from vc_issuer.core import jose
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.services.issuer import Issuer
from vc_issuer.services.verifier import VerificationResult, verify
from vc_issuer.store import open_store

from ._node import HERE, needs_node, run_node

JOSE_JS = HERE / "jose.mjs"
V1 = "https://www.w3.org/2018/credentials/v1"
V2 = "https://www.w3.org/ns/credentials/v2"
OB3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
NOW = datetime(2026, 1, 15, tzinfo=UTC)


_require_node = needs_node("jose", "jose")


def run_jose(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return run_node(JOSE_JS, requests)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def ed25519_jwk(key: Ed25519Key, *, private: bool) -> dict[str, Any]:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(key.public_key)}
    return {**jwk, "d": b64(key.seed)} if private else jwk


def did_key_of_ec(key: ECKey) -> str:
    """did:key of a P-256 / P-384 key: multicodec 0x1200 / 0x1201 + compressed point."""
    native = key.public_key
    assert isinstance(native, ec.EllipticCurvePublicKey)
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    point = native.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    prefix = b"\x80\x24" if native.curve.name == "secp256r1" else b"\x81\x24"
    return "did:key:z" + base58.b58encode(prefix + point).decode("ascii")


def badge(issuer: str, *, version: str = "2.0") -> dict[str, Any]:
    cred: dict[str, Any] = {
        "@context": [V2, OB3],
        "id": "urn:uuid:6c1b2e0a-3f4d-4e5a-9b8c-7d6e5f4a3b2c",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer, "type": ["Profile"], "name": "Interop University"},
        "validFrom": "2025-09-01T00:00:00Z",
        "validUntil": "2030-09-01T00:00:00Z",
        "name": "Interop Badge",
        "credentialSubject": {
            "id": "did:example:learner",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://interop.example/achievements/1",
                "type": ["Achievement"],
                "name": "Two stacks agree",
                "description": "Signed by one JOSE library, verified by another.",
                "criteria": {"narrative": "Round trip."},
            },
        },
    }
    if version == "1.1":
        cred["@context"] = [V1, "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json"]
        cred["issuanceDate"] = cred.pop("validFrom")
        cred["expirationDate"] = cred.pop("validUntil")
    return cred


@pytest.fixture
def key() -> Ed25519Key:
    return Ed25519Key.from_seed(bytes(range(40, 72)))


@pytest.fixture
async def issuer(tmp_path: Path, key: Ed25519Key) -> AsyncIterator[Issuer]:
    store = await open_store(tmp_path / "store.sqlite3")
    async with Issuer(
        key=key,
        did=key.did,
        store=store,
        base_url="https://interop.example",
        owns_store=True,
        now=lambda: NOW,
    ) as iss:
        yield iss


def failed(result: VerificationResult) -> dict[str, str | None]:
    return {c.name: c.code for c in result.checks if not c.passed}


def assert_rejected(result: VerificationResult, name: str) -> None:
    """Not verified, and the signature never passes: it fails (or, for a changed issuer, no
    key of the named issuer is found), unless the change already broke the credential's shape
    or envelope (a changed @context), which is checked first."""
    assert not result.verified, name
    codes = failed(result)
    if "structure" in codes or "format" in codes:
        return
    assert "proof" in codes, (name, codes)
    if not name.startswith(("iss", "issuer")):
        assert codes["proof"] == "PROOF_VERIFICATION_ERROR", (name, codes)


def tamper_variants(token: str) -> list[tuple[str, str]]:
    """The token with each scalar of its payload changed in turn (signature kept)."""
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    out: list[tuple[str, str]] = []

    def walk(node: Any, path: list[Any]) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            if isinstance(v, dict | list):
                walk(v, [*path, k])
                continue
            changed = copy.deepcopy(body)
            target = changed
            for step in path:
                target = target[step]
            target[k] = v + 1 if isinstance(v, int) and not isinstance(v, bool) else f"{v}!"
            name = ".".join(str(p) for p in [*path, k])
            out.append((name, f"{header}.{b64(json.dumps(changed).encode())}.{signature}"))

    walk(body, [])
    return out


@pytest.mark.parametrize("version", ["2.0", "1.1"])
async def test_ours_verifies_in_jose(issuer: Issuer, key: Ed25519Key, version: str) -> None:
    enveloped = await issuer.issue(badge(key.did, version=version), secured_as="jwt", status=False)
    token = jose.enveloped_token(enveloped)
    typ = "vc+jwt" if version == "2.0" else "JWT"
    request = {
        "op": "verify",
        "jwk": ed25519_jwk(key, private=False),
        "typ": typ,
        "issuer": key.did,
        "subject": "did:example:learner",
        "now": "2026-01-15T00:00:00Z",
    }
    variants = tamper_variants(token)
    assert len(variants) > 15
    answers = run_jose(
        [{**request, "token": token}] + [{**request, "token": t} for _, t in variants]
    )
    assert answers[0]["verified"], answers[0]
    assert answers[0]["protectedHeader"]["kid"] == key.verification_method
    assert answers[0]["payload"]["jti"] == "urn:uuid:6c1b2e0a-3f4d-4e5a-9b8c-7d6e5f4a3b2c"
    ours = await verify(token, now=lambda: NOW)
    assert ours.verified, ours.to_dict()
    for (name, tampered), theirs in zip(variants, answers[1:], strict=True):
        assert not theirs["verified"], name
        assert theirs["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED", (name, theirs)
        result = await verify(tampered, now=lambda: NOW)
        assert_rejected(result, name)


async def test_both_stacks_make_the_identical_eddsa_token(key: Ed25519Key) -> None:
    ours = jose.sign_credential_jwt(badge(key.did), key, issued_at=NOW)
    header = jose.parse_jws(ours).header
    payload = jose.parse_jws(ours).payload
    [theirs] = run_jose(
        [{"op": "sign", "payload": payload, "header": header,
          "jwk": ed25519_jwk(key, private=True)}]
    )  # fmt: skip
    assert theirs["token"] == ours


def _ec(curve: str) -> ECKey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ECKey.generate_key(curve)


def _rsa() -> RSAKey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RSAKey.generate_key(2048)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "ES384", "RS256", "PS256"])
async def test_jose_signed_verifies_in_ours(alg: str, key: Ed25519Key) -> None:
    trusted: list[dict[str, Any]] = []
    if alg == "EdDSA":
        did, private = key.did, ed25519_jwk(key, private=True)
        kid = key.verification_method
    elif alg in ("ES256", "ES384"):
        ec_key = _ec("P-256" if alg == "ES256" else "P-384")
        did = did_key_of_ec(ec_key)
        kid = f"{did}#{did.removeprefix('did:key:')}"
        private = dict(ec_key.as_dict(private=True))
    else:
        rsa = _rsa()
        did = "https://interop.example/issuers/rsa"
        kid = "rsa-1"
        private = dict(rsa.as_dict(private=True))
        public = dict(rsa.as_dict(private=False))
        trusted = [
            {"id": f"{did}#{kid}", "type": "JsonWebKey", "controller": did, "publicKeyJwk": public}
        ]
    cred = badge(did)
    payload = {**cred, **jose.credential_claims(cred), "iat": 1768435200}
    header = {"alg": alg, "typ": "vc+jwt", "kid": kid}
    [signed] = run_jose([{"op": "sign", "payload": payload, "header": header, "jwk": private}])
    token = signed["token"]
    result = await verify(token, now=lambda: NOW, trusted_keys=trusted)
    assert result.verified, result.to_dict()
    assert result.format == "vc-jose"
    for name, tampered in tamper_variants(token)[:12]:
        bad = await verify(tampered, now=lambda: NOW, trusted_keys=trusted)
        assert_rejected(bad, name)


async def test_jose_refuses_what_ours_refuses(key: Ed25519Key) -> None:
    """An expired VC-JWT: jose (exp) and ours (validity) both say no."""
    cred = badge(key.did)
    cred["validUntil"] = "2025-12-31T00:00:00Z"
    token = jose.sign_credential_jwt(cred, key, issued_at=NOW)
    [theirs] = run_jose(
        [{"op": "verify", "token": token, "jwk": ed25519_jwk(key, private=False),
          "typ": "vc+jwt", "now": "2026-01-15T00:00:00Z"}]
    )  # fmt: skip
    assert not theirs["verified"] and theirs["code"] == "ERR_JWT_EXPIRED"
    ours = await verify(token, now=lambda: NOW)
    assert failed(ours) == {"validity": "VALIDITY_PERIOD_ERROR"}
