"""The public display side over a real app on 127.0.0.1: ``/``, ``/issuer``, the badge catalog
at the achievement ids, share and embed links on the credential page, oEmbed and the
printable certificate. Designs and awards go through the real API; PDFs are read back with
poppler and zbar."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from xml.etree import ElementTree

import pytest

from vc_issuer.badges.achievements import AchievementService
from vc_issuer.badges.openbadges import Achievement, Criteria, IssuerProfile, build_award
from vc_issuer.core.jose import enveloped_token, parse_jws

from .._pdf import pdf_info, pdf_qr_codes, pdf_text
from .conftest import Env, EnvFactory
from .test_achievements_api import award, create

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON_LD = {"Accept": "application/ld+json"}
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


async def set_profile(env: Env, **fields: Any) -> None:
    service = AchievementService(env.issuer.store, base_url=env.base_url)
    await service.set_profile(env.did, fields)


async def awarded(env: Env, name: str = "Ada Lovelace") -> tuple[dict[str, Any], dict[str, Any]]:
    """(the stored design, the award answer) for a fresh design awarded to ``name``."""
    design = await create(env)
    answer = await award(env, design["key"], {"recipient": {"id": "did:example:ada", "name": name}})
    return design, answer


def page_path(answer: dict[str, Any]) -> str:
    return str(urlsplit(answer["pageUrl"]).path)


async def page(env: Env, path: str, status: int = 200) -> str:
    resp = await env.client.get(path, headers=BROWSER)
    text = await resp.text()
    assert resp.status == status, text
    assert resp.content_type == "text/html"
    return text


def link(text: str, element_id: str) -> str:
    """The (unescaped) href of the link with ``element_id``."""
    match = re.search(rf'<a [^>]*id="{element_id}"[^>]*href="([^"]*)"', text) or re.search(
        rf'<a [^>]*href="([^"]*)"[^>]*id="{element_id}"', text
    )
    assert match is not None, element_id
    return html.unescape(match.group(1))


def embed_snippet(text: str) -> str:
    """The HTML to copy, as the page's textarea holds it."""
    match = re.search(r'<textarea id="embed-code"[^>]*>(.*?)</textarea>', text, re.S)
    assert match is not None
    return html.unescape(match[1])


# --- home and issuer profile ----------------------------------------------------------------------


async def test_home_is_a_page_for_browsers_and_json_for_programs(env: Env) -> None:
    await set_profile(env, name="Example University", url="https://example.edu")
    text = await page(env, "/")
    assert '<h1 id="issuer-name">Example University</h1>' in text
    for href in (
        'href="/verify"',
        'href="/achievements"',
        'href="/issuer"',
        'href="/openapi.json"',
    ):
        assert href in text, href
    resp = await env.client.get("/")  # */*
    assert resp.status == 200 and resp.content_type == "application/json"
    body = await resp.json()
    assert body["issuer"] == {
        "id": env.did,
        "type": ["Profile"],
        "name": "Example University",
        "url": "https://example.edu",
    }
    assert body["links"]["verify"] == env.base_url + "/verify"
    assert body["links"]["openapi"] == env.base_url + "/openapi.json"
    assert body["links"]["achievements"] == env.base_url + "/achievements"
    assert "Accept" in resp.headers["Vary"]


async def test_issuer_profile_page_and_json_ld(env: Env) -> None:
    logo = (await create(env))["achievement"]["image"]["id"]  # a stored image of ours
    await set_profile(
        env,
        name="Example University",
        url="https://example.edu",
        email="badges@example.edu",
        description="Teaching since 1850.",
        image={"id": logo, "type": "Image"},
    )
    resp = await env.client.get("/issuer", headers=JSON_LD)
    assert resp.status == 200 and resp.content_type == "application/ld+json"
    doc = await resp.json()
    assert doc["@context"] == ["https://www.w3.org/ns/credentials/v2", OB_CONTEXT]
    assert (doc["id"], doc["name"], doc["email"]) == (
        env.did,
        "Example University",
        "badges@example.edu",
    )
    resp = await env.client.get("/issuer", headers={"Accept": "application/json"})
    assert resp.content_type == "application/json" and (await resp.json()) == doc
    text = await page(env, "/issuer")
    for seen in (
        ">Example University</h1>",
        "Teaching since 1850.",
        'href="https://example.edu"',
        'href="mailto:badges@example.edu"',
        env.did,
        f'src="{urlsplit(logo).path}"',  # our own image, by path
        ">Python 101</a>",  # its badges
    ):
        assert seen in text, seen


