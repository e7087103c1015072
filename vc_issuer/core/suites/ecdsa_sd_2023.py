"""The ``ecdsa-sd-2023`` selective disclosure cryptosuite (vc-di-ecdsa §3.5 and §3.6).

Three parties, three algorithms:

- the issuer creates a *base proof* (§3.6.1-§3.6.5): every non-mandatory N-Quad of the
  HMAC-relabeled canonical document is signed with a proof-scoped P-256 key, and the issuer key
  signs proofHash || that public key || mandatoryHash;
- the holder *derives* a proof (§3.6.6) revealing the mandatory statements plus the ones its
  JSON pointers select, keeping only their signatures;
- the verifier checks the derived proof (§3.6.7): the base signature with the issuer's key, each
  disclosed statement's signature with the proof-scoped key.

A base proof can be checked too (by the holder who receives it): the same checks over every
statement, with the HMAC key the proof value carries. Only P-256 is defined for this suite
(the spec's proof value sizes assume 64-byte signatures), as in Digital Bazaar's implementation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2

from did_methods.multikey import P256_PUB, MultibaseError, check_ec_point
from vc_issuer.core import rdfc
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.keys import EcdsaPublicKey, P256Key, PublicKey, SigningKey
from vc_issuer.core.suites import base
from vc_issuer.core.suites.base import (
    DATA_INTEGRITY_PROOF,
    Document,
    ProofSuite,
    rdfc_canonicalize,
)
from vc_issuer.core.suites.selective_disclosure import (
    canonicalize_and_group,
    create_hmac_id_label_map_function,
    create_label_map_function,
    hash_mandatory_nquads,
    label_replacement_canonicalize_json_ld,
    select_json_ld,
)
from vc_issuer.errors import (
    MalformedInputError,
    MalformedProofError,
    ProofError,
    ProofGenerationError,
)

CRYPTOSUITE = "ecdsa-sd-2023"
PROOF_TYPE = DATA_INTEGRITY_PROOF
BASE_PROOF_HEADER = b"\xd9\x5d\x00"
DERIVED_PROOF_HEADER = b"\xd9\x5d\x01"


# --- proof values (§3.5.1 - §3.5.9) -------------------------------------------------------------


def serialize_sign_data(proof_hash: bytes, public_key: bytes, mandatory_hash: bytes) -> bytes:
    """§3.5.1: proofHash || publicKey || mandatoryHash, what the issuer's key signs."""
    return proof_hash + public_key + mandatory_hash


def _multibase_b64url(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode_proof_value(proof_value: Any) -> bytes:
    if not isinstance(proof_value, str) or not proof_value.startswith("u"):
        raise MalformedProofError(
            "an ecdsa-sd-2023 proofValue must be a base64url multibase string (u...)"
        )
    body = proof_value[1:]
    if "=" in body or len(body) % 4 == 1:
        raise MalformedProofError("proofValue is not unpadded base64url")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise MalformedProofError("proofValue is not unpadded base64url") from None


def _cbor_components(data: bytes, header: bytes, what: str) -> list[Any]:
    if data[:3] != header:
        raise MalformedProofError(f"proofValue is not an ecdsa-sd-2023 {what} proof")
    try:
        components = cbor2.loads(data[3:])
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError):
        raise MalformedProofError(f"the {what} proof value is not valid CBOR") from None
    if not isinstance(components, list) or len(components) != 5:
        raise MalformedProofError(f"the {what} proof value must be a CBOR array of 5 items")
    return components


