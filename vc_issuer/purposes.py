"""Proof purposes: a proof only counts for what its controller authorized the key to do.

The controller document lists, per verification relationship (``assertionMethod``,
``authentication``...), the verification methods allowed for it; entries are id strings
(absolute or relative to the document) or embedded verification method objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vc_issuer.errors import ProofPurposeError

ASSERTION_METHOD = "assertionMethod"
AUTHENTICATION = "authentication"
KNOWN_PURPOSES: frozenset[str] = frozenset(
    {ASSERTION_METHOD, AUTHENTICATION, "capabilityInvocation", "capabilityDelegation",
     "keyAgreement"}
)  # fmt: skip


def absolute_id(value: str, base: str | None) -> str:
    """Resolve a ``#fragment`` id against the controller document id."""
    if value.startswith("#") and base:
        return base.split("#", 1)[0] + value
    return value


def relationship_ids(controller_document: Mapping[str, Any], purpose: str) -> list[str]:
    """The verification method ids the document lists under ``purpose``."""
    base = controller_document.get("id")
    base = base if isinstance(base, str) else None
    entries = controller_document.get(purpose)
    if entries is None:
        return []
    if not isinstance(entries, list):
        entries = [entries]
    ids: list[str] = []
    for entry in entries:
        if isinstance(entry, str):
            ids.append(absolute_id(entry, base))
        elif isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            ids.append(absolute_id(entry["id"], base))
    return ids


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
    if verification_method not in relationship_ids(controller_document, purpose):
        controller = controller_document.get("id")
        raise ProofPurposeError(
            f"verification method {verification_method} is not authorized for {purpose} "
            f"by its controller {controller}"
        )
