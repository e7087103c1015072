"""The ``ecdsa-jcs-2019`` cryptosuite, step by step as in vc-di-ecdsa §3.3.

ecdsa-rdfc-2019 with RFC 8785 JCS as the transformation. As in eddsa-jcs-2022, the proof
keeps a copy of the document's ``@context``, and verification requires the document's
``@context`` to start with it.
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
    decode_ecdsa_signature,
    hash_pair,
    jcs_canonicalize,
    multibase_signature,
)

CRYPTOSUITE = "ecdsa-jcs-2019"
PROOF_TYPE = DATA_INTEGRITY_PROOF


def transformation(
    unsecured_document: Mapping[str, Any],
    loader: ContextLoader | None = None,
    hash_name: HashName = "sha256",
) -> str:
    """§3.3.3: RFC 8785 JCS of the unsecured document."""
    return jcs_canonicalize(unsecured_document)


def proof_configuration(
    options: Mapping[str, Any], unsecured_document: Mapping[str, Any]
) -> dict[str, Any]:
    """§3.3.5: a clone of the options (with the ``@context`` Create Proof copied into it),
    without proofValue; canonicalized with JCS by the caller."""
    check_suite_identity(options, PROOF_TYPE, CRYPTOSUITE)
    check_proof_dates(options)
    return {k: v for k, v in options.items() if k != "proofValue"}


def hashing(
    canonical_proof_config: str, canonical_document: str, hash_name: HashName = "sha256"
) -> HashingSteps:
    """§3.3.4: SHA-256 (P-256) or SHA-384 (P-384) of each; the proof configuration first."""
    return hash_pair(canonical_proof_config, canonical_document, hash_name)


def serialization(hash_data: bytes, key: SigningKey) -> str:
    """§3.3.6: ECDSA over hashData (64 bytes for P-256, 96 for P-384), base58btc."""
    return multibase_signature(hash_data, key)


def verification(hash_data: bytes, proof_bytes: bytes, public_key: PublicKey) -> bool:
    """§3.3.7: ECDSA-verify proofBytes over hashData with the verification method's key."""
    return public_key.verify(hash_data, proof_bytes)


SUITE = StandardSuite(
    name=CRYPTOSUITE,
    proof_type=PROOF_TYPE,
    cryptosuite=CRYPTOSUITE,
    key_types=("P-256", "P-384"),
    transformation=transformation,
    proof_configuration=proof_configuration,
    hashing=hashing,
    serialization=serialization,
    verification=verification,
    decode_proof_value=decode_ecdsa_signature,
    proof_keeps_context=True,
)