def _bytes_of(value: Any, length: int, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != length:
        raise MalformedProofError(f"{name} must be a byte string of {length} bytes")
    return value


@dataclass(frozen=True)
class BaseProofValue:
    """The five components of a base proof value (§3.5.2)."""

    base_signature: bytes
    public_key: bytes
    hmac_key: bytes
    signatures: list[bytes]
    mandatory_pointers: list[str]


@dataclass(frozen=True)
class DerivedProofValue:
    """The five components of a derived proof value (§3.5.7); ``label_map`` decompressed."""

    base_signature: bytes
    public_key: bytes
    signatures: list[bytes]
    label_map: dict[str, str]
    mandatory_indexes: list[int]


def serialize_base_proof_value(value: BaseProofValue) -> str:
    """§3.5.2: ``u`` + base64url(0xd95d00 || CBOR[baseSignature, publicKey, hmacKey,
    signatures, mandatoryPointers]), no CBOR tags."""
    payload = [
        value.base_signature,
        value.public_key,
        value.hmac_key,
        value.signatures,
        value.mandatory_pointers,
    ]
    return _multibase_b64url(BASE_PROOF_HEADER + cbor2.dumps(payload))


def parse_base_proof_value(proof_value: Any) -> BaseProofValue:
    """§3.5.3, with every component's type and size checked."""
    base_signature, public_key, hmac_key, signatures, pointers = _cbor_components(
        _decode_proof_value(proof_value), BASE_PROOF_HEADER, "base"
    )
    if not isinstance(signatures, list) or not isinstance(pointers, list):
        raise MalformedProofError("signatures and mandatoryPointers must be arrays")
    if not all(isinstance(p, str) for p in pointers):
        raise MalformedProofError("mandatoryPointers must be strings")
    return BaseProofValue(
        _bytes_of(base_signature, 64, "baseSignature"),
        _bytes_of(public_key, 35, "publicKey"),
        _bytes_of(hmac_key, 32, "hmacKey"),
        [_bytes_of(s, 64, "each signature") for s in signatures],
        list(pointers),
    )


def compress_label_map(label_map: Mapping[str, str]) -> dict[int, bytes]:
    """§3.5.5: ``c14nN`` -> N, ``u<base64url>`` -> the bytes (keys in ascending order, as a
    canonical CBOR encoder writes them)."""
    out: dict[int, bytes] = {}
    for key, value in label_map.items():
        out[int(key[4:])] = base64.urlsafe_b64decode(value[1:] + "=" * (-len(value[1:]) % 4))
    return dict(sorted(out.items()))


def decompress_label_map(compressed: Mapping[int, bytes]) -> dict[str, str]:
    """§3.5.6: N -> ``c14nN``, bytes -> ``u<base64url>``."""
    return {f"c14n{k}": _multibase_b64url(v) for k, v in compressed.items()}


def serialize_derived_proof_value(value: DerivedProofValue) -> str:
    """§3.5.7: ``u`` + base64url(0xd95d01 || CBOR[baseSignature, publicKey, signatures,
    compressedLabelMap, mandatoryIndexes])."""
    payload = [
        value.base_signature,
        value.public_key,
        value.signatures,
        compress_label_map(value.label_map),
        value.mandatory_indexes,
    ]
    return _multibase_b64url(DERIVED_PROOF_HEADER + cbor2.dumps(payload))


def parse_derived_proof_value(proof_value: Any) -> DerivedProofValue:
    """§3.5.8: a 64-byte base signature, the 35-byte proof-scoped key, 64-byte signatures, a
    map of integers to 32-byte labels and a list of integers; anything else is an error."""
    base_signature, public_key, signatures, label_map, indexes = _cbor_components(
        _decode_proof_value(proof_value), DERIVED_PROOF_HEADER, "derived"
    )
    if not isinstance(signatures, list):
        raise MalformedProofError("signatures must be an array")
    if not isinstance(label_map, dict) or not all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in label_map
    ):
        raise MalformedProofError("the label map must map non-negative integers to bytes")
    if not isinstance(indexes, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indexes
    ):
        raise MalformedProofError("mandatoryIndexes must be non-negative integers")
    return DerivedProofValue(
        _bytes_of(base_signature, 64, "baseSignature"),
        _bytes_of(public_key, 35, "publicKey"),
        [_bytes_of(s, 64, "each signature") for s in signatures],
        decompress_label_map({k: _bytes_of(v, 32, "each label") for k, v in label_map.items()}),
        list(indexes),
    )


def proof_scoped_public_key(public_key: bytes) -> EcdsaPublicKey:
    """The proof-scoped key a proof value carries: 0x8024 + a compressed P-256 point."""
    if public_key[:2] != P256_PUB:
        raise MalformedProofError("the proof-scoped public key must be a P-256 Multikey")
    try:
        check_ec_point("P-256", public_key[2:])
    except MultibaseError as exc:
        raise MalformedProofError(f"the proof-scoped public key: {exc}") from None
    return EcdsaPublicKey("P-256", public_key[2:])


# --- issuer: base proof (§3.6.1 - §3.6.5) -------------------------------------------------------


