"""Errors as types: one class per code, each with its HTTP status, exit code and the problem
``type`` URL of the specification that defines it; one mapping from did_methods errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from did_methods import errors as did
from vc_issuer import errors
from vc_issuer.errors import (
    DATA_INTEGRITY,
    DID_RESOLUTION,
    PROJECT_ERRORS,
    STATUS_LIST,
    VC_DATA_MODEL,
    all_error_classes,
    did_error_class,
    error_class,
    from_did_error,
    type_url,
)


@pytest.mark.parametrize(
    ("code", "url"),
    [
        ("PARSING_ERROR", VC_DATA_MODEL + "PARSING_ERROR"),
        ("MALFORMED_VALUE_ERROR", VC_DATA_MODEL + "MALFORMED_VALUE_ERROR"),
        ("RANGE_ERROR", VC_DATA_MODEL + "RANGE_ERROR"),
        ("PROOF_VERIFICATION_ERROR", DATA_INTEGRITY + "PROOF_VERIFICATION_ERROR"),
        ("PROOF_GENERATION_ERROR", DATA_INTEGRITY + "PROOF_GENERATION_ERROR"),
        ("MALFORMED_PROOF_ERROR", DATA_INTEGRITY + "MALFORMED_PROOF_ERROR"),
        ("INVALID_CHALLENGE_ERROR", DATA_INTEGRITY + "INVALID_CHALLENGE_ERROR"),
        ("INVALID_DOMAIN_ERROR", DATA_INTEGRITY + "INVALID_DOMAIN_ERROR"),
        ("STATUS_VERIFICATION_ERROR", STATUS_LIST + "STATUS_VERIFICATION_ERROR"),
        ("STATUS_RETRIEVAL_ERROR", STATUS_LIST + "STATUS_RETRIEVAL_ERROR"),
        ("STATUS_LIST_LENGTH_ERROR", STATUS_LIST + "STATUS_LIST_LENGTH_ERROR"),
        ("invalidDid", DID_RESOLUTION + "INVALID_DID"),
        ("notFound", DID_RESOLUTION + "NOT_FOUND"),
        ("invalidDidDocument", DID_RESOLUTION + "INVALID_DID_DOCUMENT"),
        ("ACHIEVEMENT_ARCHIVED", PROJECT_ERRORS + "ACHIEVEMENT_ARCHIVED"),
        ("JSON_TOO_DEEP", PROJECT_ERRORS + "JSON_TOO_DEEP"),
    ],
)
def test_type_url_is_the_defining_specs(code: str, url: str) -> None:
    cls = error_class(code)
    assert cls.code == code
    assert cls.type_url == url == type_url(code)
    assert cls("x").to_problem()["type"] == url


def test_the_data_integrity_namespace_holds_only_its_codes() -> None:
    """Our own codes are not passed off as a W3C spec's (issue: everything was security#)."""
    di = {c.code for c in all_error_classes() if c.type_url.startswith(DATA_INTEGRITY)}
    assert di == {
        "PROOF_VERIFICATION_ERROR",
        "PROOF_GENERATION_ERROR",
        "MALFORMED_PROOF_ERROR",
        "INVALID_CHALLENGE_ERROR",
        "INVALID_DOMAIN_ERROR",
    }


def test_every_class_has_a_distinct_code_and_a_complete_row() -> None:
    classes = all_error_classes()
    assert len({c.code for c in classes}) == len(classes)
    for cls in classes:
        assert cls.title and cls.type_url.startswith("https://"), cls
        assert 400 <= cls.http_status <= 599, cls
        assert cls.exit_code in (1, 2, 3), cls


def test_a_raise_site_cannot_invent_a_code() -> None:
    with pytest.raises(TypeError, match="belong to the error class"):
        errors.MalformedInputError("bad", code="SOMETHING_ELSE")
    problem = errors.MalformedInputError("bad", field="x").to_problem()
    assert problem["code"] == "MALFORMED_VALUE_ERROR" and problem["field"] == "x"


def test_unknown_code_falls_back_to_the_given_class_and_the_project_namespace() -> None:
    assert error_class("NO_SUCH_CODE", errors.ProofError) is errors.ProofError
    assert type_url("NO_SUCH_CODE") == PROJECT_ERRORS + "NO_SUCH_CODE"


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (did.InvalidDID, errors.InvalidDIDError),
        (did.InvalidDIDURL, errors.InvalidDIDError),
        (did.NotFound, errors.DIDNotFoundError),
        (did.MethodNotSupported, errors.MethodNotSupportedError),
        (did.RepresentationNotSupported, errors.RepresentationNotSupportedError),
        (did.NetworkError, errors.DIDNetworkError),
        (did.ForbiddenAddress, errors.ForbiddenAddressError),
        (did.InsecureTransport, errors.ForbiddenAddressError),
        (did.InvalidDocument, errors.InvalidDIDDocumentError),
        (did.ResponseTooLarge, errors.InvalidDIDDocumentError),
        (did.VerificationMethodNotAuthorized, errors.ProofPurposeError),
        (did.DIDError, errors.DIDResolutionError),
    ],
)
def test_one_did_error_mapping(source: type[did.DIDError], target: type[object]) -> None:
    mapped = from_did_error(source("why"))
    assert type(mapped) is target
    assert mapped.detail == "why"
    assert mapped.to_problem()["didError"] == source.code
    assert did_error_class(source) is target
    assert did_error_class(source.code) is target  # by name, as in didResolutionMetadata


def test_every_did_methods_error_is_mapped_deliberately() -> None:
    """A new did_methods error class must get a row in the mapping (not the generic root)."""
    stack: list[type[did.DIDError]] = list(did.DIDError.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        assert did_error_class(cls) is not errors.DIDResolutionError, cls


def test_each_did_error_code_has_one_status_everywhere() -> None:
    """The exception path (from_did_error), the in-band path (the resolver driver route reads
    ``didResolutionMetadata.error`` by name) and the class agree on one HTTP status per code;
    no module keeps a status table of its own for DID errors."""
    stack: list[type[did.DIDError]] = [did.DIDError]
    statuses: dict[str, set[int]] = {}
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        by_exception = from_did_error(cls("x")).http_status
        by_name = did_error_class(cls.code).http_status
        statuses.setdefault(cls.code, set()).update({by_exception, by_name})
    assert {code: s for code, s in statuses.items() if len(s) != 1} == {}
    root = Path(errors.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        if path.name != "errors.py" and "didResolutionMetadata" in text and "status=" in text:
            assert "did_error_class(" in text, path  # the status comes from the one mapping
