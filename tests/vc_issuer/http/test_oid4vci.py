"""OpenID4VCI pre-authorized code flow over HTTP against a real server on 127.0.0.1.

The holder is written here: it parses the offer URI, reads the metadata, redeems the code at
/token, fetches a c_nonce and signs the ``openid4vci-proof+jwt`` key proof with joserfc over an
Ed25519 key (core.keys.Ed25519Key), exactly as a wallet would. The issued credential is then
verified through the server's own /credentials/verify.
"""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jws
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey, OKPKey

from vc_issuer.core import jose
from vc_issuer.core.keys import Ed25519Key, P256Key, P384Key
from vc_issuer.wallets.oid4vci import (
    CONFIGURATION_ID,
    CONFIGURATIONS,
    JWT_CONFIGURATION_ID,
    PRE_AUTHORIZED_GRANT,
    bind_credential,
    verify_key_proof,
)

from ..hostile._live_server import open_badge
from .conftest import V2, Authed, served

OB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
FORM = "application/x-www-form-urlencoded"


class Env(Authed):
    async def award(self) -> str:
        signed = await self.issuer.issue(
            open_badge(self.issuer.did), status_purposes=["revocation"]
        )
        return str(signed["id"])

    async def offer(self, *, tx_code: bool = False, credential_id: str | None = None) -> Any:
        cid = credential_id or await self.award()
        resp = await self.client.post(
            "/oid4vci/offers", json={"credentialId": cid, "txCode": tx_code}, headers=self.auth
        )
        assert resp.status == 201, await resp.text()
        return await resp.json()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with served(tmp_path) as s:
        yield await Env.of(s)


# --- the holder ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Holder:
    """A wallet: an Ed25519 key, identified by did:key (``kid``) or by its JWK."""

    key: Ed25519Key = field(default_factory=Ed25519Key.generate)
    use_jwk: bool = False

    @property
    def jwk(self) -> OKPKey:
        return OKPKey.import_key(
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": _b64(self.key.public_key),
                "d": _b64(self.key.seed),
            }
        )

    def proof(
        self,
        *,
        aud: str,
        nonce: str | None,
        iat: float | None = None,
        typ: str = "openid4vci-proof+jwt",
        signer: Ed25519Key | None = None,
    ) -> str:
        header: dict[str, Any] = {"alg": "EdDSA", "typ": typ}
        if self.use_jwk:
            header["jwk"] = {"kty": "OKP", "crv": "Ed25519", "x": _b64(self.key.public_key)}
        else:
            header["kid"] = self.key.verification_method
        claims: dict[str, Any] = {"aud": aud, "iat": int(iat if iat is not None else time.time())}
        if nonce is not None:
            claims["nonce"] = nonce
        key = Holder(signer).jwk if signer is not None else self.jwk
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return jose_jwt.encode(header, claims, key, algorithms=["EdDSA"])


def parse_offer_uri(uri: str) -> dict[str, Any]:
    parts = urlsplit(uri)
    assert parts.scheme == "openid-credential-offer"
    query = parse_qs(parts.query)
    return dict(json.loads(query["credential_offer"][0]))


async def redeem(env: Env, offer: dict[str, Any], tx_code: str | None = None) -> Any:
    grant = offer["grants"][PRE_AUTHORIZED_GRANT]
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": grant["pre-authorized_code"]}
    if tx_code is not None:
        form["tx_code"] = tx_code
    return await env.client.post("/token", data=form)


async def get_nonce(env: Env) -> str:
    resp = await env.client.post("/nonce")
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"
    return str((await resp.json())["c_nonce"])


async def request_credential(env: Env, access_token: str, body: dict[str, Any]) -> Any:
    return await env.client.post(
        "/credential", json=body, headers={"Authorization": f"Bearer {access_token}"}
    )


async def token_for(env: Env, *, tx_code: bool = False) -> str:
    created = await env.offer(tx_code=tx_code)
    resp = await redeem(env, created["credentialOffer"], created.get("txCode"))
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["access_token"])