def proof_configuration(
    options: Mapping[str, Any], unsecured_document: Mapping[str, Any]
) -> dict[str, Any]:
    """§3.6.4: the proof options without proofValue, under the document's ``@context``."""
    return base.proof_configuration(options, unsecured_document, PROOF_TYPE, CRYPTOSUITE)


@dataclass(frozen=True)
class BaseTransform:
    """§3.6.2's output: the N-Quads split by the mandatory pointers, and the HMAC key."""

    mandatory_pointers: list[str]
    mandatory: dict[int, str]
    non_mandatory: dict[int, str]
    hmac_key: bytes
    nquads: list[str]


def base_proof_transformation(
    unsecured_document: Mapping[str, Any],
    mandatory_pointers: Sequence[str],
    hmac_key: bytes,
    loader: ContextLoader | None = None,
) -> BaseTransform:
    """§3.6.2: canonicalize with HMAC-relabeled blank nodes and group by mandatory pointers."""
    groups = canonicalize_and_group(
        unsecured_document,
        create_hmac_id_label_map_function(hmac_key),
        {"mandatory": list(mandatory_pointers)},
        loader,
    )
    mandatory = groups.groups["mandatory"]
    return BaseTransform(
        list(mandatory_pointers),
        mandatory.matching,
        mandatory.non_matching,
        hmac_key,
        groups.nquads,
    )


@dataclass(frozen=True)
class BaseHashData:
    """§3.6.3's output."""

    transform: BaseTransform
    canonical_proof_config: str
    proof_hash: bytes
    mandatory_hash: bytes


def base_proof_hashing(transform: BaseTransform, canonical_proof_config: str) -> BaseHashData:
    """§3.6.3: SHA-256 of the canonical proof configuration and of the mandatory N-Quads."""
    return BaseHashData(
        transform,
        canonical_proof_config,
        hashlib.sha256(canonical_proof_config.encode("utf-8")).digest(),
        hash_mandatory_nquads(transform.mandatory.values()),
    )


def base_proof_serialization(
    hash_data: BaseHashData, key: SigningKey, proof_scoped_key: P256Key | None = None
) -> str:
    """§3.6.5: sign each non-mandatory N-Quad with a fresh proof-scoped P-256 key, sign
    proofHash || its public key || mandatoryHash with the issuer key, and serialize.

    ``proof_scoped_key`` is for reproducing test vectors only; it must otherwise be fresh for
    every proof (and is then thrown away).
    """
    local = proof_scoped_key or P256Key.generate()
    assert isinstance(local, P256Key)
    signatures = [
        local.sign(nq.encode("utf-8")) for nq in hash_data.transform.non_mandatory.values()
    ]
    public_key = P256_PUB + local.public_key
    to_sign = serialize_sign_data(hash_data.proof_hash, public_key, hash_data.mandatory_hash)
    return serialize_base_proof_value(
        BaseProofValue(
            key.sign(to_sign),
            public_key,
            hash_data.transform.hmac_key,
            signatures,
            hash_data.transform.mandatory_pointers,
        )
    )


# --- holder: derived proof (§3.5.4, §3.6.6) -----------------------------------------------------


@dataclass(frozen=True)
class DisclosureData(DerivedProofValue):
    """§3.5.4's output: the derived proof value's components and the document to reveal."""

    reveal_document: dict[str, Any]


def create_disclosure_data(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    selective_pointers: Sequence[str],
    loader: ContextLoader | None = None,
) -> DisclosureData:
    """§3.5.4: what to reveal, which signatures go with it, and the label map a verifier
    needs to rebuild the HMAC labels from its own canonical labels."""
    base = parse_base_proof_value(proof.get("proofValue"))
    if not base.mandatory_pointers and not selective_pointers:
        raise ProofGenerationError("nothing selected for disclosure")
    combined = base.mandatory_pointers + list(selective_pointers)
    grouped = canonicalize_and_group(
        document,
        create_hmac_id_label_map_function(base.hmac_key),
        {
            "mandatory": base.mandatory_pointers,
            "selective": list(selective_pointers),
            "combined": combined,
        },
        loader,
    )
    mandatory = grouped.groups["mandatory"].matching
    selective = grouped.groups["selective"].matching
    combined_group = grouped.groups["combined"]

    # absolute indexes of the mandatory N-Quads -> indexes within what is revealed
    mandatory_indexes = [
        relative
        for relative, absolute in enumerate(combined_group.matching)
        if absolute in mandatory
    ]
    # the signatures of the selected non-mandatory N-Quads (signatures skip mandatory ones)
    filtered: list[bytes] = []
    index = 0
    for signature in base.signatures:
        while index in mandatory:
            index += 1
        if index in selective:
            filtered.append(signature)
        index += 1

    reveal = select_json_ld(combined, document)
    assert reveal is not None
    canonical_id_map = rdfc.canonicalize_quads(
        list(dict.fromkeys(combined_group.deskolemized_nquads))
    ).issued
    verifier_label_map = {
        verifier_label: grouped.label_map[input_label]
        for input_label, verifier_label in canonical_id_map.items()
    }
    return DisclosureData(
        base.base_signature,
        base.public_key,
        filtered,
        verifier_label_map,
        mandatory_indexes,
        reveal,
    )


