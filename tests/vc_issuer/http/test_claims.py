"""Personal claim links over a real server: the claim page's two wallet links work end to end
(the LCW's VC API exchange and an OpenID4VCI wallet, both holders written in the tests), every
visit makes fresh single-use hand-overs, and expired, revoked, unknown or foreign tokens show
nothing that delivers the badge. The public credential page shows wallet links only with a
valid claim token of that very credential."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from vc_issuer.wallets.oid4vci import CONFIGURATION_ID, CONFIGURATIONS, PRE_AUTHORIZED_GRANT

from ..hostile._live_server import open_badge
from .conftest import Authed, served
from .test_exchanges import Holder as LcwHolder
from .test_oid4vci import Holder as OidHolder

FORM = "application/x-www-form-urlencoded"
HTML_ACCEPT = {"Accept": "text/html"}
JSON_ACCEPT = {"Accept": "application/json"}


class World(Authed):
    async def award(self, name: str = "Rust Foundations") -> str:
        credential = open_badge(self.issuer.did, name)
        signed = await self.issuer.issue(credential, status_purposes=["revocation"])
        return str(signed["id"])

    async def claim(self, credential_id: str, **body: Any) -> dict[str, Any]:
        resp = await self.client.post(
            "/claims", json={"credentialId": credential_id, **body}, headers=self.auth
        )
        assert resp.status == 201, await resp.text()
        out: dict[str, Any] = await resp.json()
        return out

    def path(self, url: str) -> str:
        assert url.startswith(self.base_url + "/"), url
        return url[len(self.base_url) :]

    async def page_id(self, credential_id: str) -> str:
        record = await self.issuer.store.get_credential(credential_id)
        assert record is not None
        return record.page_id


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with served(tmp_path) as s:
        yield await World.of(s)


class Page(HTMLParser):
    """Links (by id) and inline SVG count of a page, read like a browser would."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self.hrefs: list[str] = []
        self.svgs = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
            if a.get("id"):
                self.links[str(a["id"])] = str(a["href"])
        if tag == "svg":
            self.svgs += 1


async def lcw_claim(world: World, deep_link: str, holder: LcwHolder) -> dict[str, Any]:
    """What the LCW does with the deep link: POST {} to vc_request_url, then a DIDAuth VP."""
    deep = urlsplit(deep_link)
    assert (deep.scheme, deep.netloc, deep.path) == ("https", "lcw.app", "/request.html")
    params = {k: v[0] for k, v in parse_qs(deep.query).items()}
    assert params["issuer"] == world.issuer.did
    resp = await world.client.post(world.path(params["vc_request_url"]), json={})
    assert resp.status == 200, await resp.text()
    vpr = (await resp.json())["verifiablePresentationRequest"]
    assert vpr["challenge"] == params["challenge"]
    target = vpr["interact"]["service"][0]["serviceEndpoint"]
    body = {"verifiablePresentation": holder.did_auth(vpr["challenge"], vpr["domain"])}
    resp = await world.client.post(world.path(target), json=body)
    assert resp.status == 200, await resp.text()
    [credential] = (await resp.json())["verifiablePresentation"]["verifiableCredential"]
    return dict(credential)


async def oid4vci_claim(world: World, offer_uri: str, holder: OidHolder) -> dict[str, Any]:
    """What an OpenID4VCI wallet does with an offer by reference."""
    parts = urlsplit(offer_uri)
    assert parts.scheme == "openid-credential-offer"
    ref = parse_qs(parts.query)["credential_offer_uri"][0]
    resp = await world.client.get(world.path(ref))
    assert resp.status == 200, await resp.text()
    offer = await resp.json()
    assert offer["credential_configuration_ids"] == list(CONFIGURATIONS)
    grant = offer["grants"][PRE_AUTHORIZED_GRANT]
    assert "tx_code" not in grant  # claim-link offers: the link itself is the second channel
    form = {"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": grant["pre-authorized_code"]}
    resp = await world.client.post("/token", data=form)
    assert resp.status == 200, await resp.text()
    access = (await resp.json())["access_token"]
    resp = await world.client.post("/nonce")
    nonce = (await resp.json())["c_nonce"]
    jwt = holder.proof(aud=offer["credential_issuer"], nonce=nonce)
    body = {"credential_configuration_id": CONFIGURATION_ID, "proofs": {"jwt": [jwt]}}
    resp = await world.client.post(
        "/credential", json=body, headers={"Authorization": f"Bearer {access}"}
    )
    assert resp.status == 200, await resp.text()
    return dict((await resp.json())["credentials"][0]["credential"])


