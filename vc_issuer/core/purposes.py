"""Proof purposes: a proof only counts for what its controller authorized the key to do.

The controller document lists, per verification relationship (``assertionMethod``,
``authentication``...), the verification methods allowed for it; entries are id strings
(absolute or relative to the document) or embedded verification method objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from did_methods import errors as did_errors
from did_methods.document import relationship_ids
from vc_issuer.errors import ProofPurposeError, from_did_error

ASSERTION_METHOD = "assertionMethod"
AUTHENTICATION = "authentication"
KNOWN_PURPOSES: frozenset[str] = frozenset(
    {ASSERTION_METHOD, AUTHENTICATION, "capabilityInvocation", "capabilityDelegation",
     "keyAgreement"}
)  # fmt: skip


def check_purpose(proof: Mapping[str, Any], expected_purpose: str) -> None:
    """The proof states the purpose the verifier asks for."""
    purpose = proof.get("proofPurpose")
    if purpose != expected_purpose:
        raise ProofPurposeError(
            f"proof purpose is {purpose!r}, expected {expected_purpose!r}",
            expected=expected_purpose,
        )


def check_relationship(
    controller_document: Mapping[str, Any], verification_method: str, purpose: str
) -> None:
    """The controller lists ``verification_method`` under ``purpose``."""
    try:
        authorized = relationship_ids(controller_document, purpose)
    except did_errors.DIDError as exc:
        raise from_did_error(exc) from None
    if verification_method not in authorized:
        controller = controller_document.get("id")
        raise ProofPurposeError(
            f"verification method {verification_method} is not authorized for {purpose} "
            f"by its controller {controller}"
        )