def add_derived_proof(
    document: Mapping[str, Any],
    selective_pointers: Sequence[str],
    *,
    proof_id: str | None = None,
    loader: ContextLoader | None = None,
) -> dict[str, Any]:
    """§3.6.6, a holder's selective disclosure: from a document secured with a base proof
    (alone, or named by ``proof_id`` in a proof set), the document revealing the issuer's
    mandatory statements and those the JSON pointers select, with a derived proof a verifier
    can check. (:func:`vc_issuer.core.proofs.derive` is this function.)"""
    if not isinstance(document, Mapping):
        raise MalformedInputError("the document to derive from must be a JSON object")
    if isinstance(selective_pointers, str) or not all(
        isinstance(p, str) for p in selective_pointers
    ):
        raise MalformedInputError("selective pointers must be a list of JSON pointers")
    proofs = document.get("proof")
    candidates = proofs if isinstance(proofs, list) else [proofs] if proofs is not None else []
    base_proofs = [
        p
        for p in candidates
        if isinstance(p, Mapping)
        and p.get("cryptosuite") == CRYPTOSUITE
        and (proof_id is None or p.get("id") == proof_id)
    ]
    if len(base_proofs) != 1:
        raise ProofGenerationError(
            "no ecdsa-sd-2023 base proof to derive from"
            if not base_proofs
            else "several ecdsa-sd-2023 proofs: name the base proof with proof_id"
        )
    proof = base_proofs[0]
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    data = create_disclosure_data(unsecured, proof, list(selective_pointers), loader)
    new_proof = {k: v for k, v in proof.items() if k != "@context"}
    new_proof["proofValue"] = serialize_derived_proof_value(data)
    reveal = data.reveal_document
    reveal["proof"] = new_proof
    return reveal


# --- verifier (§3.5.9, §3.6.7) ------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyData:
    """§3.5.9's output."""

    base_signature: bytes
    proof_hash: bytes
    public_key: bytes
    signatures: list[bytes]
    non_mandatory: list[str]
    mandatory_hash: bytes


def create_verify_data(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    loader: ContextLoader | None = None,
) -> VerifyData:
    """§3.5.9: canonicalize the revealed document under the disclosed label map and split
    its N-Quads into mandatory and non-mandatory ones."""
    config = proof_configuration(proof, document)
    proof_hash = hashlib.sha256(rdfc_canonicalize(config, loader).encode("utf-8")).digest()
    derived = parse_derived_proof_value(proof.get("proofValue"))
    nquads, _ = label_replacement_canonicalize_json_ld(
        document, create_label_map_function(derived.label_map), loader
    )
    wanted = set(derived.mandatory_indexes)
    if any(i >= len(nquads) for i in wanted):
        raise ProofError("mandatoryIndexes point past the disclosed statements")
    mandatory = [nq for i, nq in enumerate(nquads) if i in wanted]
    non_mandatory = [nq for i, nq in enumerate(nquads) if i not in wanted]
    return VerifyData(
        derived.base_signature,
        proof_hash,
        derived.public_key,
        derived.signatures,
        non_mandatory,
        hash_mandatory_nquads(mandatory),
    )


def _verify_signatures(issuer_key: PublicKey, data: VerifyData) -> bool:
    """§3.6.7 steps 3-9: the counts match, the issuer key signed the base data, and the
    proof-scoped key signed every disclosed statement."""
    if len(data.signatures) != len(data.non_mandatory):
        raise ProofError(
            f"signature count ({len(data.signatures)}) does not match the non-mandatory "
            f"statement count ({len(data.non_mandatory)})"
        )
    local = proof_scoped_public_key(data.public_key)
    to_verify = serialize_sign_data(data.proof_hash, data.public_key, data.mandatory_hash)
    verified = issuer_key.verify(to_verify, data.base_signature)
    for signature, nq in zip(data.signatures, data.non_mandatory, strict=True):
        verified = local.verify(nq.encode("utf-8"), signature) and verified
    return verified


