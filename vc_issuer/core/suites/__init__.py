"""Proof suites by name: the Data Integrity cryptosuites (``eddsa-rdfc-2022``,
``eddsa-jcs-2022``, ``ecdsa-rdfc-2019``, ``ecdsa-jcs-2019``, ``ecdsa-sd-2023``) and the
legacy ``Ed25519Signature2020``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vc_issuer.core.suites import (
    ecdsa_jcs_2019,
    ecdsa_rdfc_2019,
    ecdsa_sd_2023,
    ed25519_signature_2020,
    eddsa_jcs_2022,
    eddsa_rdfc_2022,
)
from vc_issuer.core.suites.base import (
    DATA_INTEGRITY_PROOF,
    HashingSteps,
    ProofSuite,
    StandardSuite,
    add_data_integrity_context,
)
from vc_issuer.core.suites.eddsa_rdfc_2022 import decode_proof_value
from vc_issuer.errors import MalformedProofError, UnsupportedCryptosuiteError

__all__ = [
    "ECDSA_JCS_2019",
    "ECDSA_RDFC_2019",
    "ECDSA_SD_2023",
    "ED25519_SIGNATURE_2020",
    "EDDSA_JCS_2022",
    "EDDSA_RDFC_2022",
    "SUITES",
    "HashingSteps",
    "ProofSuite",
    "StandardSuite",
    "Suite",
    "add_data_integrity_context",
    "decode_proof_value",
    "suite_by_name",
    "suite_for_proof",
]

#: Kept for callers that name the type; every suite is a ProofSuite.
Suite = ProofSuite

EDDSA_RDFC_2022: StandardSuite = eddsa_rdfc_2022.SUITE
EDDSA_JCS_2022: StandardSuite = eddsa_jcs_2022.SUITE
ECDSA_RDFC_2019: StandardSuite = ecdsa_rdfc_2019.SUITE
ECDSA_JCS_2019: StandardSuite = ecdsa_jcs_2019.SUITE
ECDSA_SD_2023: ecdsa_sd_2023.EcdsaSd2023 = ecdsa_sd_2023.SUITE
ED25519_SIGNATURE_2020: StandardSuite = ed25519_signature_2020.SUITE

SUITES: dict[str, ProofSuite] = {
    s.name: s
    for s in (
        EDDSA_RDFC_2022,
        ED25519_SIGNATURE_2020,
        EDDSA_JCS_2022,
        ECDSA_RDFC_2019,
        ECDSA_JCS_2019,
        ECDSA_SD_2023,
    )
}
_BY_CRYPTOSUITE: dict[str, ProofSuite] = {
    s.cryptosuite: s for s in SUITES.values() if s.cryptosuite is not None
}


def suite_by_name(name: str) -> ProofSuite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnsupportedCryptosuiteError(
            f"unsupported suite {name!r}; supported: {', '.join(SUITES)}"
        ) from None


def suite_for_proof(proof: Mapping[str, Any]) -> ProofSuite:
    """The suite that verifies ``proof``, chosen by its type and cryptosuite."""
    proof_type = proof.get("type")
    if proof_type == DATA_INTEGRITY_PROOF:
        cryptosuite = proof.get("cryptosuite")
        if cryptosuite is None:
            raise MalformedProofError("DataIntegrityProof is missing cryptosuite")
        suite = _BY_CRYPTOSUITE.get(cryptosuite) if isinstance(cryptosuite, str) else None
        if suite is None:
            raise UnsupportedCryptosuiteError(f"unsupported cryptosuite {cryptosuite!r}")
        return suite
    if proof_type == ED25519_SIGNATURE_2020.proof_type:
        return ED25519_SIGNATURE_2020
    raise UnsupportedCryptosuiteError(f"unsupported proof type {proof_type!r}")