def body_for(jwt: str, *, plural: bool = True) -> dict[str, Any]:
    if plural:
        return {"credential_configuration_id": CONFIGURATION_ID, "proofs": {"jwt": [jwt]}}
    return {
        "credential_configuration_id": CONFIGURATION_ID,
        "proof": {"proof_type": "jwt", "jwt": jwt},
    }


async def oauth_error(resp: Any, status: int, error: str) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status == status, text
    assert resp.headers["Content-Type"].startswith("application/json"), text
    body = json.loads(text)
    assert body["error"] == error, body
    assert isinstance(body["error_description"], str) and body["error_description"]
    return dict(body)


# --- metadata ------------------------------------------------------------------------------------


async def test_metadata(env: Env) -> None:
    resp = await env.client.get("/.well-known/openid-credential-issuer")
    assert resp.status == 200
    meta = await resp.json()
    assert meta["credential_issuer"] == env.base_url
    assert meta["credential_endpoint"] == env.base_url + "/credential"
    assert meta["nonce_endpoint"] == env.base_url + "/nonce"
    conf = meta["credential_configurations_supported"][CONFIGURATION_ID]
    assert conf["format"] == "ldp_vc"
    assert conf["credential_definition"] == {
        "@context": [V2, OB],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
    }
    assert conf["cryptographic_binding_methods_supported"] == ["did:key", "jwk"]
    assert "EdDSA" in conf["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"]
    assert conf["credential_signing_alg_values_supported"] == ["eddsa-rdfc-2022"]
    assert conf["credential_metadata"]["display"][0]["name"]

    resp = await env.client.get("/.well-known/oauth-authorization-server")
    asm = await resp.json()
    assert asm["issuer"] == env.base_url
    assert asm["token_endpoint"] == env.base_url + "/token"
    assert asm["grant_types_supported"] == [PRE_AUTHORIZED_GRANT]
    assert asm["pre-authorized_grant_anonymous_access_supported"] is True


# --- the full flow -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tx_code", "use_jwk", "plural", "by_reference"),
    [(True, False, True, False), (False, True, False, True)],
    ids=["tx_code-kid-proofs-by_value", "no_tx_code-jwk-proof-by_reference"],
)
async def test_full_flow_binds_the_holder(
    env: Env, tx_code: bool, use_jwk: bool, plural: bool, by_reference: bool
) -> None:
    holder = Holder(use_jwk=use_jwk)
    award_id = await env.award()
    created = await env.offer(tx_code=tx_code, credential_id=award_id)
    assert ("txCode" in created) is tx_code
    if tx_code:
        assert created["txCode"].isdigit() and len(created["txCode"]) == 6

    # the wallet scans one of the two URIs
    if by_reference:
        uri = created["credentialOfferRefUri"]
        ref = parse_qs(urlsplit(uri).query)["credential_offer_uri"][0]
        assert ref == f"{env.base_url}/oid4vci/offers/{created['offerId']}"
        resp = await env.client.get(urlsplit(ref).path)
        assert resp.status == 200
        offer = await resp.json()
    else:
        offer = parse_offer_uri(created["credentialOfferUri"])
    assert offer == created["credentialOffer"]
    assert offer["credential_issuer"] == env.base_url
    assert offer["credential_configuration_ids"] == list(CONFIGURATIONS)
    grant = offer["grants"][PRE_AUTHORIZED_GRANT]
    if tx_code:
        assert grant["tx_code"]["input_mode"] == "numeric"
        assert grant["tx_code"]["length"] == 6
    else:
        assert "tx_code" not in grant

    meta = await (await env.client.get("/.well-known/openid-credential-issuer")).json()
    resp = await redeem(env, offer, created.get("txCode"))
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    tok = await resp.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 300

    nonce = await get_nonce(env)
    jwt = holder.proof(aud=meta["credential_issuer"], nonce=nonce)
    resp = await request_credential(env, tok["access_token"], body_for(jwt, plural=plural))
    assert resp.status == 200, await resp.text()
    out = await resp.json()
    assert list(out) == ["credentials"] and len(out["credentials"]) == 1
    vc = out["credentials"][0]["credential"]
    assert vc["credentialSubject"]["id"] == holder.key.did
    assert vc["credentialSubject"]["achievement"]["name"] == "Rust Foundations"
    assert vc["issuer"] == env.issuer.did or vc["issuer"]["id"] == env.issuer.did
    assert vc["id"] != award_id
    assert vc["proof"]["cryptosuite"] == "eddsa-rdfc-2022"

    # the wallet copy verifies (proof, status) and is stored with its own status entry
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": vc})
    assert resp.status == 200, await resp.text()
    assert (await env.issuer.get_credential(vc["id"])) == vc

    # single use: the code, the token and the offer are gone
    resp = await redeem(env, offer, created.get("txCode"))
    await oauth_error(resp, 400, "invalid_grant")
    nonce2 = await get_nonce(env)
    resp = await request_credential(
        env, tok["access_token"], body_for(holder.proof(aud=env.base_url, nonce=nonce2))
    )
    await oauth_error(resp, 401, "invalid_token")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = await env.client.get(f"/oid4vci/offers/{created['offerId']}")
    assert resp.status == 404