async def verified(world: World, credential: dict[str, Any]) -> None:
    resp = await world.client.post("/credentials/verify", json={"verifiableCredential": credential})
    assert resp.status == 200, await resp.text()


# --- the claim page ------------------------------------------------------------------------------


async def test_claim_page_links_deliver_to_both_wallet_kinds(world: World) -> None:
    award_id = await world.award()
    claim = await world.claim(award_id)
    assert claim["claimLink"].startswith(f"{world.base_url}/claim/")
    assert claim["credentialId"] == award_id
    token = claim["claimLink"].rsplit("/", 1)[1]
    assert len(token) >= 43

    resp = await world.client.get(world.path(claim["claimLink"]), headers=HTML_ACCEPT)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    text = await resp.text()
    assert "Rust Foundations" in text and "Example Academy" in text
    assert 'name="robots" content="noindex' in text
    page = Page(text)
    assert page.svgs == 2  # two inline QR codes
    assert page.links["lcw-link"].startswith("https://lcw.app/request.html?")
    assert page.links["oid4vci-link"].startswith("openid-credential-offer://?credential_offer_uri=")
    assert f"/c/{await world.page_id(award_id)}" in page.hrefs

    lcw_holder = LcwHolder()
    vc = await lcw_claim(world, page.links["lcw-link"], lcw_holder)
    assert vc["credentialSubject"]["id"] == lcw_holder.did and vc["id"] != award_id
    await verified(world, vc)

    oid_holder = OidHolder()
    vc2 = await oid4vci_claim(world, page.links["oid4vci-link"], oid_holder)
    assert vc2["credentialSubject"]["id"] == oid_holder.key.did
    assert vc2["credentialSubject"]["achievement"]["name"] == "Rust Foundations"
    await verified(world, vc2)

    # the hand-overs were single use; the claim link is not: a reload gives fresh ones
    again = Page(await (await world.client.get(world.path(claim["claimLink"]))).text())
    assert again.links["lcw-link"] != page.links["lcw-link"]
    assert again.links["oid4vci-link"] != page.links["oid4vci-link"]
    vc3 = await lcw_claim(world, again.links["lcw-link"], LcwHolder())
    assert vc3["id"] not in (vc["id"], vc2["id"])
    record = await world.issuer.store.find_claim(hashlib.sha256(token.encode()).hexdigest())
    assert record is not None and record.last_used_at is not None


async def test_claim_json_has_the_same_links(world: World) -> None:
    award_id = await world.award()
    claim = await world.claim(award_id)
    resp = await world.client.get(world.path(claim["claimLink"]), headers=JSON_ACCEPT)
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    links = await resp.json()
    assert links["credentialId"] == award_id and links["badgeName"] == "Rust Foundations"
    assert links["claimLink"] == claim["claimLink"] and links["claimId"] == claim["id"]
    assert links["lcw"]["interactionUrl"].endswith("?iuv=1")
    assert links["oid4vci"]["txCodeRequired"] is False and "txCode" not in links["oid4vci"]
    # the Python LCW holder from the exchange tests, via the interaction URL
    holder = LcwHolder()
    vc = await lcw_claim(world, links["lcw"]["deepLink"], holder)
    assert vc["credentialSubject"]["id"] == holder.did
    vc2 = await oid4vci_claim(world, links["oid4vci"]["credentialOfferUri"], OidHolder())
    await verified(world, vc2)


async def test_only_the_token_hash_is_stored(world: World) -> None:
    award_id = await world.award()
    claim = await world.claim(award_id)
    token = claim["claimLink"].rsplit("/", 1)[1]
    [record] = await world.issuer.store.list_claims(credential_id=award_id)
    assert record.id == claim["id"]
    assert record.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(record)


# --- links that no longer work -------------------------------------------------------------------


async def _gone(world: World, url: str, status: int, code: str) -> None:
    resp = await world.client.get(world.path(url), headers=HTML_ACCEPT)
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "text/html"
    page = Page(text)
    assert page.svgs == 0 and "lcw-link" not in page.links and "openid-credential-offer" not in text
    resp = await world.client.get(world.path(url), headers=JSON_ACCEPT)
    assert resp.status == status
    assert (await resp.json())["code"] == code


async def test_expired_claim(world: World) -> None:
    claim = await world.claim(await world.award())
    world.clock.offset = timedelta(days=30, seconds=1)
    await _gone(world, claim["claimLink"], 410, "CLAIM_EXPIRED")