def verify_derived_proof(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    issuer_key: PublicKey,
    loader: ContextLoader | None = None,
) -> bool:
    """§3.6.7: the base signature verifies with the issuer's key, every disclosed statement
    with the proof-scoped key. (The issuer's key, not the proof-scoped one, checks the base
    signature: the spec's wording allows either reading, the W3C vectors settle it.)"""
    return _verify_signatures(issuer_key, create_verify_data(document, proof, loader))


def create_base_verify_data(
    document: Mapping[str, Any], proof: Mapping[str, Any], loader: ContextLoader | None = None
) -> VerifyData:
    """What a holder checks the base proof it received against (with
    ``_verify_signatures``, as a derived proof): the base transformation rebuilt with the
    proof's HMAC key and mandatory pointers, every statement disclosed."""
    base = parse_base_proof_value(proof.get("proofValue"))
    config = proof_configuration(proof, document)
    try:
        transform = base_proof_transformation(
            document, base.mandatory_pointers, base.hmac_key, loader
        )
    except ProofGenerationError as exc:  # a mandatory pointer that selects nothing
        raise ProofError(f"the base proof's mandatory pointers: {exc.detail}") from None
    hash_data = base_proof_hashing(transform, rdfc_canonicalize(config, loader))
    return VerifyData(
        base.base_signature,
        hash_data.proof_hash,
        base.public_key,
        base.signatures,
        list(transform.non_mandatory.values()),
        hash_data.mandatory_hash,
    )


# --- the suite -----------------------------------------------------------------------------------


class EcdsaSd2023(ProofSuite):
    """ecdsa-sd-2023 behind the common suite interface: create makes a base proof, verify
    takes a derived proof (or a base proof, as a holder would check it)."""

    name = CRYPTOSUITE
    proof_type = PROOF_TYPE
    cryptosuite: str | None = CRYPTOSUITE
    key_types = ("P-256",)
    required_context: str | None = None

    def check_proof_value(self, proof_value: Any) -> None:
        data = _decode_proof_value(proof_value)
        if data[:3] not in (BASE_PROOF_HEADER, DERIVED_PROOF_HEADER):
            raise MalformedProofError(
                "proofValue is neither an ecdsa-sd-2023 base proof (0xd95d00) nor a derived "
                "proof (0xd95d01)"
            )

    def create_proof(
        self,
        unsecured_document: Document,
        options: Document,
        key: SigningKey,
        loader: ContextLoader | None = None,
        *,
        mandatory_pointers: Sequence[str] | None = None,
        hmac_key: bytes | None = None,
        proof_scoped_key: P256Key | None = None,
    ) -> dict[str, Any]:
        """§3.6.1 Create Base Proof. ``hmac_key`` and ``proof_scoped_key`` are for
        reproducing test vectors; by default both are fresh random keys."""
        self.check_signing_key(key)
        pointers = list(mandatory_pointers or [])
        if not all(isinstance(p, str) for p in pointers):
            raise MalformedInputError("mandatory pointers must be JSON pointer strings")
        proof = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
        config = proof_configuration(proof, unsecured_document)
        transform = base_proof_transformation(
            unsecured_document, pointers, hmac_key or secrets.token_bytes(32), loader
        )
        hash_data = base_proof_hashing(transform, rdfc_canonicalize(config, loader))
        proof["proofValue"] = base_proof_serialization(hash_data, key, proof_scoped_key)
        return proof

    def verify_proof(
        self,
        unsecured_document: Document,
        proof: Document,
        public_key: PublicKey,
        loader: ContextLoader | None = None,
        canonical_forms: dict[Any, str] | None = None,
    ) -> bool:
        self.check_verification_key(public_key)
        data = _decode_proof_value(proof.get("proofValue"))
        if data[:3] == BASE_PROOF_HEADER:
            base_data = create_base_verify_data(unsecured_document, proof, loader)
            return _verify_signatures(public_key, base_data)
        return verify_derived_proof(unsecured_document, proof, public_key, loader)


SUITE = EcdsaSd2023()
