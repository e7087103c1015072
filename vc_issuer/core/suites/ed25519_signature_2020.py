"""The legacy ``Ed25519Signature2020`` suite, still what many wallets verify.

Same transformation, hashing and serialization as eddsa-rdfc-2022; the differences are the
proof configuration (type Ed25519Signature2020, no cryptosuite) and that the suite context must
be in the document's own ``@context``, because the proof configuration borrows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vc_issuer.core.jsonld import ContextLoader, canonicalize
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.suites.eddsa_rdfc_2022 import (
    HashingSteps,
    check_proof_dates,
    decode_proof_value,
    hashing,
    serialization,
    transformation,
    verification,
)
from vc_issuer.errors import MalformedProofError, UnsupportedCryptosuiteError

PROOF_TYPE = "Ed25519Signature2020"
SUITE_CONTEXT = "https://w3id.org/security/suites/ed25519-2020/v1"

__all__ = [
    "PROOF_TYPE",
    "SUITE_CONTEXT",
    "add_suite_context",
    "create_proof",
    "has_suite_context",
    "hashing",
    "hashing_steps",
    "proof_configuration",
    "serialization",
    "transformation",
    "verification",
    "verify_proof",
]


def has_suite_context(document: Mapping[str, Any]) -> bool:
    ctx = document.get("@context")
    return ctx == SUITE_CONTEXT or (isinstance(ctx, list) and SUITE_CONTEXT in ctx)


def add_suite_context(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose ``@context`` ends with the suite context (if missing)."""
    out = dict(document)
    if has_suite_context(document):
        return out
    ctx = document.get("@context")
    if isinstance(ctx, list):
        out["@context"] = [*ctx, SUITE_CONTEXT]
    elif ctx is not None:
        out["@context"] = [ctx, SUITE_CONTEXT]
    return out


def proof_configuration(
    options: Mapping[str, Any], unsecured_document: Mapping[str, Any]
) -> dict[str, Any]:
    """Proof options without proofValue, under the document's ``@context``."""
    if options.get("type") != PROOF_TYPE:
        raise UnsupportedCryptosuiteError(
            f"expected type {PROOF_TYPE}, got {options.get('type')!r}"
        )
    if "cryptosuite" in options:
        raise MalformedProofError(f"{PROOF_TYPE} proofs carry no cryptosuite")
    if not has_suite_context(unsecured_document):
        raise MalformedProofError(f"{PROOF_TYPE} requires {SUITE_CONTEXT} in the document @context")
    check_proof_dates(options)
    config = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    config["@context"] = unsecured_document["@context"]
    return config


def hashing_steps(
    unsecured_document: Mapping[str, Any],
    options: Mapping[str, Any],
    loader: ContextLoader | None = None,
    canonical_document: str | None = None,
) -> HashingSteps:
    config = proof_configuration(options, unsecured_document)
    if canonical_document is None:
        canonical_document = transformation(unsecured_document, loader)
    return hashing(canonicalize(config, loader), canonical_document)


def create_proof(
    unsecured_document: Mapping[str, Any],
    options: Mapping[str, Any],
    key: Ed25519Key,
    loader: ContextLoader | None = None,
) -> dict[str, Any]:
    steps = hashing_steps(unsecured_document, options, loader)
    proof = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    proof["proofValue"] = serialization(steps.hash_data, key)
    return proof


def verify_proof(
    unsecured_document: Mapping[str, Any],
    proof: Mapping[str, Any],
    public_key: bytes,
    loader: ContextLoader | None = None,
    canonical_document: str | None = None,
) -> bool:
    decode_proof_value(proof.get("proofValue"))
    steps = hashing_steps(unsecured_document, proof, loader, canonical_document)
    return verification(steps.hash_data, proof["proofValue"], public_key)
