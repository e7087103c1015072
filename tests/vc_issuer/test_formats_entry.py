"""Issue 11, items 2-5 through the real entry points: issuing as JWT (Issuer, CLI, VC API),
1EdTechRevocationList status, the CLI ``verify`` and ``POST /credentials/verify`` on every format.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.badges.verify import verify_input
from vc_issuer.core import jose
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.proofs import sign
from vc_issuer.services.issuer import Issuer
from vc_issuer.services.status_check import StatusListChecker
from vc_issuer.services.verifier import VerificationResult, verify
from vc_issuer.store import Store

from ._helpers import FIX, V2, load, run
from ._web import VirtualWeb

OB3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
EXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
LIST = "https://badges.example/revocations/list.json"
NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
def key() -> Ed25519Key:
    return Ed25519Key.from_seed(bytes(range(1, 33)))


def badge(key: Ed25519Key, **fields: Any) -> dict[str, Any]:
    cred: dict[str, Any] = {
        "@context": [V2, OB3, EXT],
        "id": "urn:uuid:0b9d2a8e-6a2c-4f1b-8f5e-3c1d2e4f5a6b",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": key.did, "type": ["Profile"], "name": "Example"},
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityHash": "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913"
                    "aee2c922ef399",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "salt": "Kosher",
                }
            ],
            "achievement": {
                "id": "https://badges.example/achievements/1",
                "type": ["Achievement"],
                "name": "Teamwork",
                "description": "d",
                "criteria": {"narrative": "n"},
            },
        },
        "credentialStatus": {"id": LIST, "type": "1EdTechRevocationList"},
    }
    cred.update(fields)
    return cred


def failed(result: VerificationResult) -> dict[str, str | None]:
    return {c.name: c.code for c in result.checks if not c.passed}


def checker_for(vweb: VirtualWeb) -> StatusListChecker:
    fetcher = vweb.fetcher()

    async def fetch(url: str, headers: Any) -> tuple[int, Any, bytes]:
        result = await fetcher.fetch(url, headers=headers)
        return result.status, result.headers, result.body

    return StatusListChecker(fetch=fetch, now=lambda: NOW)


# --- 1EdTechRevocationList ------------------------------------------------------------------------


@pytest.mark.parametrize("secured", ["ldp", "jwt"])
@pytest.mark.parametrize(
    ("listing", "code"),
    [
        ({"revokedCredentials": []}, None),
        ({"revokedCredentials": [{"id": "urn:uuid:other"}]}, None),
        (
            {"revokedCredential": [{"id": "urn:uuid:0b9d2a8e-6a2c-4f1b-8f5e-3c1d2e4f5a6b"}]},
            "CREDENTIAL_REVOKED",
        ),
        (
            {
                "revokedCredentials": [
                    {
                        "id": "urn:uuid:0b9d2a8e-6a2c-4f1b-8f5e-3c1d2e4f5a6b",
                        "revoked": "true",
                        "revocationReason": "fraud",
                    }
                ]
            },
            "CREDENTIAL_REVOKED",
        ),
        (
            {
                "revokedCredentials": [
                    {"id": "urn:uuid:0b9d2a8e-6a2c-4f1b-8f5e-3c1d2e4f5a6b", "revoked": False}
                ]
            },
            None,
        ),
    ],
)
async def test_1edtech_revocation_list(
    vweb: VirtualWeb, key: Ed25519Key, secured: str, listing: dict[str, Any], code: str | None
) -> None:
    vweb.serve(LIST, listing)
    cred = badge(key)
    value: Any = (
        sign(cred, key) if secured == "ldp" else jose.sign_credential_jwt(cred, key, issued_at=NOW)
    )
    checker = checker_for(vweb)
    result = await verify_input(
        value, status_checker=checker, now=lambda: NOW, recipient_email="a@example.com"
    )
    expected = {"status:revocation": code} if code else {}
    assert failed(result) == expected, result.to_dict()
    assert result.checks[-1].name == "recipient" and result.checks[-1].passed
    await checker.close()


async def test_1edtech_revocation_list_unreachable(vweb: VirtualWeb, key: Ed25519Key) -> None:
    checker = checker_for(vweb)  # nothing served at LIST: 404
    result = await verify_input(sign(badge(key), key), status_checker=checker, now=lambda: NOW)
    assert failed(result) == {"status:revocation": "STATUS_RETRIEVAL_ERROR"}
    assert result.exit_code() == 3
    await checker.close()


def test_1edtech_revocation_vector_shape() -> None:
    """The 1EdTech validator's revoked credential names a 1EdTechRevocationList entry."""
    from vc_issuer.core.status import edtech_list_url, is_edtech_revocation_entry

    vector = load(FIX / "open-badges-3.0-jwt/1edtech-validator/ob30/credential-status-revoked.json")
    entry = vector["credentialStatus"]
    assert is_edtech_revocation_entry(entry)
    assert edtech_list_url(entry).startswith("https://dc.1edtech.org/")