async def test_a_profile_change_shows_at_once(env: Env) -> None:
    await set_profile(env, name="Old Name")
    assert "Old Name" in await page(env, "/issuer")
    await set_profile(env, name="New Name")
    text = await page(env, "/issuer")
    assert "New Name" in text and "Old Name" not in text


async def test_an_unnamed_issuer_is_named_by_its_did_once(env: Env) -> None:
    _, answer = await awarded(env)  # no profile set: badges name the issuer by its DID
    text = await page(env, page_path(answer))
    assert f"{env.did} ({env.did})" not in text
    assert f"It was signed by its issuer, {env.did}." in text
    assert "An unnamed issuer" in await page(env, "/issuer")
    body = await (await env.client.get("/issuer")).json()
    assert body["name"] == env.did  # OB requires a name; machines get the DID


# --- the catalog at the achievement ids -----------------------------------------------------------


async def test_catalog_lists_current_designs_only(env: Env) -> None:
    await set_profile(env, name="Example University")
    kept = await create(env, name="Kept")
    gone = await create(env, name="Gone")
    resp = await env.client.post(f"/achievements/{gone['key']}/archive", headers=env.auth("issue"))
    assert resp.status == 200
    resp = await env.client.get("/achievements")  # no token: the public catalog
    assert resp.status == 200 and resp.content_type == "application/json"
    body = await resp.json()
    assert body["issuer"]["name"] == "Example University"
    assert [a["id"] for a in body["achievements"]] == [kept["id"]]
    assert body["achievements"][0] == kept["achievement"]  # the OB object, as awards embed it
    text = await page(env, "/achievements")
    assert "Badges from Example University" in text
    assert f'href="/achievements/{kept["key"]}"' in text and ">Kept</a>" in text
    assert "Gone" not in text


async def test_an_achievement_id_resolves_for_browsers_and_machines(env: Env) -> None:
    await set_profile(env, name="Example University", email="badges@example.edu")
    design, answer = await awarded(env)
    embedded = answer["verifiableCredential"]["credentialSubject"]["achievement"]
    assert embedded["id"] == design["id"] == f"{env.base_url}/achievements/{design['key']}"
    path = urlsplit(embedded["id"]).path
    resp = await env.client.get(path, headers=JSON_LD)
    assert resp.status == 200 and resp.content_type == "application/ld+json"
    doc = await resp.json()
    assert doc.pop("@context") == ["https://www.w3.org/ns/credentials/v2", OB_CONTEXT]
    assert doc.pop("creator") == {"id": env.did, "type": ["Profile"], "name": "Example University",
                                  "email": "badges@example.edu"}  # fmt: skip
    assert doc == embedded  # the same achievement the badge signed
    plain = await env.client.get(path)  # no token, */*: the same document as JSON
    assert plain.content_type == "application/json" and (await plain.json())["id"] == embedded["id"]
    text = await page(env, path)
    for seen in (
        '<h1 id="achievement-name">Python 101</h1>',
        "Writes and tests small Python programs.",
        "How to earn it",
        "Pass the final project.",
        "Programming",
        "ESCO",
        'href="/issuer">Example University</a>',
        'write to <a href="mailto:badges@example.edu">',
        f'<link rel="canonical" href="{embedded["id"]}">',
        f'src="{urlsplit(embedded["image"]["id"]).path}"',
    ):
        assert seen in text, seen
    # The page links to it from the badge's own page.
    assert link(await page(env, page_path(answer)), "achievement-link") == path


async def test_archived_and_updated_designs_keep_their_awards_meaningful(env: Env) -> None:
    design, answer = await awarded(env)
    key = design["key"]
    changed = {k: v for k, v in design["achievement"].items() if k not in ("id", "version")}
    resp = await env.client.put(
        f"/achievements/{key}",
        json={**changed, "name": "Python 101 (2025)"},
        headers={**env.auth("issue"), "If-Match": '"1"'},
    )
    assert resp.status == 200, await resp.text()
    await env.client.post(f"/achievements/{key}/archive", headers=env.auth("issue"))
    # The old award still verifies, and its achievement id still resolves (current version).
    resp = await env.client.post(
        "/credentials/verify", json={"verifiableCredential": answer["verifiableCredential"]}
    )
    assert resp.status == 200 and (await resp.json())["verified"] is True
    doc = await (await env.client.get(f"/achievements/{key}", headers=JSON_LD)).json()
    assert (
        doc["id"] == design["id"] and doc["name"] == "Python 101 (2025)" and doc["version"] == "2"
    )
    text = await page(env, f"/achievements/{key}")
    assert "This badge is no longer awarded" in text
    assert "To ask about earning it" not in text


