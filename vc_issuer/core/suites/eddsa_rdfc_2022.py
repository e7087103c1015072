"""The ``eddsa-rdfc-2022`` cryptosuite, as in vc-di-eddsa §3.3.

transformation (§3.3.2: RDFC-1.0 canonical N-Quads) -> proof configuration (§3.3.5: the
options without proofValue, under the document's own ``@context``) -> hashing (§3.3.4: SHA-256
of each canonical form, the proof configuration's first) -> serialization (§3.3.6: pure Ed25519
over hashData, base58btc); verification (§3.3.7) recomputes the hash and checks the signature.
These are the shared steps of :class:`~vc_issuer.core.suites.base.StandardSuite`; what is this
suite's own is below. The steps are exported one by one so tests can compare them with the
published intermediate values.
"""

from __future__ import annotations

from typing import Any

from vc_issuer.core.suites.base import (
    DATA_INTEGRITY_PROOF,
    StandardSuite,
    decode_multibase_signature,
    rdfc_canonicalize,
)
from vc_issuer.errors import MalformedProofError

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = DATA_INTEGRITY_PROOF


def decode_proof_value(proof_value: Any) -> bytes:
    """The 64-byte signature of a ``z``-multibase proofValue, or MalformedProofError."""
    signature = decode_multibase_signature(proof_value)
    if len(signature) != 64:
        raise MalformedProofError(f"proofValue must hold a 64-byte signature, got {len(signature)}")
    return signature


SUITE = StandardSuite(
    name=CRYPTOSUITE,
    proof_type=PROOF_TYPE,
    cryptosuite=CRYPTOSUITE,
    key_types=("Ed25519",),
    canonicalize=rdfc_canonicalize,
    hash_name="sha256",
    decode_proof_value=decode_proof_value,
)

transformation = SUITE.transformation
proof_configuration = SUITE.proof_configuration
hashing = SUITE.hashing
serialization = SUITE.serialization
verification = SUITE.verification
