"""eddsa-jcs-2022 against the W3C vc-di-eddsa vector, and JCS (RFC 8785) itself: the fast path
through the standard library's encoder writes exactly what ``rfc8785`` writes."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from vc_issuer.core.keys import Ed25519Key, parse_key
from vc_issuer.core.proofs import sign
from vc_issuer.core.suites import EDDSA_JCS_2022
from vc_issuer.core.suites.base import jcs_canonicalize
from vc_issuer.errors import MalformedInputError, UnsupportedCryptosuiteError
from vc_issuer.services.verifier import verify_credential

from ._helpers import DI, assert_vector_steps, load

JCS = DI / "eddsa-jcs-2022"


def text(path: Path) -> str:
    return path.read_text("utf-8")


@pytest.fixture(scope="module")
def w3c_key() -> Ed25519Key:
    return parse_key(load(DI / "keyPair.json"))


def test_eddsa_jcs_2022_vector_every_step(w3c_key: Ed25519Key) -> None:
    document = load(DI / "unsigned.json")
    options = load(JCS / "proofConfigJCS.json")
    steps = EDDSA_JCS_2022.hashing_steps(document, options)
    assert_vector_steps(steps, JCS, "JCS")
    assert w3c_key.sign(steps.hash_data).hex() == text(JCS / "sigHexJCS.txt").strip()

    proof = EDDSA_JCS_2022.create_proof(document, options, w3c_key)
    signed = load(JCS / "signedJCS.json")
    assert proof["proofValue"] == text(JCS / "sigBTC58JCS.txt").strip()
    assert proof == signed["proof"]
    assert proof["@context"] == document["@context"]  # the signed proof keeps @context
    assert EDDSA_JCS_2022.verify_proof(document, signed["proof"], w3c_key.public())


def test_sign_reproduces_the_vector(w3c_key: Ed25519Key) -> None:
    signed = sign(
        load(DI / "unsigned.json"), w3c_key, suite="eddsa-jcs-2022", created="2023-02-24T23:36:38Z"
    )
    assert signed == load(JCS / "signedJCS.json")


async def test_verify_credential_and_a_changed_claim(w3c_key: Ed25519Key) -> None:
    signed = load(DI / "unsigned.json")
    signed["issuer"] = w3c_key.did  # the vector's issuer does not control the vector's key
    signed = sign(signed, w3c_key, suite="eddsa-jcs-2022")
    assert (await verify_credential(signed)).verified
    changed = copy.deepcopy(signed)
    changed["credentialSubject"]["alumniOf"] += " "
    assert (await verify_credential(changed)).codes() == ["PROOF_VERIFICATION_ERROR"]
    # the proof's own @context is signed too
    changed = copy.deepcopy(signed)
    changed["proof"]["@context"] = changed["proof"]["@context"][:1]
    assert (await verify_credential(changed)).codes() == ["PROOF_VERIFICATION_ERROR"]


def test_proof_configuration_checks_the_suite() -> None:
    options = {**load(JCS / "proofConfigJCS.json"), "cryptosuite": "eddsa-rdfc-2022"}
    with pytest.raises(UnsupportedCryptosuiteError):
        EDDSA_JCS_2022.hashing_steps(load(DI / "unsigned.json"), options)


# --- JCS ------------------------------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_jcs_equals_rfc8785(value: Any) -> None:
    """Whatever path it takes, the canonical form is rfc8785's, byte for byte."""
    try:
        expected = rfc8785.dumps(value).decode("utf-8")
    except rfc8785.CanonicalizationError:
        with pytest.raises(MalformedInputError):
            jcs_canonicalize({"v": value})
        return
    assert jcs_canonicalize({"v": value}) == '{"v":' + expected + "}"


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\ue000": 2},  # UTF-16 order differs from code point order
        {"n": 1.0, "m": 1e-7, "k": 1e21},  # ES6 number formatting
        {"s": 'line\nbreak \u2028 \x7f \x01 "quoted" \\ é'},
    ],
)
def test_jcs_special_cases(value: dict[str, Any]) -> None:
    assert jcs_canonicalize(value) == rfc8785.dumps(value).decode("utf-8")


@pytest.mark.parametrize("value", [2**53, math.nan, math.inf])
def test_jcs_refuses_what_it_cannot_represent(value: Any) -> None:
    with pytest.raises(MalformedInputError, match="JCS"):
        jcs_canonicalize({"v": value})