async def test_unknown_achievement_is_a_404_for_both(env: Env) -> None:
    path = "/achievements/00000000-0000-4000-8000-000000000000"
    resp = await env.client.get(path)
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    assert (await resp.json())["code"] == "ACHIEVEMENT_NOT_FOUND"
    assert "There is no badge at this address" in await page(env, path, 404)
    resp = await env.client.get("/achievements/not-a-key", headers=JSON_LD)
    assert resp.status == 404 and (await resp.json())["code"] == "ACHIEVEMENT_NOT_FOUND"


async def test_the_admin_api_keeps_its_shape(env: Env) -> None:
    design = await create(env)
    archived = await create(env, name="Archived")
    await env.client.post(f"/achievements/{archived['key']}/archive", headers=env.auth("issue"))
    resp = await env.client.get(f"/achievements/{design['key']}", headers=env.auth("read"))
    assert resp.status == 200 and resp.headers["ETag"] == '"1"'
    assert (await resp.json())["key"] == design["key"]  # the stored design, not the OB object
    resp = await env.client.get("/achievements?all=1", headers=env.auth("read"))
    assert len((await resp.json())["achievements"]) == 2
    # Admin-only parameters still need the token; a bad token is still refused.
    for path in ("/achievements?all=1", f"/achievements/{design['key']}?version=1"):
        resp = await env.client.get(path)
        assert resp.status == 401 and (await resp.json())["code"] == "UNAUTHORIZED"
    resp = await env.client.get("/achievements", headers={"Authorization": "Bearer vci_x"})
    assert resp.status == 401
    # A token holder asking for JSON-LD gets the public view.
    resp = await env.client.get(
        f"/achievements/{design['key']}", headers={**env.auth("read"), **JSON_LD}
    )
    assert resp.content_type == "application/ld+json" and "key" not in await resp.json()


async def test_without_authentication_every_caller_is_still_admin(make_env: EnvFactory) -> None:
    env = await make_env(auth=False)
    design = await create(env)
    resp = await env.client.get(f"/achievements/{design['key']}")
    assert (await resp.json())["key"] == design["key"]
    resp = await env.client.get(f"/achievements/{design['key']}", headers=BROWSER)
    assert resp.content_type == "text/html"


# --- share and embed on the credential page -------------------------------------------------------


async def test_credential_page_offers_linkedin_share_embed_and_certificate(env: Env) -> None:
    await set_profile(env, name="Example University")
    _, answer = await awarded(env)
    cred = answer["verifiableCredential"]
    page_url = answer["pageUrl"]
    text = await page(env, page_path(answer))
    linkedin = link(text, "linkedin-add")
    assert linkedin.startswith("https://www.linkedin.com/profile/add?")
    awarded_at = cred["awardedDate"]
    assert parse_qs(urlsplit(linkedin).query) == {
        "startTask": ["CERTIFICATION_NAME"],
        "name": ["Python 101"],
        "organizationName": ["Example University"],
        "issueYear": [str(int(awarded_at[:4]))],
        "issueMonth": [str(int(awarded_at[5:7]))],
        "certUrl": [page_url],
        "certId": [cred["id"]],
    }
    assert parse_qs(urlsplit(link(text, "share-linkedin")).query) == {"url": [page_url]}
    assert parse_qs(urlsplit(link(text, "share-facebook")).query) == {"u": [page_url]}
    assert link(text, "share-email").startswith("mailto:?")
    assert f'value="{page_url}"' in text  # the link to copy
    # oEmbed discovery, Open Graph unchanged.
    oembed = f"{env.base_url}/oembed?url={quote(page_url, safe='')}&amp;format=json"
    assert f'<link rel="alternate" type="application/json+oembed" href="{oembed}"' in text
    assert f'<meta property="og:url" content="{page_url}">' in text
    assert '<meta property="og:title" content="Python 101 — Ada Lovelace">' in text
    # The embed snippet: a card with image, name, issuer and a verify link, and no script.
    snippet = embed_snippet(text)
    assert "<script" not in snippet.lower() and "javascript:" not in snippet.lower()
    verify = re.search(r'<a href="([^"]*)"[^>]*>Verify this badge</a>', snippet)
    assert verify is not None and verify[1] == page_url
    image = cred["credentialSubject"]["achievement"]["image"]["id"]
    assert f'<img src="{image}" alt="Badge image for Python 101"' in snippet
    assert "Issued by Example University" in snippet and "Awarded to Ada Lovelace" in snippet
    # The preview uses classes (the page's policy forbids inline styles).
    assert (
        'id="embed-card"' in text
        and 'style="' not in text.split('id="embed-card"')[1].split("</div>")[0]
    )
    # The certificate, in both paper sizes.
    assert link(text, "certificate-link") == f"{page_path(answer)}/certificate.pdf"
    assert link(text, "certificate-letter-link").endswith("/certificate.pdf?paper=letter")