# --- token endpoint negatives --------------------------------------------------------------------


async def test_expired_code(env: Env) -> None:
    created = await env.offer()
    env.clock.offset = timedelta(minutes=10, seconds=1)
    resp = await redeem(env, created["credentialOffer"])
    body = await oauth_error(resp, 400, "invalid_grant")
    assert "expired" in body["error_description"]
    resp = await env.client.get(f"/oid4vci/offers/{created['offerId']}")
    assert resp.status == 404


async def test_wrong_tx_code_is_rate_limited(env: Env) -> None:
    created = await env.offer(tx_code=True)
    right = created["txCode"]
    wrong = "0" * 6 if right != "000000" else "1" * 6
    offer = created["credentialOffer"]
    await oauth_error(await redeem(env, offer), 400, "invalid_request")  # missing
    for left in (4, 3, 2, 1):
        body = await oauth_error(await redeem(env, offer, wrong), 400, "invalid_grant")
        assert f"{left} attempt" in body["error_description"]
    body = await oauth_error(await redeem(env, offer, wrong), 400, "invalid_grant")
    assert "too many" in body["error_description"]
    # burned: even the right code is refused now
    await oauth_error(await redeem(env, offer, right), 400, "invalid_grant")


async def test_tx_code_not_expected(env: Env) -> None:
    created = await env.offer()
    await oauth_error(
        await redeem(env, created["credentialOffer"], "123456"), 400, "invalid_request"
    )


async def test_token_request_shapes(env: Env) -> None:
    resp = await env.client.post("/token", json={"grant_type": PRE_AUTHORIZED_GRANT})
    await oauth_error(resp, 400, "invalid_request")
    resp = await env.client.post("/token", data={"grant_type": "authorization_code", "code": "x"})
    await oauth_error(resp, 400, "unsupported_grant_type")
    resp = await env.client.post("/token", data={"grant_type": PRE_AUTHORIZED_GRANT})
    await oauth_error(resp, 400, "invalid_request")
    resp = await env.client.post(
        "/token", data={"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": "nope"}
    )
    await oauth_error(resp, 400, "invalid_grant")
    resp = await env.client.post(
        "/token",
        data=f"grant_type=a&grant_type={PRE_AUTHORIZED_GRANT}",
        headers={"Content-Type": FORM},
    )
    await oauth_error(resp, 400, "invalid_request")


async def test_revoked_award_cannot_be_claimed(env: Env) -> None:
    award_id = await env.award()
    created = await env.offer(credential_id=award_id)
    await env.issuer.revoke(award_id)
    await oauth_error(
        await redeem(env, created["credentialOffer"]), 400, "credential_request_denied"
    )
    resp = await env.client.post(
        "/oid4vci/offers", json={"credentialId": award_id}, headers=env.auth
    )
    assert resp.status == 410
    assert (await resp.json())["code"] == "CREDENTIAL_NOT_DELIVERABLE"


