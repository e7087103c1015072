"""Issue 11 through HTTP: the VC API's JWT issue options and ``POST /credentials/verify`` on
every format (raw JWT media types, JWS strings, envelopes, baked OB 3.0 JWT and OB 2.0 images),
and the ``/verify`` page (JWT paste, OB 2.0 URL, recipient field).
"""

from __future__ import annotations

import pytest

from .._helpers import FIX, V2, load
from .._web import VirtualWeb
from .conftest import EnvFactory

OB2 = FIX / "open-badges-2.0/1edtech-validator-ob20"
HOSTED = "https://example.org/beths-robotics-badge.json"


@pytest.fixture
def vweb(vweb: VirtualWeb) -> VirtualWeb:
    for path in (OB2 / "assets").iterdir():
        vweb.serve_file("https://example.org/" + path.name, path)
        vweb.serve_file("http://example.org/" + path.name, path)
    vweb.serve(HOSTED, load(OB2 / "basic-assertion.json"))
    return vweb


# --- POST /credentials/verify and /credentials/issue ---------------------------------------------


async def test_vc_api_issue_and_verify_jwt(make_env: EnvFactory) -> None:
    env = await make_env(allow_private=True)
    cred = {"@context": [V2], "type": ["VerifiableCredential"], "issuer": env.issuer.did,
            "credentialSubject": {"id": "did:example:alice"}}  # fmt: skip
    headers = env.auth("issue")
    resp = await env.client.post(
        "/credentials/issue", json={"credential": cred, "options": {"format": "jwt"}},
        headers=headers,
    )  # fmt: skip
    assert resp.status == 201, await resp.text()
    enveloped = (await resp.json())["verifiableCredential"]
    assert enveloped["type"] == "EnvelopedVerifiableCredential"
    assert resp.headers["Location"].startswith("/credentials/urn%3Auuid%3A")
    resp = await env.client.post(
        "/credentials/issue", json={"credential": cred},
        headers={**headers, "Accept": "application/vc+jwt"},
    )  # fmt: skip
    assert resp.status == 201 and resp.content_type == "application/vc+jwt"
    token = await resp.text()
    # verify: raw token, token string in JSON, envelope in JSON
    for kwargs in (
        {"data": token, "headers": {"Content-Type": "application/vc+jwt"}},
        {"json": {"verifiableCredential": token}},
        {"json": {"verifiableCredential": enveloped}},
    ):
        resp = await env.client.post("/credentials/verify", **kwargs)
        body = await resp.json()
        assert resp.status == 200, body
        assert body["format"] == "vc-jose"
    # wrong options
    resp = await env.client.post(
        "/credentials/issue",
        json={"credential": cred, "options": {"format": "jwt", "cryptosuite": "eddsa-rdfc-2022"}},
        headers=headers,
    )
    assert resp.status == 400 and (await resp.json())["code"] == "MALFORMED_VALUE_ERROR"
    resp = await env.client.post(
        "/credentials/issue", json={"credential": cred, "options": {"format": "cose"}},
        headers=headers,
    )  # fmt: skip
    assert resp.status == 400


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("eyJhbGciOiJub25lIn0.e30.", "application/vc+jwt", 400, "MALFORMED_JWS"),
        ("eyJhbGciOiJub25lIn0.e30.c2ln", "application/vc+jwt", 422, "JWT_ALG_NONE"),
        ("not a token", "application/jwt", 400, "MALFORMED_JWS"),
        ("", "application/vc+jwt", 400, "MALFORMED_VALUE_ERROR"),
    ],
)
async def test_vc_api_verify_bad_tokens(
    make_env: EnvFactory, body: str, content_type: str, status: int, code: str
) -> None:
    env = await make_env(allow_private=True)
    resp = await env.client.post(
        "/credentials/verify", data=body, headers={"Content-Type": content_type}
    )
    answer = await resp.json()
    assert resp.status == status, answer
    assert answer["code"] == code and answer["verified"] is False


async def test_vc_api_verify_json_string_that_is_not_a_jwt(make_env: EnvFactory) -> None:
    env = await make_env(allow_private=True)
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": "hello"})
    assert resp.status == 400 and (await resp.json())["code"] == "MALFORMED_VALUE_ERROR"


async def test_vc_api_verify_ob3_jwt_baked_image(make_env: EnvFactory) -> None:
    env = await make_env(allow_private=True)
    png = (FIX / "open-badges-3.0-jwt/1edtech-validator/ob30/simple-jwt.png").read_bytes()
    resp = await env.client.post(
        "/credentials/verify", data=png, headers={"Content-Type": "image/png"}
    )
    body = await resp.json()
    assert body["format"] == "vc-jose"
    proof = next(c for c in body["checks"] if c["name"] == "proof")
    assert proof["passed"] is True


