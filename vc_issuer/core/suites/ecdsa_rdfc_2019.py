"""The ``ecdsa-rdfc-2019`` cryptosuite, step by step as in vc-di-ecdsa §3.2.

transformation (RDFC-1.0, whose internal hash is SHA-384 for P-384 keys) -> proof
configuration -> hashing (SHA-256 for P-256, SHA-384 for P-384) -> serialization (ECDSA,
deterministic per RFC 6979, IEEE P1363 ``r || s``: 64 or 96 bytes, base58btc).
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
    multibase_signature,
    rdfc_canonicalize,
)

CRYPTOSUITE = "ecdsa-rdfc-2019"
PROOF_TYPE = DATA_INTEGRITY_PROOF


def transformation(
    unsecured_document: Mapping[str, Any],
    loader: ContextLoader | None,
    hash_name: HashName = "sha256",
) -> str:
    """§3.2.3: RDFC-1.0 canonical N-Quads, with the hash appropriate to the curve."""
    return rdfc_canonicalize(unsecured_document, loader, hash_name)


def proof_configuration(
    options: Mapping[str, Any], unsecured_document: Mapping[str, Any]
) -> dict[str, Any]:
    """§3.2.5: proof options without proofValue, under the document's own ``@context``."""
    check_suite_identity(options, PROOF_TYPE, CRYPTOSUITE)
    check_proof_dates(options)
    config = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    config["@context"] = unsecured_document["@context"]
    return config


def hashing(
    canonical_proof_config: str, canonical_document: str, hash_name: HashName = "sha256"
) -> HashingSteps:
    """§3.2.4: SHA-256 (P-256) or SHA-384 (P-384) of each; the proof configuration first."""
    return hash_pair(canonical_proof_config, canonical_document, hash_name)


def serialization(hash_data: bytes, key: SigningKey) -> str:
    """§3.2.6: ECDSA over hashData (64 bytes for P-256, 96 for P-384), base58btc."""
    return multibase_signature(hash_data, key)


def verification(hash_data: bytes, proof_bytes: bytes, public_key: PublicKey) -> bool:
    """§3.2.7: ECDSA-verify proofBytes over hashData with the verification method's key."""
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
)