async def test_offers_api_needs_auth_and_a_known_credential(env: Env) -> None:
    resp = await env.client.post("/oid4vci/offers", json={"credentialId": "urn:uuid:x"})
    assert resp.status == 401
    resp = await env.client.post(
        "/oid4vci/offers", json={"credentialId": "urn:uuid:nope"}, headers=env.auth
    )
    assert resp.status == 404
    resp = await env.client.post(
        "/oid4vci/offers", json={"credentialId": "x", "txCode": "yes"}, headers=env.auth
    )
    assert resp.status == 400


# --- credential endpoint negatives ---------------------------------------------------------------


async def test_key_proof_negatives(env: Env) -> None:
    holder = Holder()
    access = await token_for(env)

    async def refused(jwt: str, error: str, fragment: str = "") -> None:
        body = await oauth_error(await request_credential(env, access, body_for(jwt)), 400, error)
        assert fragment in body["error_description"], body

    n = await get_nonce(env)
    await refused(holder.proof(aud=env.base_url, nonce="not-a-nonce"), "invalid_nonce")
    await refused(holder.proof(aud="https://evil.example", nonce=n), "invalid_proof", "aud")
    await refused(holder.proof(aud=env.base_url, nonce=n, signer=Ed25519Key.generate()),
                  "invalid_proof", "signature")  # fmt: skip
    await refused(holder.proof(aud=env.base_url, nonce=n, typ="JWT"), "invalid_proof", "typ")
    await refused(holder.proof(aud=env.base_url, nonce=n, iat=time.time() - 3600),
                  "invalid_proof", "too old")  # fmt: skip
    await refused(holder.proof(aud=env.base_url, nonce=None), "invalid_proof", "nonce")
    # the refused proofs above did not burn the nonce: it still works once ...
    resp = await request_credential(env, access, body_for(holder.proof(aud=env.base_url, nonce=n)))
    assert resp.status == 200, await resp.text()
    # ... and only once
    access2 = await token_for(env)
    resp = await request_credential(env, access2, body_for(holder.proof(aud=env.base_url, nonce=n)))
    await oauth_error(resp, 400, "invalid_nonce")


async def test_expired_nonce_and_token(env: Env) -> None:
    access = await token_for(env)
    n = await get_nonce(env)
    env.clock.offset = timedelta(minutes=5, seconds=1)  # both live 5 minutes
    proof = Holder().proof(aud=env.base_url, nonce=n, iat=time.time() + 301)
    await oauth_error(await request_credential(env, access, body_for(proof)), 401, "invalid_token")
    fresh = await token_for(env)
    await oauth_error(await request_credential(env, fresh, body_for(proof)), 400, "invalid_nonce")


async def test_credential_request_shapes(env: Env) -> None:
    holder = Holder()
    access = await token_for(env)
    jwt = holder.proof(aud=env.base_url, nonce=await get_nonce(env))

    resp = await env.client.post("/credential", json=body_for(jwt))
    body = await oauth_error(resp, 401, "invalid_token")
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="vc-issuer"'
    assert body
    resp = await request_credential(env, "vci_not-a-token", body_for(jwt))
    await oauth_error(resp, 401, "invalid_token")
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]

    bad: list[tuple[dict[str, Any], str]] = [
        ({"proofs": {"jwt": [jwt]}}, "invalid_credential_request"),
        ({**body_for(jwt), "credential_configuration_id": "Other"},
         "unknown_credential_configuration"),
        ({"credential_configuration_id": CONFIGURATION_ID}, "invalid_proof"),
        ({**body_for(jwt), "proof": {"proof_type": "jwt", "jwt": jwt}},
         "invalid_credential_request"),
        ({"credential_configuration_id": CONFIGURATION_ID, "proofs": {"jwt": [jwt, jwt]}},
         "invalid_credential_request"),
        ({"credential_configuration_id": CONFIGURATION_ID, "proofs": {"jwt": ["a.b"]}},
         "invalid_proof"),
        ({"credential_configuration_id": CONFIGURATION_ID, "proof": {"proof_type": "cwt"}},
         "invalid_proof"),
    ]  # fmt: skip
    for request_body, error in bad:
        await oauth_error(await request_credential(env, access, request_body), 400, error)
    resp = await env.client.post(
        "/credential", data=b"[1]", headers={"Authorization": f"Bearer {access}",
                                             "Content-Type": "application/json"}
    )  # fmt: skip
    await oauth_error(resp, 400, "invalid_credential_request")
    # none of that used the token up
    resp = await request_credential(env, access, body_for(jwt))
    assert resp.status == 200, await resp.text()