async def test_a_claim_link_never_leaks_into_share_links(env: Env) -> None:
    _, answer = await awarded(env)
    token = answer["claimUrl"].rsplit("/", 1)[1]
    text = await page(env, f"{page_path(answer)}?claim={token}")
    share = text.split('id="share"')[1].split("</section>")[0]
    assert token not in share
    assert answer["pageUrl"] in share


async def test_a_revoked_badge_is_not_offered_for_sharing(env: Env) -> None:
    _, answer = await awarded(env)
    await env.issuer.revoke(answer["credentialId"])
    text = await page(env, page_path(answer))
    assert 'id="linkedin-add"' not in text and 'id="embed-code"' not in text
    assert "Sharing is offered while a credential is valid; this one is revoked." in text
    assert 'id="certificate-link"' in text


# --- oEmbed ---------------------------------------------------------------------------------------


async def test_oembed_returns_the_card(env: Env) -> None:
    await set_profile(env, name="Example University")
    _, answer = await awarded(env)
    page_url = answer["pageUrl"]
    resp = await env.client.get("/oembed", params={"url": page_url, "format": "json"})
    assert resp.status == 200 and resp.content_type == "application/json"
    body = await resp.json()
    assert {k: v for k, v in body.items() if k != "html"} == {
        "version": "1.0",
        "type": "rich",
        "title": "Python 101 — Ada Lovelace",
        "provider_name": "Example University",
        "provider_url": env.base_url,
        "author_name": "Example University",
        "width": 360,
        "height": 140,
        "cache_age": 3600,
    }
    text = await page(env, page_path(answer))
    snippet = embed_snippet(text)
    assert body["html"] == snippet  # one card, two ways to get it
    # maxwidth narrows the card; a pasted link's query (even a claim token) is ignored.
    token = answer["claimUrl"].rsplit("/", 1)[1]
    resp = await env.client.get(
        "/oembed", params={"url": f"{page_url}?claim={token}#top", "maxwidth": "280"}
    )
    narrow = await resp.json()
    assert narrow["width"] == 280 and "max-width:280px" in narrow["html"]
    assert token not in narrow["html"]
    # The XML format carries the same fields.
    resp = await env.client.get("/oembed", params={"url": page_url, "format": "xml"})
    assert resp.status == 200 and resp.content_type == "text/xml"
    root = ElementTree.fromstring(await resp.read())
    assert root.tag == "oembed"
    assert {child.tag: child.text for child in root} == {k: str(v) for k, v in body.items()}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 400, "MALFORMED_VALUE_ERROR"),
        ({"url": "https://evil.example/c/5f0c"}, 404, "URL_NOT_ON_THIS_SERVER"),
        ({"url": "{base}.evil.example/c/5f0c"}, 404, "URL_NOT_ON_THIS_SERVER"),
        ({"url": "https://{host}/c/5f0c"}, 404, "URL_NOT_ON_THIS_SERVER"),  # wrong scheme
        ({"url": "{base}/verify"}, 404, "CREDENTIAL_PAGE_NOT_FOUND"),
        ({"url": "{base}/c/5f0c/credential.json"}, 404, "CREDENTIAL_PAGE_NOT_FOUND"),
        (
            {"url": "{base}/c/00000000-0000-4000-8000-000000000000"},
            404,
            "CREDENTIAL_PAGE_NOT_FOUND",
        ),
        ({"url": "{page}", "format": "yaml"}, 400, "FORMAT_NOT_SUPPORTED"),
        ({"url": "{page}", "maxwidth": "wide"}, 400, "MALFORMED_VALUE_ERROR"),
        ({"url": "{page}", "maxheight": "-1"}, 400, "MALFORMED_VALUE_ERROR"),
    ],
)
async def test_oembed_refuses_what_it_does_not_describe(
    env: Env, params: dict[str, str], status: int, code: str
) -> None:
    _, answer = await awarded(env)
    values = {
        "base": env.base_url,
        "host": urlsplit(env.base_url).netloc,
        "page": answer["pageUrl"],
    }
    resp = await env.client.get(
        "/oembed", params={k: v.format(**values) for k, v in params.items()}
    )
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["code"] == code


