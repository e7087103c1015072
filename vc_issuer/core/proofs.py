"""Adding and verifying Data Integrity proofs (proof sets and chains included).

Signing is pure: the caller passes the key, the clock and the context loader. Verification
needs one injected edge, the DID resolver, to find the public key and its controller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from did_methods.document import public_key_material
from did_methods.errors import InvalidDocument
from did_methods.protocol import DIDResolver
from vc_issuer.core.credentials import (
    each_located,
    format_datetime,
    parse_xml_datetime,
    utcnow,
)
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.keys import PublicKey, SigningKey, public_key_from_material
from vc_issuer.core.purposes import KNOWN_PURPOSES, check_purpose, check_relationship
from vc_issuer.core.resolver import dereference, resolve_did
from vc_issuer.core.suites import ecdsa_sd_2023, suite_by_name, suite_for_proof
from vc_issuer.core.suites.base import check_proof_dates
from vc_issuer.errors import (
    InvalidChallengeError,
    InvalidDIDDocumentError,
    InvalidDomainError,
    InvalidKeyError,
    MalformedInputError,
    MalformedProofError,
    ProofError,
    ProofExpiredError,
    ProofGenerationError,
    VCIssuerError,
)

Clock = Callable[[], datetime]

REQUIRED_PROOF_MEMBERS = ("type", "created", "verificationMethod", "proofPurpose", "proofValue")


# --- document helpers ----------------------------------------------------------------------------


def get_proofs(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The proofs of a secured document as a list (a single proof object counts as one)."""
    proof = document.get("proof")
    if proof is None:
        raise MalformedProofError("the document has no proof")
    if proof == []:
        raise MalformedProofError("the document's proof array is empty")
    for where, item in each_located(proof, "proof"):
        if not isinstance(item, dict):
            raise MalformedProofError(f"{where} must be an object")
    return proof if isinstance(proof, list) else [proof]


def unsecured_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without its ``proof``: what a proof set member signs."""
    return {k: v for k, v in document.items() if k != "proof"}


def previous_proof_ids(proof: Mapping[str, Any]) -> list[str]:
    prev = proof.get("previousProof")
    if prev is None:
        return []
    ids = [prev] if isinstance(prev, str) else prev
    if not isinstance(ids, list) or not ids or not all(isinstance(x, str) for x in ids):
        raise MalformedProofError("previousProof must be a proof id or an array of proof ids")
    return ids


def chained_document(
    document: Mapping[str, Any], proof: Mapping[str, Any], all_proofs: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The document a proof signs: bare for a proof set member; for a chain link, with exactly
    the earlier proofs its ``previousProof`` names, as an array under ``proof``."""
    unsecured = unsecured_document(document)
    ids = previous_proof_ids(proof)
    if not ids:
        return unsecured
    by_id = {p.get("id"): p for p in all_proofs if isinstance(p.get("id"), str)}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ProofError(f"previousProof {', '.join(missing)} is not in the document's proofs")
    unsecured["proof"] = [dict(by_id[i]) for i in ids]
    return unsecured


def _check_context(document: Mapping[str, Any]) -> None:
    ctx = document.get("@context")
    if ctx is None:
        raise MalformedInputError("@context is missing")
    if not isinstance(ctx, list) or not ctx:
        raise MalformedInputError("@context must be a non-empty array")


def _datetime_value(value: datetime | str, name: str) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise MalformedInputError(f"{name} must be timezone-aware")
        return format_datetime(value)
    parse_xml_datetime(value, name, require_timezone=True)
    return value


# --- sign ----------------------------------------------------------------------------------------


