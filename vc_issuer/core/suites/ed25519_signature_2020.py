"""The legacy ``Ed25519Signature2020`` suite, still what many wallets verify.

Same transformation, hashing and serialization as eddsa-rdfc-2022; the differences are the
proof configuration (type Ed25519Signature2020, no cryptosuite) and that the suite context must
be in the document's own ``@context``, because the proof configuration borrows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from vc_issuer.core.suites import eddsa_rdfc_2022
from vc_issuer.core.suites.base import add_context, context_list
from vc_issuer.errors import MalformedProofError

PROOF_TYPE = "Ed25519Signature2020"
SUITE_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"


def has_suite_context(document: Mapping[str, Any]) -> bool:
    return SUITE_CONTEXT in context_list(document)


def add_suite_context(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose ``@context`` ends with the suite context (if missing)."""
    return add_context(document, SUITE_CONTEXT)


def check_configuration(options: Mapping[str, Any], unsecured_document: Mapping[str, Any]) -> None:
    """No cryptosuite, and the suite context in the document's ``@context`` (which the proof
    configuration borrows)."""
    if "cryptosuite" in options:
        raise MalformedProofError(f"{PROOF_TYPE} proofs carry no cryptosuite")
    if not has_suite_context(unsecured_document):
        raise MalformedProofError(f"{PROOF_TYPE} requires {SUITE_CONTEXT} in the document @context")


SUITE = replace(
    eddsa_rdfc_2022.SUITE,
    name=PROOF_TYPE,
    proof_type=PROOF_TYPE,
    cryptosuite=None,
    required_context=SUITE_CONTEXT,
    check_configuration=check_configuration,
)

proof_configuration = SUITE.proof_configuration
