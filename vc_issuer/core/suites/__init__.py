"""Proof suites by name: ``eddsa-rdfc-2022`` (Data Integrity) and ``Ed25519Signature2020``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.keys import Ed25519Key
from vc_issuer.core.suites import ed25519_signature_2020, eddsa_rdfc_2022
from vc_issuer.core.suites.eddsa_rdfc_2022 import HashingSteps, decode_proof_value
from vc_issuer.errors import MalformedProofError, UnsupportedCryptosuiteError

__all__ = [
    "ED25519_SIGNATURE_2020",
    "EDDSA_RDFC_2022",
    "SUITES",
    "HashingSteps",
    "Suite",
    "decode_proof_value",
    "suite_by_name",
    "suite_for_proof",
]

Document = Mapping[str, Any]


class VerifyProof(Protocol):
    def __call__(
        self,
        unsecured_document: Document,
        proof: Document,
        public_key: bytes,
        loader: ContextLoader | None = None,
        canonical_document: str | None = None,
    ) -> bool: ...


@dataclass(frozen=True)
class Suite:
    """One proof suite: how its proofs are named and the functions that do the work."""

    name: str
    proof_type: str
    cryptosuite: str | None
    required_context: str | None
    transformation: Callable[[Document, ContextLoader | None], str]
    hashing_steps: Callable[[Document, Document, ContextLoader | None], HashingSteps]
    create_proof: Callable[[Document, Document, Ed25519Key, ContextLoader | None], dict[str, Any]]
    verify_proof: VerifyProof

    def proof_options(self) -> dict[str, Any]:
        """The naming members every proof of this suite starts with."""
        opts: dict[str, Any] = {"type": self.proof_type}
        if self.cryptosuite is not None:
            opts["cryptosuite"] = self.cryptosuite
        return opts

    def prepare_document(self, document: Document) -> dict[str, Any]:
        """The document as it must be signed: the suite context added when the suite needs it."""
        if self.required_context is not None:
            return ed25519_signature_2020.add_suite_context(document)
        return add_data_integrity_context(document)


VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"


def add_data_integrity_context(document: Document) -> dict[str, Any]:
    """VC 2.0 defines DataIntegrityProof; a VC 1.1 document needs data-integrity/v2 added
    (as vc-js does), or its proof would not expand."""
    out = dict(document)
    ctx = out.get("@context")
    if isinstance(ctx, list) and VC2_CONTEXT not in ctx and DATA_INTEGRITY_CONTEXT not in ctx:
        out["@context"] = [*ctx, DATA_INTEGRITY_CONTEXT]
    return out


EDDSA_RDFC_2022 = Suite(
    name=eddsa_rdfc_2022.CRYPTOSUITE,
    proof_type=eddsa_rdfc_2022.PROOF_TYPE,
    cryptosuite=eddsa_rdfc_2022.CRYPTOSUITE,
    required_context=None,
    transformation=eddsa_rdfc_2022.transformation,
    hashing_steps=eddsa_rdfc_2022.hashing_steps,
    create_proof=eddsa_rdfc_2022.create_proof,
    verify_proof=eddsa_rdfc_2022.verify_proof,
)

ED25519_SIGNATURE_2020 = Suite(
    name=ed25519_signature_2020.PROOF_TYPE,
    proof_type=ed25519_signature_2020.PROOF_TYPE,
    cryptosuite=None,
    required_context=ed25519_signature_2020.SUITE_CONTEXT,
    transformation=ed25519_signature_2020.transformation,
    hashing_steps=ed25519_signature_2020.hashing_steps,
    create_proof=ed25519_signature_2020.create_proof,
    verify_proof=ed25519_signature_2020.verify_proof,
)

SUITES: dict[str, Suite] = {s.name: s for s in (EDDSA_RDFC_2022, ED25519_SIGNATURE_2020)}


def suite_by_name(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnsupportedCryptosuiteError(
            f"unsupported suite {name!r}; supported: {', '.join(SUITES)}"
        ) from None


def suite_for_proof(proof: Mapping[str, Any]) -> Suite:
    """The suite that verifies ``proof``, chosen by its type and cryptosuite."""
    proof_type = proof.get("type")
    if proof_type == "DataIntegrityProof":
        cryptosuite = proof.get("cryptosuite")
        if cryptosuite is None:
            raise MalformedProofError("DataIntegrityProof is missing cryptosuite")
        if cryptosuite == EDDSA_RDFC_2022.cryptosuite:
            return EDDSA_RDFC_2022
        raise UnsupportedCryptosuiteError(f"unsupported cryptosuite {cryptosuite!r}")
    if proof_type == ED25519_SIGNATURE_2020.proof_type:
        return ED25519_SIGNATURE_2020
    raise UnsupportedCryptosuiteError(f"unsupported proof type {proof_type!r}")