# --- pure parts ----------------------------------------------------------------------------------


def test_verify_key_proof_binds_did_key_for_both_header_forms() -> None:
    key = Ed25519Key.generate()
    now = datetime.now(UTC)
    for use_jwk in (False, True):
        jwt = Holder(key, use_jwk=use_jwk).proof(aud="https://i.example", nonce="n1")
        proof = verify_key_proof(jwt, audience="https://i.example", now=now)
        assert proof.holder == key.did
        assert proof.nonce == "n1"


def test_bind_credential_replaces_subject_id_and_drops_proof_and_status() -> None:
    original: dict[str, Any] = {
        "@context": [V2, OB],
        "id": "urn:uuid:1",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "credentialSubject": [{"id": "mailto:x@example.com", "type": ["AchievementSubject"]}],
        "credentialStatus": {"type": "BitstringStatusListEntry"},
        "proof": [{"type": "DataIntegrityProof"}],
    }
    bound = bind_credential(original, "did:key:z6MkTest")
    assert bound["credentialSubject"] == {"id": "did:key:z6MkTest", "type": ["AchievementSubject"]}
    assert not {"id", "proof", "credentialStatus"} & set(bound)
    assert original["credentialSubject"][0]["id"] == "mailto:x@example.com"


# --- jwt_vc_json and NIST-curve holder keys ------------------------------------------------------


def _ec_proof(
    key: P256Key | P384Key,
    *,
    aud: str,
    nonce: str,
    alg: str,
    use_jwk: bool = False,
    sign_alg: str | None = None,
) -> str:
    """A key proof made with joserfc by a P-256/P-384 holder; ``alg`` is the header's claim,
    ``sign_alg`` the algorithm actually used (they differ in the mismatch cases)."""
    header: dict[str, Any] = {"alg": alg, "typ": "openid4vci-proof+jwt"}
    if use_jwk:
        header["jwk"] = key.to_jwk()
    else:
        header["kid"] = key.verification_method
    claims = {"aud": aud, "iat": int(time.time()), "nonce": nonce}
    private = ECKey.import_key(dict(key.to_jwk(include_secret=True)))
    body = json.dumps(claims).encode()
    real = sign_alg or alg
    token = jws.serialize_compact({**header, "alg": real}, body, private, algorithms=[real])
    return token if real == alg else _reheader(token, header)


def _reheader(token: str, header: dict[str, Any]) -> str:
    """The same payload and signature under another protected header (a lie about alg)."""
    _h, payload, signature = token.split(".")
    return f"{_b64(json.dumps(header).encode())}.{payload}.{signature}"


async def test_metadata_lists_jwt_vc_json(env: Env) -> None:
    meta = await (await env.client.get("/.well-known/openid-credential-issuer")).json()
    configs = meta["credential_configurations_supported"]
    assert list(configs) == list(CONFIGURATIONS)
    jwt_conf = configs[JWT_CONFIGURATION_ID]
    assert jwt_conf["format"] == "jwt_vc_json"
    assert jwt_conf["credential_definition"] == {
        "type": ["VerifiableCredential", "OpenBadgeCredential"]
    }
    assert jwt_conf["credential_signing_alg_values_supported"] == ["EdDSA"]  # an Ed25519 home
    for conf in configs.values():
        algs = conf["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"]
        assert {"ES256", "EdDSA"} <= set(algs)
        assert conf["cryptographic_binding_methods_supported"] == ["did:key", "jwk"]