# --- the certificate ------------------------------------------------------------------------------


async def test_certificate_pdf_shows_the_badge_and_links_its_page(env: Env) -> None:
    await set_profile(env, name="Example University")
    _, answer = await awarded(env, name="Grace Hopper")
    resp = await env.client.get(page_path(answer) + "/certificate.pdf")
    assert resp.status == 200 and resp.content_type == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-cache"
    pdf = await resp.read()
    text = pdf_text(pdf)
    for seen in ("Grace Hopper", "Python 101", "Issued by Example University", f"DID: {env.did}",
                 "Expires: does not expire", answer["credentialId"]):  # fmt: skip
        assert seen in text, seen
    assert "REVOKED" not in text
    assert pdf_qr_codes(pdf) == [answer["pageUrl"]]
    assert b"/Subtype /Image" in pdf  # the achievement's stored PNG, not the default medal
    letter = await env.client.get(page_path(answer) + "/certificate.pdf?paper=letter")
    assert pdf_info(await letter.read())["Page size"] == "792 x 612 pts (letter)"


async def test_a_revoked_badge_prints_as_revoked(env: Env) -> None:
    _, answer = await awarded(env)
    await env.issuer.revoke(answer["credentialId"])
    resp = await env.client.get(page_path(answer) + "/certificate.pdf")
    pdf = await resp.read()
    assert "REVOKED: The issuer has revoked this credential." in pdf_text(pdf)
    assert pdf_qr_codes(pdf) == [answer["pageUrl"]]


async def test_certificate_errors_are_pages(env: Env) -> None:
    _, answer = await awarded(env)
    resp = await env.client.get(page_path(answer) + "/certificate.pdf?paper=a3")
    assert resp.status == 400 and resp.content_type == "text/html"
    assert "paper must be a4 or letter" in await resp.text()
    resp = await env.client.get("/c/00000000-0000-4000-8000-000000000000/certificate.pdf")
    assert resp.status == 404 and resp.content_type == "text/html"


async def test_no_catalog_link_for_an_achievement_we_never_stored(env: Env) -> None:
    achievement = Achievement(
        id=f"{env.base_url}/achievements/python-basics",
        name="Python Basics",
        description="D",
        criteria=Criteria(narrative="C"),
    )
    unsigned = build_award(
        achievement,
        IssuerProfile(id=env.did, name="Example"),
        awarded=datetime.now(UTC).replace(microsecond=0),
        recipient_did="did:example:ada",
    )
    cred = await env.issuer.issue(unsigned)
    record = await env.issuer.get_record(cred["id"])
    text = await page(env, f"/c/{record.page_id}")
    assert 'id="achievement-link"' not in text
    assert 'href="/issuer"' in text  # the issuer is still ours


async def test_a_jwt_credential_is_shared_embedded_and_printed_by_its_contents(
    env: Env,
) -> None:
    """A credential issued as a JWT is stored as an envelope: the page, the card, oEmbed and
    the certificate describe the document the token carries."""
    enveloped = await env.issue(env.credential(name="JWT Badge"), format="jwt")
    token = enveloped_token(enveloped)
    credential_id = parse_jws(token).payload["id"]
    record = await env.issuer.get_record(credential_id)
    path = f"/c/{record.page_id}"
    text = await page(env, path)
    assert 'data-verdict="Valid"' in text
    assert parse_qs(urlsplit(link(text, "linkedin-add")).query)["certId"] == [credential_id]
    assert "JWT Badge" in embed_snippet(text)
    body = await (await env.client.get("/oembed", params={"url": env.base_url + path})).json()
    assert body["title"] == "JWT Badge — Alice"
    pdf = await (await env.client.get(path + "/certificate.pdf")).read()
    assert "This certifies that Alice has earned JWT Badge" in pdf_text(pdf)
    assert pdf_qr_codes(pdf) == [env.base_url + path]