def sign(
    document: Mapping[str, Any],
    key: SigningKey,
    *,
    suite: str = "eddsa-rdfc-2022",
    purpose: str = "assertionMethod",
    created: datetime | str | None = None,
    challenge: str | None = None,
    domain: str | list[str] | None = None,
    expires: datetime | str | None = None,
    proof_id: str | None = None,
    previous_proof: str | list[str] | None = None,
    loader: ContextLoader | None = None,
    now: Clock | None = None,
    mandatory_pointers: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A copy of ``document`` with one more proof, made by ``suite`` (a cryptosuite name or
    ``Ed25519Signature2020``) with a key of a type that suite signs with.

    Nothing else changes, except that Ed25519Signature2020 adds its suite context when missing
    (and a VC 1.1 document gets data-integrity/v2 for DataIntegrityProof). An existing proof
    turns ``proof`` into an array (a proof set); ``previous_proof`` makes the new proof a link
    of a chain. ``mandatory_pointers`` (ecdsa-sd-2023 only): the JSON pointers a holder must
    always disclose.
    """
    if not isinstance(document, Mapping):
        raise MalformedInputError("the document to sign must be a JSON object")
    _check_context(document)
    chosen = suite_by_name(suite)
    chosen.check_signing_key(key)
    if purpose not in KNOWN_PURPOSES:
        raise MalformedInputError(f"unknown proof purpose {purpose!r}")
    existing: list[dict[str, Any]] = get_proofs(document) if "proof" in document else []

    options: dict[str, Any] = chosen.proof_options()
    if proof_id is not None:
        options["id"] = proof_id
    options["created"] = _datetime_value(
        created if created is not None else (now or utcnow)(), "created"
    )
    options["verificationMethod"] = key.verification_method
    options["proofPurpose"] = purpose
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain
    if expires is not None:
        options["expires"] = _datetime_value(expires, "expires")
    if previous_proof is not None:
        options["previousProof"] = previous_proof

    secured = chosen.prepare_document(document)
    try:
        to_sign = chained_document(secured, options, existing)
    except ProofError as exc:
        raise ProofGenerationError(exc.detail) from None
    proof = chosen.create_proof(
        to_sign, options, key, loader, mandatory_pointers=mandatory_pointers
    )
    if existing:
        secured["proof"] = [*existing, proof]
    else:
        secured["proof"] = proof
    return secured


#: A holder's selective disclosure from an ecdsa-sd-2023 base proof (the suite's §3.6.6).
derive = ecdsa_sd_2023.add_derived_proof


# --- verify --------------------------------------------------------------------------------------


@dataclass
class ProofCheck:
    """The outcome for one proof of a document."""

    proof: dict[str, Any]
    verified: bool
    verification_method: str | None = None
    controller: str | None = None
    purpose: str | None = None
    error: VCIssuerError | None = field(default=None)


def check_proof_shape(proof: Mapping[str, Any]) -> None:
    """Every required member present with the right JSON type, dates well formed, and the
    proofValue well formed for the proof's suite."""
    for name in REQUIRED_PROOF_MEMBERS:
        if name not in proof:
            raise MalformedProofError(f"proof is missing {name}", member=name)
        if not isinstance(proof[name], str) or not proof[name]:
            raise MalformedProofError(f"proof {name} must be a non-empty string", member=name)
    check_proof_dates(proof)
    suite_for_proof(proof).check_proof_value(proof["proofValue"])


def _expected_member(proof: Mapping[str, Any], name: str, error: type[ProofError]) -> Any:
    """The proof's ``name``, which the verifier expects a value for: ``error`` when absent."""
    actual = proof.get(name)
    if actual is None:
        raise error(f"the proof has no {name}; one was expected")
    return actual


def check_challenge(proof: Mapping[str, Any], expected: str | None) -> None:
    if expected is None:
        return
    if _expected_member(proof, "challenge", InvalidChallengeError) != expected:
        raise InvalidChallengeError("the proof challenge does not match the expected challenge")


def check_domain(proof: Mapping[str, Any], expected: str | None) -> None:
    if expected is None:
        return
    actual = _expected_member(proof, "domain", InvalidDomainError)
    domains = actual if isinstance(actual, list) else [actual]
    if expected not in domains:
        raise InvalidDomainError(f"the proof domain {actual!r} does not include {expected!r}")


def check_expires(proof: Mapping[str, Any], moment: datetime) -> None:
    if "expires" not in proof:
        return
    expires = parse_xml_datetime(proof["expires"], "proof expires", require_timezone=True)
    if moment > expires:
        raise ProofExpiredError(f"the proof expired at {proof['expires']}")


def public_key_of(verification_method: Mapping[str, Any]) -> PublicKey:
    """The public key of a Multikey (Ed25519, P-256, P-384), Ed25519VerificationKey2020 /
    2018, or JsonWebKey / JsonWebKey2020 verification method."""
    try:
        return public_key_from_material(public_key_material(verification_method))
    except InvalidDocument as exc:
        vm_id = verification_method.get("id")
        raise InvalidKeyError(f"verification method {vm_id}: {exc.message}") from None


@dataclass(frozen=True)
class Verification:
    """One document's verification: what each of its proofs is checked against, and the
    canonical forms they share (one memo per set of earlier proofs covered, which the suite
    keys by its transformation)."""

    resolver: DIDResolver
    moment: datetime
    loader: ContextLoader | None = None
    expected_purpose: str = "assertionMethod"
    challenge: str | None = None
    domain: str | None = None
    canonical_forms: dict[tuple[str, ...], dict[Any, str]] = field(default_factory=dict)


async def verify_proof(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    all_proofs: Sequence[Mapping[str, Any]],
    verification: Verification,
) -> ProofCheck:
    """Verify one proof; every failure is returned in ``ProofCheck.error``, never raised."""
    result = ProofCheck(proof=dict(proof), verified=False)
    try:
        check_proof_shape(proof)
        suite = suite_for_proof(proof)
        result.verification_method = proof["verificationMethod"]
        result.purpose = proof["proofPurpose"]
        check_purpose(proof, verification.expected_purpose)
        check_challenge(proof, verification.challenge)
        check_domain(proof, verification.domain)
        check_expires(proof, verification.moment)
        signed = chained_document(document, proof, all_proofs)

        vm_url: str = proof["verificationMethod"]
        vm = await dereference(verification.resolver, vm_url)
        if vm.get("id") not in (None, vm_url):
            raise InvalidDIDDocumentError(f"dereferencing {vm_url} gave method {vm.get('id')}")
        controller: str = vm["controller"]
        result.controller = controller
        public_key = public_key_of(vm)
        controller_doc = await resolve_did(verification.resolver, controller)
        if controller_doc.get("id") != controller:
            raise InvalidDIDDocumentError(
                f"controller document id {controller_doc.get('id')!r} is not {controller}"
            )
        check_relationship(controller_doc, vm_url, verification.expected_purpose)

        memo = verification.canonical_forms.setdefault(tuple(previous_proof_ids(proof)), {})
        if not suite.verify_proof(signed, proof, public_key, verification.loader, memo):
            raise ProofError("the signature does not match the document and proof options")
    except VCIssuerError as exc:
        result.error = exc
        return result
    result.verified = True
    return result


async def verify_proofs(
    document: Mapping[str, Any],
    *,
    resolver: DIDResolver,
    loader: ContextLoader | None = None,
    expected_purpose: str = "assertionMethod",
    challenge: str | None = None,
    domain: str | None = None,
    now: Clock | None = None,
) -> list[ProofCheck]:
    """One ProofCheck per proof (set members and chain links alike).

    Raises MalformedProofError only when the document carries no usable ``proof`` member.
    """
    if not isinstance(document, Mapping):
        raise MalformedInputError("the secured document must be a JSON object")
    proofs = get_proofs(document)
    verification = Verification(
        resolver,
        (now or utcnow)(),
        loader=loader,
        expected_purpose=expected_purpose,
        challenge=challenge,
        domain=domain,
    )
    return [await verify_proof(document, proof, proofs, verification) for proof in proofs]