async def test_vc_api_verify_ob2_hosted_and_signed(make_env: EnvFactory, vweb: VirtualWeb) -> None:
    env = await make_env(allow_private=True, fetcher=vweb.fetcher())
    resp = await env.client.post(
        "/credentials/verify",
        json={
            "verifiableCredential": load(OB2 / "basic-assertion.json"),
            "options": {"recipientEmail": "nobody@example.org"},
        },
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert body["format"] == "ob2-hosted" and body["notes"]
    assert body["checks"][-1] == {
        "name": "recipient",
        "passed": True,
        "detail": "awarded to nobody@example.org (salted hash at recipient)",
    }
    png = (OB2 / "simple-badge.png").read_bytes()
    resp = await env.client.post(
        "/credentials/verify", data=png, headers={"Content-Type": "image/png"}
    )
    assert resp.status == 200 and (await resp.json())["format"] == "ob2-hosted"
    token = (OB2 / "simple-revoked.jwt").read_text().strip()
    resp = await env.client.post("/credentials/verify", json={"verifiableCredential": token})
    body = await resp.json()
    assert resp.status == 422 and body["code"] == "CREDENTIAL_REVOKED"
    assert body["format"] == "ob2-signed"


async def test_vc_api_refuses_private_ob2_hosts_by_default(
    make_env: EnvFactory, vweb: VirtualWeb
) -> None:
    env = await make_env(fetcher=vweb.fetcher(allow_private=False))
    resp = await env.client.post(
        "/credentials/verify", json={"verifiableCredential": load(OB2 / "basic-assertion.json")}
    )
    body = await resp.json()
    assert resp.status == 422 and body["code"] == "FORBIDDEN_ADDRESS"


async def test_verify_page_every_input(make_env: EnvFactory, vweb: VirtualWeb) -> None:
    env = await make_env(allow_private=True, fetcher=vweb.fetcher())
    # the URL of a hosted OB 2.0 assertion, with the recipient field
    resp = await env.client.post("/verify", data={"url": HOSTED, "recipient": "nobody@example.org"})
    text = await resp.text()
    assert resp.status == 200, text
    assert 'data-verdict="Valid"' in text
    assert "Awesome Robotics Badge" in text and "An Example Badge Issuer" in text
    assert "Open Badges 2.0 hosted assertion" in text
    assert "warded to nobody@example.org" in text
    assert "only as trustworthy as its host" in text
    resp = await env.client.post("/verify", data={"url": HOSTED, "recipient": "x@example.org"})
    text = await resp.text()
    assert 'data-verdict="Not verified"' in text and "RECIPIENT_MISMATCH" in text
    # a pasted JWT (one we issue)
    token_resp = await env.client.post(
        "/credentials/issue",
        json={"credential": env.credential(), "options": {"format": "jwt"}},
        headers=env.auth("issue"),
    )
    from vc_issuer.core.jose import enveloped_token

    token = enveloped_token((await token_resp.json())["verifiableCredential"])
    resp = await env.client.post("/verify", data={"json": token})
    text = await resp.text()
    assert 'data-verdict="Valid"' in text and "pasted a JWT" in text
    assert "VC 2.0 secured with JOSE" in text
    # an address the verifier must not reach
    private = await make_env(
        home_name="home2", allow_private=False, fetcher=vweb.fetcher(allow_private=False)
    )
    resp = await private.client.post("/verify", data={"url": HOSTED})
    assert resp.status == 400 and "We could not fetch that address" in await resp.text()
    resp = await env.client.post("/verify", data={"json": token, "recipient": "not-an-email"})
    assert resp.status == 400


async def test_page_and_baked_images_of_a_jwt_credential(make_env: EnvFactory) -> None:
    """A credential issued as a JWT: its public page verifies it, its images carry the token
    (PNG iTXt text, SVG verify attribute, OB 3.0 §5.3), and both images verify again."""
    from vc_issuer.badges.baking import baked_payload, svg_credential_payloads
    from vc_issuer.core.jose import enveloped_token, parse_jws

    env = await make_env(allow_private=True)
    enveloped = await env.issue(env.credential(name="JWT Badge"), format="jwt")
    token = enveloped_token(enveloped)
    record = await env.issuer.store.get_credential(parse_jws(token).payload["id"])
    assert record is not None
    page = await env.client.get(f"/c/{record.page_id}")
    text = await page.text()
    assert page.status == 200 and 'data-verdict="Valid"' in text and "JWT Badge" in text
    for kind in ("png", "svg"):
        resp = await env.client.get(f"/c/{record.page_id}/badge.{kind}")
        image = await resp.read()
        assert resp.status == 200
        assert baked_payload(image).text == token
        if kind == "svg":
            assert svg_credential_payloads(image) == [token]
            assert b'verify="' + token.encode() + b'"' in image
        verified = await env.client.post(
            "/credentials/verify", data=image, headers={"Content-Type": f"image/{kind}"}
            if kind == "png" else {"Content-Type": "image/svg+xml"},
        )  # fmt: skip
        body = await verified.json()
        assert verified.status == 200, body
        assert body["format"] == "vc-jose"


async def test_idempotency_key_binds_the_format(make_env: EnvFactory) -> None:
    """The same key and body asking for a JWT (by Accept) is another request: 409."""
    env = await make_env(allow_private=True)
    headers = {**env.auth("issue"), "Idempotency-Key": "formats-1"}
    body = {"credential": env.credential()}
    first = await env.client.post("/credentials/issue", json=body, headers=headers)
    assert first.status == 201
    again = await env.client.post("/credentials/issue", json=body, headers=headers)
    assert again.status == 201 and await again.json() == await first.json()
    as_jwt = await env.client.post(
        "/credentials/issue", json=body, headers={**headers, "Accept": "application/vc+jwt"}
    )
    assert as_jwt.status == 409
    assert (await as_jwt.json())["code"] == "IDEMPOTENCY_KEY_REUSED"
