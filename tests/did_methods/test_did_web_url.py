"""did:web DID -> URL mapping: the spec table, malformed DIDs, and round trips."""

from __future__ import annotations

import json
import string
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from did_methods.document import find_verification_method, is_authorized
from did_methods.errors import InvalidDID
from did_methods.web import (
    build_did_web_document,
    did_url_for_host,
    did_web_base_url,
    did_web_to_url,
    parse_did_web,
)

from ._helpers import one_multikey_document

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "did"
EXAMPLES = json.loads((FIXTURES / "resolution-examples.json").read_text("utf-8"))["examples"]
MULTIBASE = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


@pytest.mark.parametrize("row", EXAMPLES, ids=[r["did"] for r in EXAMPLES])
def test_spec_examples(row: dict[str, str]) -> None:
    assert did_web_to_url(row["did"]) == row["url"]


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:example.com%3a8443", "https://example.com:8443/.well-known/did.json"),
        ("did:web:Example.COM", "https://example.com/.well-known/did.json"),
        ("did:web:localhost%3A8080:issuers:1", "https://localhost:8080/issuers/1/did.json"),
        ("did:web:127.0.0.1%3A9000", "https://127.0.0.1:9000/.well-known/did.json"),
        ("did:web:example.com:a%20b", "https://example.com/a%20b/did.json"),
        ("did:web:example.com:caf%C3%A9", "https://example.com/caf%C3%A9/did.json"),
        ("did:web:xn--bcher-kva.example", "https://xn--bcher-kva.example/.well-known/did.json"),
        ("did:web:example.com:..a:b.", "https://example.com/..a/b./did.json"),
    ],
)
def test_more_mappings(did: str, url: str) -> None:
    assert did_web_to_url(did) == url


@pytest.mark.parametrize(
    "did",
    [
        "did:web:",
        "did:web",
        "did:key:z6Mk",
        "did:web::user",
        "did:web:%3A443",
        "did:web:example.com:",
        "did:web:example.com::alice",
        "did:web:example.com:user/alice",
        "did:web:example.com/path",
        "did:web:example.com#key-1",
        "did:web:example.com?x=1",
        "did:web:exa mple.com",
        "did:web:example.com%3",
        "did:web:example.com%ZZ",
        "did:web:example.com%3A",
        "did:web:example.com%3A0",
        "did:web:example.com%3A65536",
        "did:web:example.com%3Aabc",
        "did:web:example.com%3A80%3A90",
        "did:web:user%40example.com",
        "did:web:example.com%2Fevil",
        "did:web:example.com:..",
        "did:web:example.com:.",
        "did:web:example.com:%2E%2E",
        "did:web:example.com:%2e",
        "did:web:example.com:a%2Fb",
        "did:web:example.com:a%5Cb",
        "did:web:example.com:a%00b",
        "did:web:example.com:a%0Ab",
        "did:web:example.com:%FF",
        "did:web:-example.com",
        "did:web:example-.com",
        "did:web:example..com",
        "did:web:.example.com",
        "did:web:example.com.",
        "did:web:" + "a" * 64 + ".com",
        "did:web:999.1.1.1",
        "did:web:%5B%3A%3A1%5D",
    ],
)
def test_malformed_did_web_is_invalid_did(did: str) -> None:
    with pytest.raises(InvalidDID) as info:
        did_web_to_url(did)
    assert info.value.code == "invalidDid"


def test_did_url_for_host() -> None:
    assert did_url_for_host("example.com") == "did:web:example.com"
    assert (
        did_url_for_host("Example.com", 3000, "user/alice")
        == "did:web:example.com%3A3000:user:alice"
    )
    assert did_url_for_host("example.com", path=["u", "bob"]) == "did:web:example.com:u:bob"
    assert did_url_for_host("example.com", path="/a b/") == "did:web:example.com:a%20b"
    assert did_url_for_host("example.com", path="a~b") == "did:web:example.com:a%7Eb"
    for bad in [
        ("", None, None),
        ("exa mple.com", None, None),
        ("example.com", 0, None),
        ("example.com", None, ".."),
        ("example.com", None, ["a", ""]),
    ]:
        with pytest.raises(ValueError):
            did_url_for_host(*bad)


def test_build_did_web_document() -> None:
    did = "did:web:issuer.example:org:1"
    doc = build_did_web_document(did, MULTIBASE)
    assert doc == one_multikey_document(did, MULTIBASE)
    named = build_did_web_document(did, MULTIBASE, key_id="key-1")
    assert named["assertionMethod"] == [f"{did}#key-1"]
    assert is_authorized(named, "#key-1", "assertionMethod")
    assert find_verification_method(named, f"{did}#key-1") is not None
    with pytest.raises(ValueError):
        build_did_web_document(did, "z6LSbad")
    with pytest.raises(InvalidDID):
        build_did_web_document("did:web:", MULTIBASE)
    with pytest.raises(ValueError):
        build_did_web_document(did, MULTIBASE, key_id="a#b")


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
_hosts = (
    st.lists(_label, min_size=1, max_size=4)
    .map(".".join)
    .filter(lambda h: not h.split(".")[-1].isdigit())
)
_segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\?#"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))


@settings(max_examples=300, deadline=None)
@given(
    _hosts,
    st.one_of(st.none(), st.integers(min_value=1, max_value=65535)),
    st.lists(_segment, max_size=4),
)
def test_host_path_round_trip(host: str, port: int | None, path: list[str]) -> None:
    did = did_url_for_host(host, port, path)
    assert set(did[len("did:web:") :]) <= set(string.ascii_letters + string.digits + ".-_%:")
    assert parse_did_web(did) == (host, port, path)
    url = urlsplit(did_web_to_url(did))
    assert url.scheme == "https"
    assert url.hostname == host
    assert url.port == port
    segments = url.path.split("/")[1:]
    assert segments[-1] == "did.json"
    if path:
        assert [unquote(s) for s in segments[:-1]] == path
    else:
        assert segments[:-1] == [".well-known"]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + ".-_%:/#?@[]\\ ", max_size=40))
def test_arbitrary_identifiers_map_safely_or_raise(msid: str) -> None:
    try:
        url = did_web_to_url("did:web:" + msid)
    except InvalidDID:
        return
    parts = urlsplit(url)
    assert parts.scheme == "https"
    assert parts.query == "" and parts.fragment == "" and "@" not in parts.netloc
    assert parts.hostname is not None and parts.hostname == parts.hostname.lower()
    assert all(seg not in (".", "..") for seg in unquote(parts.path).split("/"))
    assert url.endswith("/did.json")


def test_base_url_is_the_document_url_without_the_file() -> None:
    assert did_web_base_url("did:web:example.com") == "https://example.com"
    assert did_web_base_url("did:web:Example.com%3A8443:a:b") == "https://example.com:8443/a/b"
    for row in EXAMPLES:
        url = did_web_to_url(row["did"])
        assert url.startswith(did_web_base_url(row["did"]) + "/")
