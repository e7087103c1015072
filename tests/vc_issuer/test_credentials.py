"""Structure checks: every bad shape gets MalformedInputError (or ParsingError) naming it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vc_issuer.core.credentials import (
    embedded_credentials,
    format_datetime,
    holder_id,
    is_presentation,
    issuer_id,
    parse_json_document,
    parse_xml_datetime,
    validate_credential,
    validate_presentation,
    validity_period,
)
from vc_issuer.errors import MalformedInputError, ParsingError

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def load(rel: str) -> Any:
    return json.loads((FIX / rel).read_text("utf-8"))


V2 = load("vc-di-eddsa/unsigned.json")
V1 = load("generated-interop/vc1-ob302-ed25519signature2020.unsigned.json")


def test_vectors_are_valid() -> None:
    assert validate_credential(V2) == "2.0"
    assert validate_credential(V1) == "1.1"
    assert validate_credential(load("vc-di-eddsa/employmentAuth.json")) == "2.0"
    assert validate_credential(load("generated-interop/vc2-ob303-eddsa-rdfc-2022.signed.json"))
    assert validate_credential(load("open-badges-3.0/ldp-eddsa-rdfc-2022/signed.json")) == "2.0"


def test_parse_json_document() -> None:
    assert parse_json_document(b'{"a": 1}') == {"a": 1}
    with pytest.raises(ParsingError, match="not JSON") as info:
        parse_json_document("{'a': 1}")
    assert info.value.code == "PARSING_ERROR"
    with pytest.raises(ParsingError, match="not UTF-8"):
        parse_json_document(b"\xff\xfe{}")
    for text, kind in (("[1]", "array"), ("null", "null"), ('"x"', "string"), ("3", "number")):
        with pytest.raises(MalformedInputError, match=f"got a JSON {kind}") as err:
            parse_json_document(text)
        assert err.value.code == "MALFORMED_VALUE_ERROR"
    with pytest.raises(ParsingError):
        parse_json_document("[" * 100_000 + "]" * 100_000)


SRI = "sha384-" + "A" * 64
MB = "u" + "A" * 43  # a bare 32-byte SHA-256, as the W3C suite writes them


def test_subjects_schemas_and_related_resources_that_are_fine() -> None:
    good = [
        {"credentialSubject": {"id": "did:example:subject"}},  # an id is enough (W3C suite)
        {"credentialSchema": {"id": "https://ex.org/s", "type": "JsonSchema"}},
        {"relatedResource": {"id": "https://ex.org/r", "digestSRI": SRI}},
        {"relatedResource": [{"id": "https://ex.org/r", "digestMultibase": MB,
                              "mediaType": "application/ld+json"},
                             {"id": "https://ex.org/q", "digestSRI": f"{SRI} {SRI}?opt"}]},
    ]  # fmt: skip
    for fields in good:
        assert validate_credential({**V2, **fields}) == "2.0"


def mutate(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    *parents, last = path.split(".")
    target = doc
    for p in parents:
        target = target[p]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return doc


DELETE = object()


@pytest.mark.parametrize(
    ("base", "path", "value", "message"),
    [
        (V2, "@context", DELETE, "@context is missing"),
        (V2, "@context", "https://www.w3.org/ns/credentials/v2", "@context must be an array"),
        (V2, "@context", [], "@context must not be empty"),
        (V2, "@context", ["https://example.com/ctx"], "@context[0] must be"),
        (V2, "@context", ["https://www.w3.org/ns/credentials/v2", 5], "@context[1] must be"),
        (V2, "type", DELETE, "type is missing"),
        (V2, "type", ["AlumniCredential"], "must include VerifiableCredential"),
        (V2, "type", [1], "array of strings"),
        (V2, "id", "not a url", "credential id must be a URL"),
        (V2, "issuer", DELETE, "issuer is missing"),
        (V2, "issuer", {"name": "x"}, "issuer object must have an id"),
        (V2, "issuer", "example", "issuer must be a URL"),
        (V2, "credentialSubject", DELETE, "credentialSubject is missing"),
        (V2, "credentialSubject", None, "credentialSubject is missing"),
        (V2, "credentialSubject", True, "credentialSubject must be an object, got boolean"),
        (V2, "credentialSubject", "did:example:1", "must be an object, got string"),
        (V2, "credentialSubject", 3, "must be an object, got number"),
        (V2, "credentialSubject", [], "must not be an empty array"),
        (
            V2,
            "credentialSubject",
            [{"id": "did:ex:1"}, 2],
            "credentialSubject[1] must be an object",
        ),
        # VCDM 2.0 §4.8: each subject makes at least one claim
        (V2, "credentialSubject", {}, "credentialSubject makes no claim"),
        (V2, "credentialSubject", [{"id": "did:ex:1"}, {}], r"credentialSubject[1] makes no claim"),
        # §4.11: a credentialSchema has an id (a URL) and a type
        (V2, "credentialSchema", {"type": "JsonSchema"}, "credentialSchema id is missing"),
        (V2, "credentialSchema", {"id": "https://ex.org/s"}, "credentialSchema type is missing"),
        (V2, "credentialSchema", {"id": "nope", "type": "JsonSchema"}, "credentialSchema id must"),
        # §5.3: relatedResource
        (V2, "relatedResource", ["https://ex.org/r"], r"relatedResource[0] must be an object"),
        (V2, "relatedResource", [], "relatedResource must not be an empty array"),
        (V2, "relatedResource", {"digestSRI": SRI}, "relatedResource id is missing"),
        (V2, "relatedResource", {"id": "x y", "digestSRI": SRI}, "relatedResource id must be"),
        (
            V2,
            "relatedResource",
            [
                {"id": "https://ex.org/r", "digestSRI": SRI},
                {"id": "https://ex.org/r", "digestMultibase": MB},
            ],
            r"relatedResource[1] id 'https://ex.org/r' is not unique",
        ),
        (
            V2,
            "relatedResource",
            {"id": "https://ex.org/r"},
            "needs a digestSRI or a digestMultibase",
        ),
        (
            V2,
            "relatedResource",
            {"id": "https://ex.org/r", "digestSRI": "sha384-!!"},
            "not an SRI hash expression",
        ),
        (
            V2,
            "relatedResource",
            {"id": "https://ex.org/r", "digestSRI": "md5-" + "A" * 24},
            "unsupported hash algorithm",
        ),
        (
            V2,
            "relatedResource",
            {"id": "https://ex.org/r", "digestMultibase": "uAAAA"},
            "is not a sha2-256, sha2-384 or sha2-512 multihash",
        ),
        (
            V2,
            "relatedResource",
            {"id": "https://ex.org/r", "digestMultibase": "mAAAA"},
            "use multibase base64url",
        ),
        (
            V2,
            "relatedResource",
            {"id": "https://ex.org/r", "digestSRI": SRI, "mediaType": 5},
            "mediaType must be a media type",
        ),
        (V2, "validFrom", "2023-01-01", "validFrom is not an XML Schema dateTime"),
        (V2, "validFrom", "2023-01-01T00:00:00", "validFrom must carry a timezone"),
        (V2, "validFrom", "2023-13-01T00:00:00Z", "not a valid date"),
        (V2, "validUntil", "2022-12-31T23:59:59Z", "validFrom is later than validUntil"),
        (V2, "issuanceDate", "2023-01-01T00:00:00Z", "issuanceDate is a VC 1.1 property"),
        (
            V2,
            "credentialStatus",
            "https://example.com/status",
            "credentialStatus must be an object",
        ),
        (
            V2,
            "credentialStatus",
            {"id": "https://example.com/s#1"},
            "credentialStatus type is missing",
        ),
        (V2, "credentialStatus", [{"type": "X", "id": "nope"}], "credentialStatus[0] id must be"),
        (V1, "issuanceDate", DELETE, "issuanceDate is missing"),
        (V1, "issuanceDate", "01/01/2024", "issuanceDate is not an XML Schema dateTime"),
        (V1, "expirationDate", "2000-01-01T00:00:00Z", "issuanceDate is later than expirationDate"),
    ],
)
def test_bad_credentials(base: dict[str, Any], path: str, value: Any, message: str) -> None:
    with pytest.raises(
        MalformedInputError, match=message.replace("[", r"\[").replace("]", r"\]")
    ) as info:
        validate_credential(mutate(base, path, value))
    assert info.value.code == "MALFORMED_VALUE_ERROR"


@pytest.mark.parametrize("doc", [None, [], "x", 1])
def test_credential_must_be_an_object(doc: Any) -> None:
    with pytest.raises(MalformedInputError, match="credential must be a JSON object"):
        validate_credential(doc)


def test_vc11_without_timezone_is_read_as_utc() -> None:
    doc = mutate(V1, "issuanceDate", "2024-01-01T00:00:00")
    assert validate_credential(doc) == "1.1"
    start, end = validity_period(doc)
    assert start == datetime(2024, 1, 1, tzinfo=UTC)
    assert end is None


def test_issuer_forms() -> None:
    assert issuer_id(V2) == "https://vc.example/issuers/5678"
    assert issuer_id(V1) == "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def test_presentations() -> None:
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": {"id": "did:example:holder"},
        "verifiableCredential": [V2],
    }
    assert is_presentation(vp) and not is_presentation(V2)
    assert validate_presentation(vp) == "2.0"
    assert holder_id(vp) == "did:example:holder"
    assert embedded_credentials(vp) == [V2]
    assert embedded_credentials({**vp, "verifiableCredential": V2}) == [V2]
    with pytest.raises(MalformedInputError, match="VerifiablePresentation"):
        validate_presentation({**vp, "type": "VerifiableCredential"})
    with pytest.raises(MalformedInputError, match="holder must be a URL"):
        validate_presentation({**vp, "holder": "me"})
    with pytest.raises(MalformedInputError, match=r"verifiableCredential\[0\] must be an object"):
        validate_presentation({**vp, "verifiableCredential": ["eyJhbGciOi..."]})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-01-01T00:00:00Z", datetime(2023, 1, 1, tzinfo=UTC)),
        ("2023-01-01T02:00:00+02:00", datetime(2023, 1, 1, tzinfo=UTC)),
        ("2023-01-01T00:00:00.5-01:30", datetime(2023, 1, 1, 1, 30, 0, 500000, tzinfo=UTC)),
        ("2023-01-01T00:00:00.1234567890Z", datetime(2023, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_parse_xml_datetime(value: str, expected: datetime) -> None:
    assert parse_xml_datetime(value, "t") == expected


@pytest.mark.parametrize(
    "value",
    [
        "2023-01-01T00:00Z",
        "2023-01-01 00:00:00Z",
        "2023-01-01T00:00:00+15:00",
        "2023-01-01T25:00:00Z",
        "0000-01-01T00:00:00Z",
        " 2023-01-01T00:00:00Z",
    ],
)
def test_parse_xml_datetime_rejects(value: str) -> None:
    with pytest.raises(MalformedInputError):
        parse_xml_datetime(value, "t")


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-7, minutes=-30)), timezone(timedelta(hours=14))]
        ),
    )
)
def test_datetime_round_trip(moment: datetime) -> None:
    text = format_datetime(moment)
    assert parse_xml_datetime(text, "t") == moment.astimezone(UTC).replace(microsecond=0)
    assert parse_xml_datetime(moment.isoformat(), "t") == moment