@pytest.mark.parametrize("use_jwk", [False, True], ids=["kid", "jwk"])
async def test_p256_holder_gets_a_jwt_vc_json_bound_to_its_did_key(env: Env, use_jwk: bool) -> None:
    holder = P256Key.generate()
    access = await token_for(env)
    proof = _ec_proof(holder, aud=env.base_url, nonce=await get_nonce(env), alg="ES256",
                      use_jwk=use_jwk)  # fmt: skip
    body = {"credential_configuration_id": JWT_CONFIGURATION_ID, "proofs": {"jwt": [proof]}}
    resp = await request_credential(env, access, body)
    assert resp.status == 200, await resp.text()
    [item] = (await resp.json())["credentials"]
    token = item["credential"]
    parsed = jose.parse_jws(token)
    kid = env.issuer.key.verification_method
    assert parsed.header == {"alg": "EdDSA", "typ": "JWT", "kid": kid}
    assert parsed.payload["sub"] == holder.did
    vc = parsed.payload["vc"]
    assert vc["@context"][0] == "https://www.w3.org/2018/credentials/v1"
    assert vc["credentialSubject"]["id"] == holder.did
    assert "issuanceDate" in vc and "validFrom" not in vc
    resp = await env.client.post("/credentials/verify", data=token,
                                 headers={"Content-Type": "application/jwt"})  # fmt: skip
    report = await resp.json()
    assert report["verified"] is True, report
    assert report["format"] == "vc-jwt"


async def test_key_proofs_with_a_wrong_alg_or_key_type(env: Env) -> None:
    """invalid_proof for alg none, an alg that does not fit the key, and keys the
    configurations do not list (P-384, secp256k1), whichever configuration is asked for."""
    access = await token_for(env)
    nonce = await get_nonce(env)

    async def refused(jwt: str, fragment: str) -> None:
        for config in CONFIGURATIONS:
            body = {"credential_configuration_id": config, "proofs": {"jwt": [jwt]}}
            resp = await request_credential(env, access, body)
            error = await oauth_error(resp, 400, "invalid_proof")
            assert fragment in error["error_description"], error

    p256, p384, ed = P256Key.generate(), P384Key.generate(), Holder()
    claims = {"aud": env.base_url, "iat": int(time.time()), "nonce": nonce}
    unsigned = {"alg": "none", "typ": "openid4vci-proof+jwt", "kid": ed.key.verification_method}
    none_jwt = f"{_b64(json.dumps(unsigned).encode())}.{_b64(json.dumps(claims).encode())}."
    await refused(none_jwt, "'none'")
    await refused(_ec_proof(p256, aud=env.base_url, nonce=nonce, alg="HS256", sign_alg="ES256"),
                  "'HS256'")  # fmt: skip
    # an alg that does not fit the key: EdDSA claimed over a P-256 key, ES256 over Ed25519
    await refused(_ec_proof(p256, aud=env.base_url, nonce=nonce, alg="EdDSA", sign_alg="ES256"),
                  "does not fit its P-256 key")  # fmt: skip
    ed_header = {"alg": "ES256", "typ": "openid4vci-proof+jwt", "kid": ed.key.verification_method}
    await refused(_reheader(ed.proof(aud=env.base_url, nonce=nonce), ed_header),
                  "does not fit its Ed25519 key")  # fmt: skip
    # P-384 holders: neither configuration lists ES384
    await refused(_ec_proof(p384, aud=env.base_url, nonce=nonce, alg="ES384"), "'ES384'")
    await refused(_ec_proof(p384, aud=env.base_url, nonce=nonce, alg="ES256", sign_alg="ES384"),
                  "P-384 key is not supported")  # fmt: skip
    jwk_384 = {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": p384.to_jwk()}
    await refused(_reheader(_ec_proof(p384, aud=env.base_url, nonce=nonce, alg="ES384"), jwk_384),
                  "crv 'P-384'")  # fmt: skip
    k1 = {"kty": "EC", "crv": "secp256k1", "x": p256.to_jwk()["x"], "y": p256.to_jwk()["y"]}
    await refused(_reheader(_ec_proof(p256, aud=env.base_url, nonce=nonce, alg="ES256"),
                            {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": k1}),
                  "crv 'secp256k1'")  # fmt: skip
    # none of these burnt the nonce or the token: a good ES256 proof still gets the credential
    good = _ec_proof(p256, aud=env.base_url, nonce=nonce, alg="ES256")
    resp = await request_credential(env, access, body_for(good))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["credentials"][0]["credential"]["credentialSubject"]["id"] == (
        p256.did
    )