# --- issuing as JWT ------------------------------------------------------------------------------


async def test_issuer_issues_jwt(store: Store, key: Ed25519Key) -> None:
    issuer = Issuer(key=key, did=key.did, store=store, base_url="https://issuer.example")
    cred = {"@context": [V2], "type": ["VerifiableCredential"], "credentialSubject": {"id": "x:y"}}
    out = await issuer.issue(cred, secured_as="jwt")
    assert out["type"] == "EnvelopedVerifiableCredential"
    assert out["id"].startswith("data:application/vc+jwt,")
    token = jose.enveloped_token(out)
    payload = jose.parse_jws(token).payload
    assert payload["credentialStatus"][0]["type"] == "BitstringStatusListEntry"
    record = await store.get_credential(payload["id"])
    assert record is not None and record.credential == out and len(record.status_entries) == 2
    # the same idempotency key gives the same envelope back
    again = await issuer.issue(cred, secured_as="jwt", idempotency_key="k1")
    assert await issuer.issue(cred, secured_as="jwt", idempotency_key="k1") == again
    result = await verify(out)
    assert result.verified, result.to_dict()
    assert result.format == "vc-jose"
    v1 = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "x:y"},
    }
    out1 = await issuer.issue(v1, secured_as="jwt", status=False)
    assert out1["id"].startswith("data:application/jwt,")
    assert (await verify(out1, now=lambda: datetime.now(UTC))).format == "vc-jwt"
    with pytest.raises(Exception) as info:
        await issuer.issue(cred, secured_as="jwt", suites=["eddsa-rdfc-2022"])
    assert getattr(info.value, "code", None) == "MALFORMED_VALUE_ERROR"


def test_cli_sign_jwt_and_verify(tmp_path: Path, key: Ed25519Key) -> None:
    from vc_issuer.core.keys import save_key_file

    key_file = tmp_path / "key.json"
    save_key_file(key, key_file)
    doc = tmp_path / "cred.json"
    doc.write_text(json.dumps(badge(key, credentialStatus=None) | {"credentialStatus": None}))
    cred = badge(key)
    del cred["credentialStatus"]
    doc.write_text(json.dumps(cred))
    signed = run("sign", "--key", str(key_file), "--format", "jwt", str(doc))
    assert signed.exit_code == 0, signed.output
    token = signed.stdout.strip()
    assert jose.parse_jws(token).header["typ"] == "vc+jwt"
    jwt_file = tmp_path / "badge.jwt"
    jwt_file.write_text(token + "\n")
    ok = run("verify", str(jwt_file), "--recipient-email", "a@example.com")
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert report["format"] == "vc-jose" and report["checks"][-1]["name"] == "recipient"
    no = run("verify", str(jwt_file), "--recipient-email", "b@example.com")
    assert no.exit_code == 1 and json.loads(no.stdout)["errors"][0]["code"] == "RECIPIENT_MISMATCH"
    bad = run("sign", "--key", str(key_file), "--format", "jwt", "--challenge", "c", str(doc))
    assert bad.exit_code == 2 and "MALFORMED_VALUE_ERROR" in bad.stderr


def test_cli_verify_jwks_option(tmp_path: Path) -> None:
    """``--jwks``: keys trusted out of band (here the vc-jose-cose suite's issuer keys)."""
    jose_dir = FIX / "vc-jose-cose/test-suite/input"
    vm = load(jose_dir / "vm-ed25519.json")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{k: v for k, v in vm.items() if k != "secretKeyJwk"}]))
    token = jose_dir / "credential-issuer-match-signed.txt"
    ok = run("verify", "--jwks", str(keys), str(token))
    assert ok.exit_code == 0, ok.output
    wrong = run("verify", str(token))  # the issuer's https profile is not reachable here
    assert wrong.exit_code in (1, 3)
