"""VC API exchanges end to end: a holder written here (its own did:key, real Ed25519 proofs with
purpose authentication) claims a badge over HTTP from a real server, as the Learner Credential
Wallet does; then every way it must fail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import ClientSession

from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.proofs import sign
from vc_issuer.services.verifier import verify_credential

from .conftest import V1, V2, Authed, served

SUITES = ["eddsa-rdfc-2022", "Ed25519Signature2020"]


class World(Authed):
    async def award(self, **fields: Any) -> dict[str, Any]:
        cred: dict[str, Any] = {
            "@context": [V2],
            "type": ["VerifiableCredential"],
            "issuer": self.issuer.did,
            "credentialSubject": {"name": "Ada"},
            **fields,
        }
        return await self.issuer.issue(cred)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        resp = await self.client.post("/exchanges", json=body, headers=self.auth)
        assert resp.status == 201, await resp.text()
        out: dict[str, Any] = await resp.json()
        return out


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with served(tmp_path) as s:
        yield await World.of(s)


class Holder:
    """A wallet: its own did:key; signs DIDAuth presentations like the LCW does."""

    def __init__(self, suite: str = "eddsa-rdfc-2022", key: Ed25519Key | None = None) -> None:
        self.key = key or Ed25519Key.generate()
        self.suite = suite

    @property
    def did(self) -> str:
        return self.key.did

    def did_auth(
        self,
        challenge: str,
        domain: str,
        *,
        holder: str | None = None,
        signer: Ed25519Key | None = None,
    ) -> dict[str, Any]:
        ctx = V2 if self.suite == "eddsa-rdfc-2022" else V1
        vp = {"@context": [ctx], "type": ["VerifiablePresentation"], "holder": holder or self.did}
        return sign(
            vp,
            signer or self.key,
            suite=self.suite,
            purpose="authentication",
            challenge=challenge,
            domain=domain,
        )

    async def claim(self, http: ClientSession, interaction_url: str) -> dict[str, Any]:
        """The LCW sequence: protocols -> {} -> VPR -> DIDAuth VP -> credential."""
        async with http.get(interaction_url, headers={"Accept": "application/json"}) as resp:
            assert resp.status == 200, await resp.text()
            exchange_url = (await resp.json())["protocols"]["vcapi"]
        async with http.post(exchange_url, json={}) as resp:
            assert resp.status == 200, await resp.text()
            vpr = (await resp.json())["verifiablePresentationRequest"]
        assert vpr["query"][0]["type"] == "DIDAuthentication"
        target = vpr["interact"]["service"][0]["serviceEndpoint"]
        body = {"verifiablePresentation": self.did_auth(vpr["challenge"], vpr["domain"])}
        async with http.post(target, json=body) as resp:
            assert resp.status == 200, await resp.text()
            out: dict[str, Any] = await resp.json()
            return out


async def _vpr(world: World, exchange_url: str) -> dict[str, Any]:
    resp = await world.client.session.post(exchange_url, json={})
    assert resp.status == 200, await resp.text()
    vpr: dict[str, Any] = (await resp.json())["verifiablePresentationRequest"]
    return vpr


# --- the whole flow --------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
async def test_holder_claims_stored_award_over_http(world: World, suite: str) -> None:
    award = await world.award()
    created = await world.create({"credentialId": award["id"]})
    assert created["state"] == "pending" and created["credentialId"] == award["id"]
    assert created["interactionUrl"] == (
        f"{world.base_url}/interactions/{created['exchangeId']}?iuv=1"
    )
    assert created["exchangeUrl"] == f"{world.base_url}/exchanges/{created['exchangeId']}"
    assert created["qrSvg"].startswith("<svg")
    deep = urlsplit(created["deepLink"])
    assert (deep.scheme, deep.netloc, deep.path) == ("https", "lcw.app", "/request.html")
    params = {k: v[0] for k, v in parse_qs(deep.query).items()}
    assert params["issuer"] == world.issuer.did and params["auth_type"] == "bearer"
    assert params["vc_request_url"] == created["exchangeUrl"] and params["challenge"]

    holder = Holder(suite)
    async with ClientSession() as http:
        out = await holder.claim(http, created["interactionUrl"])
    vp = out["verifiablePresentation"]
    assert vp["type"] == ["VerifiablePresentation"]
    [credential] = vp["verifiableCredential"]
    assert credential["credentialSubject"]["id"] == holder.did
    assert credential["credentialSubject"]["name"] == "Ada"
    assert credential["id"] != award["id"] and credential["issuer"] == world.issuer.did
    assert credential["validFrom"] == award["validFrom"]
    local = await verify_credential(credential, allow_private_hosts=True)
    assert local.verified, local.to_dict()
    # The server's own verifier (status lists fetched over HTTP) agrees.
    resp = await world.client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert resp.status == 200, await resp.text()
    # The award is kept as it was; the exchange records the copy it delivered.
    kept = await world.issuer.store.get_credential(award["id"])
    assert kept is not None and kept.credential == award
    resp = await world.client.get(
        f"/exchanges/{created['exchangeId']}",
        headers={"Authorization": f"Bearer {world.read_token}"},
    )
    state = await resp.json()
    assert state["state"] == "complete"
    assert state["result"]["credentialId"] == credential["id"]
    assert state["result"]["holder"] == holder.did


async def test_award_suites_are_reused(world: World) -> None:
    award = await world.issuer.issue(
        {
            "@context": [V1],
            "type": ["VerifiableCredential"],
            "issuer": world.issuer.did,
            "credentialSubject": {"id": "did:example:ada"},  # a subject makes a claim
        },
        suites=["Ed25519Signature2020"],
    )
    created = await world.create({"credentialId": award["id"]})
    async with ClientSession() as http:
        out = await Holder("Ed25519Signature2020").claim(http, created["interactionUrl"])
    [credential] = out["verifiablePresentation"]["verifiableCredential"]
    assert credential["proof"]["type"] == "Ed25519Signature2020"
    assert out["verifiablePresentation"]["@context"] == [V1]
    assert (await verify_credential(credential, allow_private_hosts=True)).verified


@pytest.mark.parametrize("purposes", [(), ("revocation",), ("revocation", "suspension")])
async def test_wallet_copy_keeps_the_awards_status_purposes(
    world: World, purposes: tuple[str, ...]
) -> None:
    """An Open Badges award carries a revocation entry only (its schema allows one status
    object); the copy a wallet receives must carry the same purposes, no more."""
    award = await world.issuer.issue(
        {
            "@context": [V2],
            "type": ["VerifiableCredential"],
            "issuer": world.issuer.did,
            "credentialSubject": {"name": "Ada"},
        },
        status=bool(purposes),
        status_purposes=list(purposes) or None,
    )
    created = await world.create({"credentialId": award["id"]})
    async with ClientSession() as http:
        out = await Holder().claim(http, created["interactionUrl"])
    [credential] = out["verifiablePresentation"]["verifiableCredential"]
    status = credential.get("credentialStatus", [])
    entries = status if isinstance(status, list) else [status]
    assert tuple(e["statusPurpose"] for e in entries) == purposes


async def test_template_exchange_and_html_interaction(world: World) -> None:
    template = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "credentialSubject": {"name": "Cy"},
    }
    created = await world.create({"credential": template, "ttl": "2h"})
    expires = datetime.fromisoformat(created["expires"].replace("Z", "+00:00"))
    assert timedelta(minutes=119) < expires - datetime.now(UTC) <= timedelta(hours=2)
    resp = await world.client.get(
        f"/interactions/{created['exchangeId']}?iuv=1", headers={"Accept": "text/html"}
    )
    assert resp.status == 200 and resp.content_type == "text/html"
    page = await resp.text()
    assert "<svg" in page and "https://lcw.app/request.html?" in page
    resp = await world.client.get(f"/exchanges/{created['exchangeId']}/qr.svg")
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    assert (await resp.text()).startswith("<svg")
    holder = Holder()
    async with ClientSession() as http:
        out = await holder.claim(http, created["interactionUrl"])
    [credential] = out["verifiablePresentation"]["verifiableCredential"]
    assert credential["credentialSubject"] == {"name": "Cy", "id": holder.did}


async def test_protocols_json_is_default(world: World) -> None:
    created = await world.create({"credentialId": (await world.award())["id"]})
    resp = await world.client.get(f"/interactions/{created['exchangeId']}?iuv=1")
    assert resp.status == 200
    body = await resp.json()
    assert body["protocols"]["vcapi"] == created["exchangeUrl"]
    assert body["protocols"]["lcw"] == created["deepLink"]


# --- failures --------------------------------------------------------------------------------


async def _problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body: dict[str, Any] = await resp.json()
    assert body["code"] == code, body
    return body


async def _open(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    created = await world.create({"credentialId": (await world.award())["id"]})
    return created, await _vpr(world, created["exchangeUrl"])


async def test_wrong_challenge_is_refused_and_exchange_stays_usable(world: World) -> None:
    created, vpr = await _open(world)
    holder = Holder()
    bad = holder.did_auth("not-the-challenge", vpr["domain"])
    resp = await world.client.session.post(
        created["exchangeUrl"], json={"verifiablePresentation": bad}
    )
    await _problem(resp, 422, "INVALID_CHALLENGE_ERROR")
    good = holder.did_auth(vpr["challenge"], vpr["domain"])
    resp = await world.client.session.post(
        created["exchangeUrl"], json={"verifiablePresentation": good}
    )
    assert resp.status == 200, await resp.text()


async def test_wrong_domain_is_refused(world: World) -> None:
    created, vpr = await _open(world)
    bad = Holder().did_auth(vpr["challenge"], "https://evil.example")
    resp = await world.client.session.post(
        created["exchangeUrl"], json={"verifiablePresentation": bad}
    )
    await _problem(resp, 422, "INVALID_DOMAIN_ERROR")


async def test_presentation_signed_by_another_key_is_refused(world: World) -> None:
    created, vpr = await _open(world)
    holder, intruder = Holder(), Ed25519Key.generate()
    bad = holder.did_auth(vpr["challenge"], vpr["domain"], signer=intruder)
    resp = await world.client.session.post(
        created["exchangeUrl"], json={"verifiablePresentation": bad}
    )
    await _problem(resp, 422, "HOLDER_MISMATCH")


async def test_tampered_presentation_is_refused(world: World) -> None:
    created, vpr = await _open(world)
    holder = Holder()
    vp = holder.did_auth(vpr["challenge"], vpr["domain"])
    vp["holder"] = Holder().did  # the signature no longer covers this holder
    resp = await world.client.session.post(
        created["exchangeUrl"], json={"verifiablePresentation": vp}
    )
    body = await _problem(resp, 422, "HOLDER_MISMATCH")
    assert "proof: the signature does not match" in body["detail"]
    # Refused, not consumed: the genuine presentation still completes the exchange.
    genuine = {"verifiablePresentation": holder.did_auth(vpr["challenge"], vpr["domain"])}
    resp = await world.client.session.post(created["exchangeUrl"], json=genuine)
    assert resp.status == 200, await resp.text()


async def test_unsigned_presentation_is_refused(world: World) -> None:
    created, _ = await _open(world)
    vp = {"@context": [V2], "type": ["VerifiablePresentation"], "holder": Holder().did}
    resp = await world.client.session.post(
        created["exchangeUrl"], json={"verifiablePresentation": vp}
    )
    await _problem(resp, 422, "PRESENTATION_NOT_SIGNED")


async def test_exchange_used_twice(world: World) -> None:
    created, vpr = await _open(world)
    first, second = Holder(), Holder()
    body = {"verifiablePresentation": first.did_auth(vpr["challenge"], vpr["domain"])}
    resp = await world.client.session.post(created["exchangeUrl"], json=body)
    assert resp.status == 200
    again = {"verifiablePresentation": second.did_auth(vpr["challenge"], vpr["domain"])}
    resp = await world.client.session.post(created["exchangeUrl"], json=again)
    await _problem(resp, 409, "EXCHANGE_ALREADY_USED")
    resp = await world.client.session.post(created["exchangeUrl"], json=body)  # even a replay
    await _problem(resp, 409, "EXCHANGE_ALREADY_USED")
    resp = await world.client.session.get(created["interactionUrl"])
    await _problem(resp, 409, "EXCHANGE_ALREADY_USED")


async def test_racing_wallets_get_one_credential(world: World) -> None:
    created, vpr = await _open(world)
    holders = [Holder() for _ in range(6)]
    bodies = [
        {"verifiablePresentation": h.did_auth(vpr["challenge"], vpr["domain"])} for h in holders
    ]
    responses = await asyncio.gather(
        *(world.client.session.post(created["exchangeUrl"], json=b) for b in bodies)
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [409] * 5, statuses
    winner = next(r for r in responses if r.status == 200)
    [credential] = (await winner.json())["verifiablePresentation"]["verifiableCredential"]
    assert credential["credentialSubject"]["id"] in {h.did for h in holders}
    assert await world.issuer.store.count_credentials() == 2  # the award and one copy


async def test_expired_exchange(world: World) -> None:
    created, vpr = await _open(world)
    world.clock.offset = timedelta(minutes=15, seconds=1)
    body = {"verifiablePresentation": Holder().did_auth(vpr["challenge"], vpr["domain"])}
    resp = await world.client.session.post(created["exchangeUrl"], json=body)
    await _problem(resp, 410, "EXCHANGE_EXPIRED")
    resp = await world.client.session.get(created["interactionUrl"])
    await _problem(resp, 410, "EXCHANGE_EXPIRED")
    resp = await world.client.session.post(created["exchangeUrl"], json={})
    await _problem(resp, 410, "EXCHANGE_EXPIRED")


async def test_unknown_exchange(world: World) -> None:
    for method, path in (
        ("POST", "/exchanges/nope"),
        ("GET", "/interactions/nope?iuv=1"),
        ("GET", "/exchanges/nope/qr.svg"),
    ):
        resp = await world.client.request(method, path, json={} if method == "POST" else None)
        await _problem(resp, 404, "NOT_FOUND")


async def test_create_requires_issue_scope_and_valid_input(world: World) -> None:
    award = await world.award()
    resp = await world.client.post("/exchanges", json={"credentialId": award["id"]})
    assert resp.status == 401
    resp = await world.client.post(
        "/exchanges",
        json={"credentialId": award["id"]},
        headers={"Authorization": f"Bearer {world.read_token}"},
    )
    assert resp.status == 403
    for body, status in (
        ({}, 400),
        ({"credentialId": award["id"], "credential": {"credentialSubject": {}}}, 400),
        ({"credentialId": "urn:uuid:missing"}, 404),
        ({"credentialId": award["id"], "ttl": "forever"}, 400),
        ({"credentialId": award["id"], "ttl": "31d"}, 400),
        ({"credential": {"type": ["VerifiableCredential"], "proof": {}}}, 400),
        ({"credential": {"credentialSubject": [{}, {}]}}, 400),
    ):
        resp = await world.client.post("/exchanges", json=body, headers=world.auth)
        assert resp.status == status, (body, await resp.text())


async def test_bare_presentation_body_is_accepted(world: World) -> None:
    """Older LCW builds post the VP itself, not wrapped in verifiablePresentation."""
    created, vpr = await _open(world)
    holder = Holder()
    resp = await world.client.session.post(
        created["exchangeUrl"], json=holder.did_auth(vpr["challenge"], vpr["domain"])
    )
    assert resp.status == 200, await resp.text()
