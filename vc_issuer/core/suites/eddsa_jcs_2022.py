"""The ``eddsa-jcs-2022`` cryptosuite, step by step as in vc-di-eddsa §3.3 (the JCS variant).

Like eddsa-rdfc-2022, but the transformation is RFC 8785 JCS of the JSON itself, so no JSON-LD
processing is needed. Create Proof copies the document's ``@context`` into the proof, and the
signed proof keeps it; Verify Proof requires the document's ``@context`` to start with the
proof's and canonicalizes under the proof's (the shared flow, ``proof_keeps_context``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.keys import PublicKey, SigningKey
from vc_issuer.core.suites import eddsa_rdfc_2022
from vc_issuer.core.suites.base import (
    DATA_INTEGRITY_PROOF,
    HashingSteps,
    HashName,
    StandardSuite,
    check_proof_dates,
    check_suite_identity,
    hash_pair,
    jcs_canonicalize,
    multibase_signature,
)

CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = DATA_INTEGRITY_PROOF


def transformation(
    unsecured_document: Mapping[str, Any],
    loader: ContextLoader | None = None,
    hash_name: HashName = "sha256",
) -> str:
    """Transformation (eddsa-jcs-2022): RFC 8785 JCS of the unsecured document."""
    return jcs_canonicalize(unsecured_document)


def proof_configuration(
    options: Mapping[str, Any], unsecured_document: Mapping[str, Any]
) -> dict[str, Any]:
    """Proof Configuration (eddsa-jcs-2022): a clone of the options (``@context`` included,
    as Create Proof set it), without proofValue; canonicalized with JCS by the caller."""
    check_suite_identity(options, PROOF_TYPE, CRYPTOSUITE)
    check_proof_dates(options)
    return {k: v for k, v in options.items() if k != "proofValue"}


def hashing(
    canonical_proof_config: str, canonical_document: str, hash_name: HashName = "sha256"
) -> HashingSteps:
    """Hashing (eddsa-jcs-2022): SHA-256 of each; the proof configuration hash first."""
    return hash_pair(canonical_proof_config, canonical_document, "sha256")


def serialization(hash_data: bytes, key: SigningKey) -> str:
    """Proof Serialization (eddsa-jcs-2022): pure Ed25519 over hashData, base58btc."""
    return multibase_signature(hash_data, key)


def verification(hash_data: bytes, proof_bytes: bytes, public_key: PublicKey) -> bool:
    """Proof Verification (eddsa-jcs-2022): Ed25519-verify the signature over hashData."""
    return public_key.verify(hash_data, proof_bytes)


SUITE = StandardSuite(
    name=CRYPTOSUITE,
    proof_type=PROOF_TYPE,
    cryptosuite=CRYPTOSUITE,
    key_types=("Ed25519",),
    transformation=transformation,
    proof_configuration=proof_configuration,
    hashing=hashing,
    serialization=serialization,
    verification=verification,
    decode_proof_value=eddsa_rdfc_2022.decode_proof_value,
    proof_keeps_context=True,
)