async def test_custom_lifetime(world: World) -> None:
    claim = await world.claim(await world.award(), expires="2d")
    world.clock.offset = timedelta(days=1, hours=23)
    resp = await world.client.get(world.path(claim["claimLink"]))
    assert resp.status == 200
    world.clock.offset = timedelta(days=2)
    await _gone(world, claim["claimLink"], 410, "CLAIM_EXPIRED")


async def test_revoked_claim(world: World) -> None:
    claim = await world.claim(await world.award())
    resp = await world.client.delete(f"/claims/{claim['id']}", headers=world.auth)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["revoked"]
    await _gone(world, claim["claimLink"], 410, "CLAIM_REVOKED")
    resp = await world.client.delete("/claims/nope-nope", headers=world.auth)
    assert resp.status == 404


async def test_unknown_claims(world: World) -> None:
    await _gone(world, f"{world.base_url}/claim/{'A' * 43}", 404, "CLAIM_NOT_FOUND")
    await _gone(world, f"{world.base_url}/claim/short", 404, "CLAIM_NOT_FOUND")


async def test_revoked_badge_cannot_be_claimed(world: World) -> None:
    award_id = await world.award()
    claim = await world.claim(award_id)
    await world.issuer.revoke(award_id)
    await _gone(world, claim["claimLink"], 410, "CREDENTIAL_NOT_DELIVERABLE")


async def test_create_needs_issue_scope_and_a_known_credential(world: World) -> None:
    award_id = await world.award()
    resp = await world.client.post("/claims", json={"credentialId": award_id})
    assert resp.status == 401
    resp = await world.client.post(
        "/claims",
        json={"credentialId": award_id},
        headers={"Authorization": f"Bearer {world.read_token}"},
    )
    assert resp.status == 403
    for body, status, code in [
        ({}, 400, "MALFORMED_VALUE_ERROR"),
        ({"credentialId": 5}, 400, "MALFORMED_VALUE_ERROR"),
        ({"credentialId": award_id, "expires": "soon"}, 400, "INVALID_TTL"),
        ({"credentialId": award_id, "expires": "400d"}, 400, "INVALID_TTL"),
        ({"credentialId": "urn:uuid:nope"}, 404, "NOT_FOUND"),
    ]:
        resp = await world.client.post("/claims", json=body, headers=world.auth)
        assert resp.status == status, (body, await resp.text())
        assert (await resp.json())["code"] == code
    assert await world.issuer.store.list_claims() == []


# --- the public credential page ------------------------------------------------------------------


async def test_credential_page_shows_links_only_with_a_valid_claim_of_that_credential(
    world: World,
) -> None:
    award_id = await world.award()
    other_id = await world.award("Another badge")
    page_path = f"/c/{await world.page_id(award_id)}"
    mine = await world.claim(award_id)
    token = mine["claimLink"].rsplit("/", 1)[1]
    foreign = (await world.claim(other_id))["claimLink"].rsplit("/", 1)[1]

    public = await (await world.client.get(page_path)).text()
    assert "received a personal claim link" in public
    assert "Wallet links will appear here" not in public
    assert "openid-credential-offer" not in public and "lcw.app" not in public

    resp = await world.client.get(f"{page_path}?claim={token}")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    page = Page(await resp.text())
    assert page.svgs == 2 and mine["claimLink"] in page.hrefs
    holder = LcwHolder()
    vc = await lcw_claim(world, page.links["lcw-link"], holder)
    assert vc["credentialSubject"]["id"] == holder.did

    for bad, message in [
        (foreign, "not valid for this badge"),
        ("A" * 43, "not valid for this badge"),
    ]:
        resp = await world.client.get(f"{page_path}?claim={bad}")
        text = await resp.text()
        assert resp.status == 200 and message in text
        assert "openid-credential-offer" not in text and "lcw.app" not in text
    await world.client.delete(f"/claims/{mine['id']}", headers=world.auth)
    text = await (await world.client.get(f"{page_path}?claim={token}")).text()
    assert "withdrew this claim link" in text and "lcw.app" not in text


async def test_openapi_describes_the_claim_routes(world: World) -> None:
    doc = await (await world.client.get("/openapi.json")).json()
    assert doc["paths"]["/claims"]["post"]["operationId"] == "createClaim"
    assert "delete" in doc["paths"]["/claims/{id}"]
    assert "get" in doc["paths"]["/claim/{token}"]
