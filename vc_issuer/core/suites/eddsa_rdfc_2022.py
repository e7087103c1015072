"""The ``eddsa-rdfc-2022`` cryptosuite, step by step as in vc-di-eddsa §3.3.

transformation (RDFC-1.0) -> proof configuration -> hashing -> serialization; verification
recomputes the same hash and checks the Ed25519 signature. Each step is a function so tests can
compare it with the published intermediate values.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import base58

from vc_issuer.core.credentials import parse_xml_datetime
from vc_issuer.core.jsonld import ContextLoader, canonicalize
from vc_issuer.core.keys import Ed25519Key, verify_signature
from vc_issuer.errors import MalformedInputError, MalformedProofError, UnsupportedCryptosuiteError

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = "DataIntegrityProof"


@dataclass(frozen=True)
class HashingSteps:
    """The intermediate values of §3.3.4, for tests and debugging of interop failures."""

    canonical_document: str
    canonical_proof_config: str
    document_hash: bytes
    proof_config_hash: bytes

    @property
    def hash_data(self) -> bytes:
        """proofConfigHash || documentHash: the 64 bytes that are signed."""
        return self.proof_config_hash + self.document_hash


def check_proof_dates(options: Mapping[str, Any]) -> None:
    """``created`` and ``expires``, when present, must be XML dateTimeStamps."""
    for name in ("created", "expires"):
        if name in options:
            try:
                parse_xml_datetime(options[name], f"proof {name}", require_timezone=True)
            except MalformedInputError as exc:
                raise MalformedProofError(exc.detail, member=name) from None


def transformation(unsecured_document: Mapping[str, Any], loader: ContextLoader | None) -> str:
    """§3.3.2: the RDFC-1.0 canonical N-Quads of the unsecured document."""
    return canonicalize(unsecured_document, loader)


def proof_configuration(
    options: Mapping[str, Any], unsecured_document: Mapping[str, Any]
) -> dict[str, Any]:
    """§3.3.5: proof options without proofValue, under the document's own ``@context``."""
    if options.get("type") != PROOF_TYPE or options.get("cryptosuite") != CRYPTOSUITE:
        raise UnsupportedCryptosuiteError(
            f"expected type {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}, got type "
            f"{options.get('type')!r} with cryptosuite {options.get('cryptosuite')!r}"
        )
    check_proof_dates(options)
    config = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    config["@context"] = unsecured_document["@context"]
    return config


def hashing(canonical_proof_config: str, canonical_document: str) -> HashingSteps:
    """§3.3.4: SHA-256 of each canonical form; the proof configuration hash comes first."""
    return HashingSteps(
        canonical_document=canonical_document,
        canonical_proof_config=canonical_proof_config,
        document_hash=hashlib.sha256(canonical_document.encode("utf-8")).digest(),
        proof_config_hash=hashlib.sha256(canonical_proof_config.encode("utf-8")).digest(),
    )


def serialization(hash_data: bytes, key: Ed25519Key) -> str:
    """§3.3.6: pure Ed25519 over hashData, multibase base58btc (``z``...)."""
    return "z" + base58.b58encode(key.sign(hash_data)).decode("ascii")


def decode_proof_value(proof_value: Any) -> bytes:
    """The 64-byte signature of a ``z``-multibase proofValue, or MalformedProofError."""
    if not isinstance(proof_value, str) or not proof_value.startswith("z") or len(proof_value) < 2:
        raise MalformedProofError("proofValue must be a base58btc multibase string (z...)")
    return _decode_signature(proof_value)


@functools.lru_cache(maxsize=1024)
def _decode_signature(proof_value: str) -> bytes:
    # Cached: a verification checks the proof's shape and then verifies it, and the base58
    # decoder is pure Python (about 6% of a verify when done three times).
    try:
        signature = bytes(base58.b58decode(proof_value[1:]))
    except ValueError:
        raise MalformedProofError("proofValue is not valid base58btc") from None
    if len(signature) != 64:
        raise MalformedProofError(f"proofValue must hold a 64-byte signature, got {len(signature)}")
    return signature


def verification(hash_data: bytes, proof_value: Any, public_key: bytes) -> bool:
    """§3.3.7 (last steps): Ed25519-verify the decoded proofValue over hashData."""
    return verify_signature(public_key, hash_data, decode_proof_value(proof_value))


def hashing_steps(
    unsecured_document: Mapping[str, Any],
    options: Mapping[str, Any],
    loader: ContextLoader | None = None,
    canonical_document: str | None = None,
) -> HashingSteps:
    """``canonical_document``: the transformation of ``unsecured_document`` when the caller
    already has it (the members of a proof set all sign the same document)."""
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
    """§3.3.1: the proof object (no ``@context``) with its proofValue."""
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
    """§3.3.7: True when ``proof`` is a valid signature of ``unsecured_document``."""
    decode_proof_value(proof.get("proofValue"))
    steps = hashing_steps(unsecured_document, proof, loader, canonical_document)
    return verification(steps.hash_data, proof["proofValue"], public_key)
