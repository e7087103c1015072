"""Share links and the card's facts: LinkedIn's add-to-profile form filled in exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from vc_issuer.badges.sharing import (
    CARD_WIDTH,
    BadgeFacts,
    card_width,
    facts_from_credential,
    linkedin_add_to_profile,
    oembed_response,
    share_links,
)

PAGE = "https://badges.example.edu/c/5f0c1e55-0000-4000-8000-000000000001"


def facts(**changes: object) -> BadgeFacts:
    base: dict[str, object] = {
        "page_url": PAGE,
        "name": "Python & Data: Level 1",
        "issuer_name": "Example University",
        "recipient": "Ada Lovelace",
        "credential_id": "urn:uuid:1f3e",
        "issued": datetime(2025, 3, 9, 10, 0, tzinfo=UTC),
        "expires": datetime(2027, 3, 9, 10, 0, tzinfo=UTC),
        "image_url": "https://badges.example.edu/images/ab.png",
    }
    base.update(changes)
    return BadgeFacts(**base)  # type: ignore[arg-type]


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_linkedin_add_to_profile_carries_every_field() -> None:
    url = linkedin_add_to_profile(facts())
    assert url.startswith("https://www.linkedin.com/profile/add?")
    assert query(url) == {
        "startTask": ["CERTIFICATION_NAME"],
        "name": ["Python & Data: Level 1"],
        "organizationName": ["Example University"],
        "issueYear": ["2025"],
        "issueMonth": ["3"],
        "expirationYear": ["2027"],
        "expirationMonth": ["3"],
        "certUrl": [PAGE],
        "certId": ["urn:uuid:1f3e"],
    }


def test_linkedin_leaves_out_what_is_unknown() -> None:
    url = linkedin_add_to_profile(facts(issuer_name=None, expires=None, credential_id=None))
    assert set(query(url)) == {"startTask", "name", "issueYear", "issueMonth", "certUrl"}


def test_share_links_point_at_the_page() -> None:
    links = {link.id: link.href for link in share_links(facts())}
    assert set(links) == {"share-linkedin", "share-x", "share-facebook", "share-email"}
    assert query(links["share-linkedin"]) == {"url": [PAGE]}
    assert query(links["share-facebook"]) == {"u": [PAGE]}
    x = query(links["share-x"])
    assert x["url"] == [PAGE]
    assert x["text"] == ["I earned the “Python & Data: Level 1” badge from Example University."]
    mail = query(links["share-email"])
    assert links["share-email"].startswith("mailto:?")
    assert mail["subject"] == ["My badge: Python & Data: Level 1"]
    assert PAGE in mail["body"][0]


def test_card_width_respects_maxwidth_within_bounds() -> None:
    assert card_width(None) == CARD_WIDTH
    assert card_width(10_000) == CARD_WIDTH
    assert card_width(300) == 300
    assert card_width(50) == 200


def test_facts_of_a_credential_and_the_oembed_answer() -> None:
    cred = {
        "id": "urn:uuid:9",
        "issuer": {"id": "did:key:z6Mk", "name": "Example University"},
        "validFrom": "2024-11-30T23:30:00-02:00",
        "credentialSubject": {"name": "Ada", "achievement": {"name": "Rust"}},
    }
    got = facts_from_credential(cred, page_url=PAGE, image_url="x", issuer_name="Example")
    assert got.issued == datetime(2024, 12, 1, 1, 30, tzinfo=UTC)  # month in UTC
    assert (got.name, got.recipient, got.credential_id, got.expires) == (
        "Rust",
        "Ada",
        "urn:uuid:9",
        None,
    )
    answer = oembed_response(
        got, "<div></div>", provider_name="P", provider_url="https://p", width=300
    )
    assert answer == {
        "version": "1.0",
        "type": "rich",
        "title": "Rust — Ada",
        "provider_name": "P",
        "provider_url": "https://p",
        "html": "<div></div>",
        "width": 300,
        "height": 140,
        "cache_age": 3600,
        "author_name": "Example",
    }
