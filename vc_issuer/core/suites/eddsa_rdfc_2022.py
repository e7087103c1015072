"""The ``eddsa-rdfc-2022`` cryptosuite, step by step as in vc-di-eddsa §3.3.

transformation (RDFC-1.0) -> proof configuration -> hashing (SHA-256) -> serialization (pure
Ed25519); verification recomputes the same hash and checks the signature. Each step is a
function so tests can compare it with the published intermediate values; the Create Proof and
Verify Proof flows are the shared ones of :class:`~vc_issuer.core.suites.base.StandardSuite`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.keys import PublicKey, SigningKey
from vc_issuer.core.suites.base import (
    DATA_INTEGRITY_PROOF,
    HashingSteps,
    HashName,
    StandardSuite,
    check_proof_dates,
    check_suite_identity,
    decode_multibase_signature,
    hash_pair,
    multibase_signature,
    rdfc_canonicalize,
)
from vc_issuer.errors import MalformedProofError

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = DATA_INTEGRITY_PROOF


def transformation(
    unsecured_document: Mapping[str, Any],
    loader: ContextLoader | None,
    hash_name: HashName = "sha256",
) -> str:
    """§3.3.2: the RDFC-1.0 canonical N-Quads of the unsecured document."""
    return rdfc_canonicalize(unsecured_document, loader, hash_name)


def proof_configuration(
    options: Mapping[str, Any], unsecured_document: Mapping[str, Any]
) -> dict[str, Any]:
    """§3.3.5: proof options without proofValue, under the document's own ``@context``."""
    check_suite_identity(options, PROOF_TYPE, CRYPTOSUITE)
    check_proof_dates(options)
    config = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    config["@context"] = unsecured_document["@context"]
    return config


def hashing(
    canonical_proof_config: str, canonical_document: str, hash_name: HashName = "sha256"
) -> HashingSteps:
    """§3.3.4: SHA-256 of each canonical form; the proof configuration hash comes first."""
    return hash_pair(canonical_proof_config, canonical_document, "sha256")


def serialization(hash_data: bytes, key: SigningKey) -> str:
    """§3.3.6: pure Ed25519 over hashData, multibase base58btc (``z``...)."""
    return multibase_signature(hash_data, key)


def decode_proof_value(proof_value: Any) -> bytes:
    """The 64-byte signature of a ``z``-multibase proofValue, or MalformedProofError."""
    signature = decode_multibase_signature(proof_value)
    if len(signature) != 64:
        raise MalformedProofError(f"proofValue must hold a 64-byte signature, got {len(signature)}")
    return signature


def verification(hash_data: bytes, proof_bytes: bytes, public_key: PublicKey) -> bool:
    """§3.3.7 (last steps): Ed25519-verify the decoded proofValue over hashData."""
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
    decode_proof_value=decode_proof_value,
)
