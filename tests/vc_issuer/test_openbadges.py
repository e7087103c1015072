"""Open Badges 3.0 core: achievement model, awards, email hashing, schema validation."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vc_issuer.badges.openbadges import (
    ACHIEVEMENT_CREDENTIAL_SCHEMA_URL,
    OB_CONTEXT,
    VC_V2_CONTEXT,
    Achievement,
    Alignment,
    Criteria,
    Image,
    IssuerProfile,
    add_months,
    build_award,
    check_ob_credential,
    email_identity,
    hash_email,
    identity_matches,
    ob_schema_compatible,
    validate_endorsement_credential,
    validate_ob_credential,
)
from vc_issuer.core import jsonld
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.proofs import sign
from vc_issuer.errors import AchievementArchivedError, MalformedInputError, SchemaValidationError
from vc_issuer.services.verifier import verify_credential

FIX = Path(__file__).resolve().parents[1] / "fixtures"
OB = FIX / "open-badges-3.0"
EXAMPLES = OB / "spec-examples"
SCHEMAS = Path(__file__).resolve().parents[2] / "vc_issuer" / "schemas"
SEED = bytes.fromhex("9b937b81322d816cfab9d5a3baacc9b2a5febe4b149f126b3630f93a29527017")
KEY = Ed25519Key.from_seed(SEED)
AWARDED = datetime(2024, 1, 31, 9, 30, tzinfo=UTC)


def load(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def achievement_json(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "https://badges.example.edu/achievements/python-101",
        "type": ["Achievement"],
        "name": "Python 101",
        "description": "Writes and tests small Python programs.",
        "criteria": {
            "id": "https://badges.example.edu/criteria/python-101",
            "narrative": "Pass the **final project** with at least 80%.",
        },
        "image": {
            "id": "https://badges.example.edu/images/python-101.png",
            "type": "Image",
            "caption": "Python 101 badge",
        },
        "achievementType": "Course",
        "tag": ["python", "programming"],
        "alignment": [
            {
                "type": ["Alignment"],
                "targetName": "Programming",
                "targetUrl": "https://esco.example/skills/programming",
                "targetFramework": "ESCO",
                "targetCode": "S1.2.3",
                "targetType": "ext:ESCOSkill",
                "targetDescription": "Writing computer programs.",
            }
        ],
        "resultDescription": [
            {
                "id": "urn:uuid:6f2c3a3e-6a5e-4e59-9d67-0b7c5b1f0a11",
                "type": ["ResultDescription"],
                "name": "Final grade",
                "resultType": "LetterGrade",
                "allowedValue": ["A", "B", "C"],
            }
        ],
        "version": "2",
    }
    doc.update(overrides)
    return doc


def achievement(**kw: Any) -> Achievement:
    return Achievement.from_json(achievement_json(), **kw)


def issuer() -> IssuerProfile:
    return IssuerProfile(
        id=KEY.did,
        name="Example University",
        url="https://www.example.edu",
        email="badges@example.edu",
        image=Image("https://www.example.edu/logo.png", caption="logo"),
        description="A university that issues badges.",
    )


def award(**kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"awarded": AWARDED, "recipient_did": "did:example:learner"}
    args.update(kw)
    ach = args.pop("achievement", None) or achievement(valid_for_months=24)
    return build_award(ach, issuer(), **args)


# --- spec examples and the shipped schemas --------------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_spec_example_passes_its_schema(path: Path) -> None:
    doc = load(path)
    if path.name == "endorsement.json":
        assert validate_endorsement_credential(doc) == []
        # and it is not an AchievementCredential
        assert validate_ob_credential(doc) != []
    else:
        assert validate_ob_credential(doc) == []
        check_ob_credential(doc)


def test_shipped_schemas_are_the_reference_copies() -> None:
    for name in (
        "ob_v3p0_achievementcredential_schema.json",
        "ob_v3p0_endorsementcredential_schema.gh-pages.json",
    ):
        assert (SCHEMAS / name).read_bytes() == (OB / "json-schema" / name).read_bytes()


def test_schemas_only_reference_themselves() -> None:
    """Offline by construction: no $ref can send the validator to the network."""
    for path in SCHEMAS.glob("*.json"):
        refs = re.findall(r'"\$ref"\s*:\s*"([^"]*)"', path.read_text("utf-8"))
        assert refs and all(r.startswith("#/") for r in refs), path.name


def test_generated_interop_credential_passes_once_proof_is_an_array() -> None:
    signed = load(FIX / "generated-interop" / "vc2-ob303-eddsa-rdfc-2022.signed.json")
    assert validate_ob_credential(signed) == ["proof: must be of type array, got object"]
    assert validate_ob_credential(ob_schema_compatible(signed)) == []


# --- achievement model ----------------------------------------------------------------------------


def test_achievement_round_trips_its_ob_json() -> None:
    doc = achievement_json()
    ach = Achievement.from_json(doc)
    assert ach.to_json() == doc
    assert ach.alignments[0] == Alignment(
        target_name="Programming",
        target_url="https://esco.example/skills/programming",
        target_framework="ESCO",
        target_code="S1.2.3",
        target_type="ext:ESCOSkill",
        target_description="Writing computer programs.",
    )
    assert ach.criteria == Criteria(
        narrative="Pass the **final project** with at least 80%.",
        id="https://badges.example.edu/criteria/python-101",
    )
    assert ach.tags == ("python", "programming")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_spec_example_achievements_round_trip(path: Path) -> None:
    subject = load(path)["credentialSubject"]
    if "achievement" not in subject:
        pytest.skip("endorsement: no achievement")
    doc = subject["achievement"]
    assert Achievement.from_json(doc).to_json() == doc


def test_minimal_achievement_and_defaults() -> None:
    ach = Achievement.from_json(
        {"name": "N", "description": "D", "criteria": {"narrative": "do"}}, require_id=False
    )
    assert ach.id is None and ach.image is None and ach.tags == () and not ach.archived
    with pytest.raises(MalformedInputError, match=r"achievement\.id: is required"):
        ach.to_json()


def test_every_missing_required_member_is_reported_at_once() -> None:
    with pytest.raises(MalformedInputError) as info:
        Achievement.from_json({"tag": ["x"]}, require_id=False)
    assert info.value.detail == (
        "achievement.name, achievement.description, achievement.criteria: are required"
    )
    assert info.value.extra == {
        "field": "achievement.name",
        "missing": ["achievement.name", "achievement.description", "achievement.criteria"],
    }
    with pytest.raises(MalformedInputError) as info:
        Achievement.from_json({"name": "N"})  # a stored achievement needs its id and type too
    assert info.value.extra["missing"] == [
        "achievement.id",
        "achievement.type",
        "achievement.description",
        "achievement.criteria",
    ]


def test_record_keeps_issuer_side_rules_out_of_the_ob_json() -> None:
    ach = achievement(valid_for_months=24, archived=True)
    record = ach.to_record()
    assert record["validForMonths"] == 24 and record["archived"] is True
    assert "validForMonths" not in json.dumps(record["achievement"])
    assert Achievement.from_record(json.loads(json.dumps(record))) == ach


def test_image_as_local_path_only_when_allowed() -> None:
    doc = achievement_json(image={"id": "badges/python.png", "type": "Image"})
    with pytest.raises(
        MalformedInputError, match=r"achievement\.image\.id: must be an absolute URI"
    ):
        Achievement.from_json(doc)
    ach = Achievement.from_json(doc, allow_image_path=True)
    assert ach.image == Image("badges/python.png")


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda d: d.pop("name"), "achievement.name", "is required"),
        (lambda d: d.pop("description"), "achievement.description", "is required"),
        (lambda d: d.pop("criteria"), "achievement.criteria", "is required"),
        (lambda d: d.pop("id"), "achievement.id", "is required"),
        (lambda d: d.update(name=""), "achievement.name", "must not be empty"),
        (lambda d: d.update(name=3), "achievement.name", "must be a string, got number"),
        (lambda d: d.update(type=["Badge"]), "achievement.type", "must contain 'Achievement'"),
        (lambda d: d.update(criteria={}), "achievement.criteria", "needs a narrative or an id"),
        (
            lambda d: d.update(criteria={"id": "not a url"}),
            "achievement.criteria.id",
            "must be an absolute URI",
        ),
        (
            lambda d: d.update(achievementType="Trophy"),
            "achievement.achievementType",
            "'Trophy' is not in the OB 3.0 vocabulary",
        ),
        (
            lambda d: d["alignment"][0].pop("targetUrl"),
            "achievement.alignment[0].targetUrl",
            "is required",
        ),
        (
            lambda d: d["alignment"].append({"targetName": "x", "targetUrl": "https://x", "y": 1}),
            "achievement.alignment[1].y",
            "is not an OB 3.0 property",
        ),
        (
            lambda d: d["alignment"][0].update(targetType="Skill"),
            "achievement.alignment[0].targetType",
            "not in the OB 3.0 vocabulary",
        ),
        (lambda d: d.update(tag="python"), "achievement.tag", "must be an array, got string"),
        (lambda d: d.update(tag=["ok", 1]), "achievement.tag[1]", "must be a string"),
        (lambda d: d["image"].update(type="Picture"), "achievement.image.type", "must be 'Image'"),
        (lambda d: d["image"].update(width=3), "achievement.image.width", "is not an OB 3.0"),
        (
            lambda d: d["resultDescription"][0].pop("resultType"),
            "achievement.resultDescription[0].resultType",
            "is required",
        ),
        (lambda d: d.update(validFor=24), "achievement.validFor", "is not an OB 3.0 property"),
    ],
)
def test_bad_achievement_fields_name_their_path(change: Any, path: str, message: str) -> None:
    doc = copy.deepcopy(achievement_json())
    change(doc)
    with pytest.raises(MalformedInputError) as info:
        Achievement.from_json(doc)
    assert info.value.detail.startswith(f"{path}: ")
    assert message in info.value.detail
    assert info.value.extra["field"] == path
    assert info.value.code == "MALFORMED_VALUE_ERROR"


def test_achievement_not_an_object() -> None:
    with pytest.raises(MalformedInputError, match="achievement: must be an object, got array"):
        Achievement.from_json([])


@pytest.mark.parametrize("months", [0, -1, 1201, True, 1.5])
def test_validity_rule_bounds(months: Any) -> None:
    with pytest.raises(MalformedInputError, match="validForMonths"):
        achievement(valid_for_months=months)


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(AWARDED, 1) == datetime(2024, 2, 29, 9, 30, tzinfo=UTC)
    assert add_months(AWARDED, 13) == datetime(2025, 2, 28, 9, 30, tzinfo=UTC)
    assert add_months(AWARDED, 24) == datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def test_issuer_profile_json() -> None:
    profile = issuer()
    doc = profile.to_json()
    assert doc == {
        "id": KEY.did,
        "type": ["Profile"],
        "name": "Example University",
        "url": "https://www.example.edu",
        "email": "badges@example.edu",
        "image": {"id": "https://www.example.edu/logo.png", "type": "Image", "caption": "logo"},
        "description": "A university that issues badges.",
    }
    assert IssuerProfile.from_json(doc) == profile
    with pytest.raises(MalformedInputError, match=r"issuer\.email: is not an email address"):
        IssuerProfile(id=KEY.did, name="X", email="nobody")
    with pytest.raises(MalformedInputError, match=r"issuer\.id: must be an absolute URI"):
        IssuerProfile(id="example.edu", name="X")
    with pytest.raises(MalformedInputError, match=r"issuer\.phone: is not an OB 3.0 property"):
        IssuerProfile.from_json({**doc, "phone": "1"})


# --- email identities -----------------------------------------------------------------------------


def test_hash_email_matches_the_spec_example() -> None:
    # OB 3.0 IdentityHash: SHA-256 of 'a@example.com' salted with 'Kosher'
    expected = "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399"
    assert hash_email("a@example.com", "Kosher") == expected
    assert hash_email("  A@Example.COM\n", "Kosher") == expected


@given(
    local=st.from_regex(r"[a-z0-9._%+-]{1,20}", fullmatch=True),
    domain=st.from_regex(r"[a-z0-9-]{1,15}\.[a-z]{2,6}", fullmatch=True),
    salt=st.text(max_size=40),
)
def test_hash_email_is_case_and_space_insensitive(local: str, domain: str, salt: str) -> None:
    email = f"{local}@{domain}"
    value = hash_email(email, salt)
    assert re.fullmatch(r"sha256\$[0-9a-f]{64}", value)
    assert hash_email(f" {email.upper()} ", salt) == value
    identity = email_identity(email, salt)
    assert identity_matches(identity, email.upper())
    assert not identity_matches(identity, "x" + email)


@pytest.mark.parametrize("bad", ["", "no-at", "@example.com", "a@", "a b@example.com", "a@b@c"])
def test_hash_email_rejects_non_addresses(bad: str) -> None:
    with pytest.raises(MalformedInputError, match=r"recipient\.email"):
        hash_email(bad, "salt")


def test_email_identity_shape() -> None:
    assert email_identity("a@example.com", "Kosher") == {
        "type": "IdentityObject",
        "identityHash": "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399",
        "identityType": "emailAddress",
        "hashed": True,
        "salt": "Kosher",
    }


# --- awards ---------------------------------------------------------------------------------------


def test_award_shape() -> None:
    cred = award(credential_id="urn:uuid:0b4e1c7e-0f53-4b8e-9d8f-2f1d0a6c9e11", name="Ada")
    assert cred["@context"] == [VC_V2_CONTEXT, OB_CONTEXT]
    assert cred["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert cred["id"] == "urn:uuid:0b4e1c7e-0f53-4b8e-9d8f-2f1d0a6c9e11"
    assert cred["name"] == "Python 101"
    assert cred["issuer"] == issuer().to_json()
    assert cred["validFrom"] == "2024-01-31T09:30:00Z"
    assert cred["awardedDate"] == "2024-01-31T09:30:00Z"
    assert cred["validUntil"] == "2026-01-31T09:30:00Z"
    assert cred["credentialSchema"] == [
        {"id": ACHIEVEMENT_CREDENTIAL_SCHEMA_URL, "type": "JsonSchema"}
    ]
    subject = cred["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["id"] == "did:example:learner"
    assert subject["name"] == "Ada"
    assert subject["achievement"] == achievement_json()
    assert "identifier" not in subject
    assert validate_ob_credential(cred) == []


def test_award_by_email_has_a_salted_hash_only() -> None:
    cred = award(recipient_did=None, email="Ada@Example.edu", salt="pepper")
    subject = cred["credentialSubject"]
    assert "id" not in subject
    assert subject["identifier"] == [email_identity("ada@example.edu", "pepper")]
    assert "ada@example.edu" not in json.dumps(cred).lower()


def test_award_salts_differ_by_default() -> None:
    one = award(recipient_did=None, email="ada@example.edu")["credentialSubject"]["identifier"][0]
    two = award(recipient_did=None, email="ada@example.edu")["credentialSubject"]["identifier"][0]
    assert one["salt"] != two["salt"] and one["identityHash"] != two["identityHash"]
    assert identity_matches(one, "ada@example.edu") and identity_matches(two, "ADA@example.edu")


def test_award_ids_are_fresh_uuids() -> None:
    ids = {award()["id"] for _ in range(5)}
    assert len(ids) == 5 and all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", i) for i in ids)


def test_award_without_validity_rule_has_no_valid_until() -> None:
    assert "validUntil" not in award(achievement=achievement())


def test_award_evidence_and_results_get_their_types() -> None:
    cred = award(
        evidence=[{"id": "https://example.edu/work/1", "name": "Final project", "narrative": "…"}],
        results=[
            {"resultDescription": "urn:uuid:6f2c3a3e-6a5e-4e59-9d67-0b7c5b1f0a11", "value": "A"}
        ],
    )
    assert cred["evidence"][0]["type"] == ["Evidence"]
    assert cred["credentialSubject"]["result"][0]["type"] == ["Result"]
    assert validate_ob_credential(cred) == []


def test_award_needs_a_recipient() -> None:
    with pytest.raises(MalformedInputError) as info:
        award(recipient_did=None)
    assert info.value.code == "MISSING_RECIPIENT"
    assert "DID or an email" in info.value.detail


def test_award_of_archived_achievement_is_refused() -> None:
    with pytest.raises(AchievementArchivedError) as info:
        award(achievement=achievement(archived=True))
    assert info.value.code == "ACHIEVEMENT_ARCHIVED"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"recipient_did": "learner-42"}, r"recipient\.id: must be an absolute URI"),
        ({"email": "nope"}, r"recipient\.email: is not an email address"),
        ({"awarded": datetime(2024, 1, 1)}, "awarded: must be timezone-aware"),
        ({"evidence": [{"type": ["Proof"]}]}, r"evidence\[0\]\.type: must contain 'Evidence'"),
        ({"results": ["A"]}, r"results\[0\]: must be an object"),
    ],
)
def test_award_bad_arguments(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(MalformedInputError, match=match):
        award(**kw)


AWARD_VARIANTS: list[dict[str, Any]] = [
    {},
    {"recipient_did": None, "email": "ada@example.edu", "salt": "s"},
    {"email": "ada@example.edu", "name": "Ada Lovelace"},
    {
        "evidence": [{"id": "https://example.edu/e/1", "name": "n", "description": "d"}],
        "results": [{"resultDescription": "urn:uuid:1", "value": "A", "status": "Completed"}],
    },
]


@pytest.mark.parametrize("kw", AWARD_VARIANTS)
def test_awards_pass_jsonld_safe_mode(kw: dict[str, Any]) -> None:
    cred = award(**kw)
    nquads = jsonld.canonicalize(cred)
    assert "<https://purl.imsglobal.org/spec/vc/ob/vocab.html#achievement>" in nquads
    assert "https://purl.imsglobal.org/spec/vc/ob/vocab.html#awardedDate" in nquads
    if "name" in kw:
        assert '"Ada Lovelace"' in nquads


def test_minimal_achievement_award_passes_safe_mode_and_schema() -> None:
    ach = Achievement.from_json(
        {
            "id": "urn:uuid:8d2a",
            "type": "Achievement",
            "name": "N",
            "description": "D",
            "criteria": {"narrative": "x"},
        }
    )
    cred = build_award(ach, IssuerProfile(id=KEY.did, name="I"), awarded=AWARDED, email="a@b.c")
    jsonld.canonicalize(cred)
    assert validate_ob_credential(cred) == []


# --- schema validation of signed awards -----------------------------------------------------------


def signed_award(**kw: Any) -> dict[str, Any]:
    return sign(award(**kw), KEY, created=AWARDED)


@pytest.mark.parametrize("suite", ["eddsa-rdfc-2022", "Ed25519Signature2020"])
async def test_signed_award_passes_schema_with_proof_array_and_still_verifies(suite: str) -> None:
    signed = sign(award(email="ada@example.edu"), KEY, suite=suite, created=AWARDED)
    assert validate_ob_credential(signed) == ["proof: must be of type array, got object"]
    shaped = ob_schema_compatible(signed)
    assert isinstance(shaped["proof"], list) and shaped["proof"][0] == signed["proof"]
    assert signed["proof"] is not shaped["proof"]  # the input is left alone
    assert validate_ob_credential(shaped) == []
    result = await verify_credential(shaped, now=lambda: datetime(2025, 1, 1, tzinfo=UTC))
    assert result.verified, result


async def test_schema_shaping_never_changes_claims() -> None:
    shaped = ob_schema_compatible(signed_award())
    shaped["credentialSubject"]["achievement"]["name"] = "Python 102"
    result = await verify_credential(shaped, now=lambda: datetime(2025, 1, 1, tzinfo=UTC))
    assert not result.verified


def test_single_status_entry_array_is_unwrapped() -> None:
    cred = award()
    entry = {
        "id": "https://example.edu/status/1#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://example.edu/status/1",
    }
    cred["credentialStatus"] = [entry]
    assert validate_ob_credential(cred) == ["credentialStatus: must be of type object, got array"]
    assert ob_schema_compatible(cred)["credentialStatus"] == entry
    assert validate_ob_credential(ob_schema_compatible(cred)) == []
    assert jsonld.canonicalize(cred) == jsonld.canonicalize(ob_schema_compatible(cred))


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("criteria", "credentialSubject.achievement: 'criteria' is a required property"),
        ("description", "credentialSubject.achievement: 'description' is a required property"),
        ("name", "credentialSubject.achievement: 'name' is a required property"),
        ("id", "credentialSubject.achievement: 'id' is a required property"),
        ("type", "credentialSubject.achievement: 'type' is a required property"),
    ],
)
def test_schema_names_missing_achievement_fields(field: str, expected: str) -> None:
    cred = ob_schema_compatible(signed_award())
    del cred["credentialSubject"]["achievement"][field]
    assert validate_ob_credential(cred) == [expected]
    with pytest.raises(SchemaValidationError) as info:
        check_ob_credential(cred)
    assert info.value.code == "SCHEMA_VALIDATION_ERROR"
    assert info.value.http_status == 422
    assert info.value.extra["errors"] == [expected]
    assert expected in info.value.detail


def test_schema_reports_every_problem_with_paths() -> None:
    cred = award(email="ada@example.edu")
    cred["@context"] = [OB_CONTEXT, VC_V2_CONTEXT]
    cred["validFrom"] = "2024-13-01T00:00:00Z"
    cred["credentialSubject"]["identifier"][0]["hashed"] = "yes"
    cred["credentialSubject"]["achievement"]["alignment"][0].pop("targetName")
    cred["credentialSubject"]["achievement"]["image"]["width"] = 3
    del cred["issuer"]
    errors = validate_ob_credential(cred)
    assert "(root): 'issuer' is a required property" in errors
    assert "validFrom: '2024-13-01T00:00:00Z' is not a 'date-time'" in errors
    assert "credentialSubject.identifier[0].hashed: must be of type boolean, got string" in errors
    assert (
        "credentialSubject.achievement.alignment[0]: 'targetName' is a required property" in errors
    )
    assert any(e.startswith("credentialSubject.achievement.image: Additional") for e in errors)
    assert any(e.startswith("@context[0]: ") for e in errors)
    with pytest.raises(SchemaValidationError, match=r"\(and \d+ more\)"):
        check_ob_credential(cred)


def test_build_award_validates_by_default() -> None:
    ach = Achievement.from_json(achievement_json(), valid_for_months=12)
    # the model cannot produce an invalid credential; the flag only saves time when off
    assert build_award(ach, issuer(), awarded=AWARDED, email="a@b.c", validate=False) is not None


def test_date_time_format_is_checked_without_extra_packages() -> None:
    cred = award()
    for good in ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123+02:00", "2016-12-31T23:59:60Z"):
        cred["validFrom"] = good
        assert validate_ob_credential(cred) == [], good
    for bad in ("2024-01-01", "2024-01-01T00:00:00", "2024-02-30T00:00:00Z", "yesterday"):
        cred["validFrom"] = bad
        assert validate_ob_credential(cred) == [f"validFrom: {bad!r} is not a 'date-time'"], bad


def test_validate_accepts_anything_without_raising() -> None:
    assert validate_ob_credential([]) == ["(root): must be of type object, got array"]
    assert validate_ob_credential(None) == ["(root): must be of type object, got null"]
