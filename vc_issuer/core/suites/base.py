"""The skeleton every Data Integrity cryptosuite shares, written once.

A cryptosuite is three algorithms (the decomposition spruceid/ssi uses, and the one the W3C
cryptosuite specs follow section by section): a *transformation* of the unsecured document
(RDFC-1.0 N-Quads or RFC 8785 JCS), *hashing* of the transformed document and the proof
configuration (SHA-256 or SHA-384, the proof configuration hash first), and a *serialization*
(a signature over the hash data, multibase-encoded). "Create Proof" and "Verify Proof" are the
same for every such suite; :class:`StandardSuite` runs them, and each suite module supplies its
own steps. ecdsa-sd-2023 does not fit the mould (its base and derived proofs carry many
signatures) and implements :class:`ProofSuite` directly.
"""

from __future__ import annotations

import functools
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import rfc8785

from did_methods.multikey import KeyType, b58decode, b58encode
from vc_issuer.core import rdfc
from vc_issuer.core.credentials import members, parse_xml_datetime
from vc_issuer.core.jsonld import ContextLoader, to_quads
from vc_issuer.core.keys import PublicKey, SigningKey, looks_like_der
from vc_issuer.errors import (
    InvalidSignatureEncodingError,
    KeyTypeMismatchError,
    MalformedInputError,
    MalformedProofError,
    ProofError,
    SuiteKeyMismatchError,
    UnsupportedCryptosuiteError,
)

Document = Mapping[str, Any]
HashName = Literal["sha256", "sha384"]
#: (unsecured document, loader, hash) -> the transformed (canonical) document
Transformation = Callable[[Document, ContextLoader | None, HashName], str]

DATA_INTEGRITY_PROOF = "DataIntegrityProof"
VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"


@dataclass(frozen=True)
class HashingSteps:
    """The intermediate values of a suite's hashing step, for tests and interop debugging."""

    canonical_document: str
    canonical_proof_config: str
    document_hash: bytes
    proof_config_hash: bytes

    @property
    def hash_data(self) -> bytes:
        """proofConfigHash || transformedDocumentHash: what is signed."""
        return self.proof_config_hash + self.document_hash


# --- steps the suites share ---------------------------------------------------------------------


def check_proof_dates(options: Mapping[str, Any]) -> None:
    """``created`` and ``expires``, when present, must be XML dateTimeStamps."""
    for name in ("created", "expires"):
        if name in options:
            value = options[name]
            check = _cached_datetime_problem if isinstance(value, str) else _datetime_problem
            problem = check(name, value)
            if problem is not None:
                raise MalformedProofError(problem, member=name)


def _datetime_problem(name: str, value: Any) -> str | None:
    try:
        parse_xml_datetime(value, f"proof {name}", require_timezone=True)
    except MalformedInputError as exc:
        return exc.detail
    return None


# Cached: a proof's dates are checked with its shape, and again by the suite.
_cached_datetime_problem = functools.lru_cache(maxsize=4096)(_datetime_problem)


def check_suite_identity(
    options: Mapping[str, Any], proof_type: str, cryptosuite: str | None
) -> None:
    """Proof Configuration step 2: ``type`` (and ``cryptosuite``) must name this suite."""
    if options.get("type") != proof_type or (
        cryptosuite is not None and options.get("cryptosuite") != cryptosuite
    ):
        expected = f"type {proof_type}" + (
            f" with cryptosuite {cryptosuite}" if cryptosuite else ""
        )
        raise UnsupportedCryptosuiteError(
            f"expected {expected}, got type {options.get('type')!r} with cryptosuite "
            f"{options.get('cryptosuite')!r}"
        )


def hash_for(key_type: KeyType) -> HashName:
    """The hash whose security level matches the key: SHA-384 for P-384, else SHA-256."""
    return "sha384" if key_type == "P-384" else "sha256"


def digest(hash_name: HashName, data: str) -> bytes:
    return hashlib.new(hash_name, data.encode("utf-8")).digest()


def hash_pair(
    canonical_proof_config: str, canonical_document: str, hash_name: HashName = "sha256"
) -> HashingSteps:
    """Hash each canonical form; :attr:`HashingSteps.hash_data` joins them proof hash first."""
    return HashingSteps(
        canonical_document=canonical_document,
        canonical_proof_config=canonical_proof_config,
        document_hash=digest(hash_name, canonical_document),
        proof_config_hash=digest(hash_name, canonical_proof_config),
    )


def rdfc_canonicalize(
    document: Document, loader: ContextLoader | None, hash_name: HashName = "sha256"
) -> str:
    """RDFC-1.0 canonical N-Quads; ``hash_name`` is RDFC-1.0's own hash, which the ECDSA
    suites set to SHA-384 for P-384 keys (vc-di-ecdsa §3, "canon-and-hash")."""
    return rdfc.canonicalize(to_quads(document, loader), hash_algorithm=hash_name)


def jcs_canonicalize(
    document: Document, loader: ContextLoader | None = None, hash_name: HashName = "sha256"
) -> str:
    """RFC 8785 JSON Canonicalization Scheme.

    The ``rfc8785`` package (Trail of Bits) is the implementation: it does what
    ``json.dumps(sort_keys=True)`` does not in general (ES6 number formatting, UTF-16 key
    order). It is pure Python, though, about 0.2 ms for a badge, which dominated a JCS proof.
    For the JSON credentials are made of (no floats, integers within +-(2**53 - 1), keys in the
    Basic Multilingual Plane) the standard library's C encoder writes exactly the same text,
    so that case takes it; anything else goes to ``rfc8785`` (a property test checks that the
    two agree). Values JCS cannot represent (NaN, integers beyond 2**53) are a
    MalformedInputError.
    """
    if _plain_json(document):
        try:
            text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            text.encode("utf-8")  # lone surrogates: let rfc8785 judge them
            return text
        except (TypeError, ValueError, UnicodeEncodeError):
            pass
    try:
        return rfc8785.dumps(document).decode("utf-8")
    except rfc8785.CanonicalizationError as exc:
        raise MalformedInputError(f"the document cannot be canonicalized with JCS: {exc}") from None


_MAX_SAFE_INTEGER = 2**53 - 1


def _plain_json(value: Any) -> bool:
    """True when the C encoder's output is the JCS form: strings, safe integers, booleans,
    null, arrays and objects whose keys are strings without characters above U+FFFF."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        node = pop()
        kind = type(node)
        if kind is str or kind is bool or node is None:
            continue
        if kind is dict:
            for key in node:
                if type(key) is not str or not (key.isascii() or max(key) <= "\uffff"):
                    return False
            push(node.values())
        elif kind is list:
            push(node)
        elif kind is int:
            if not -_MAX_SAFE_INTEGER <= node <= _MAX_SAFE_INTEGER:
                return False
        else:
            return False
    return True


def multibase_signature(hash_data: bytes, key: SigningKey) -> str:
    """Proof Serialization: the key's signature over hashData, base58btc multibase (``z``)."""
    return "z" + b58encode(key.sign(hash_data))


def decode_multibase_signature(proof_value: Any) -> bytes:
    """The signature bytes of a ``z``-multibase proofValue, or MalformedProofError."""
    if not isinstance(proof_value, str) or not proof_value.startswith("z") or len(proof_value) < 2:
        raise MalformedProofError("proofValue must be a base58btc multibase string (z...)")
    return _b58decode(proof_value)


@functools.lru_cache(maxsize=1024)
def _b58decode(proof_value: str) -> bytes:
    # Cached: a verification checks the proof's shape and then verifies it, and the base58
    # decoder is pure Python (about 6% of a verify when done three times).
    try:
        return b58decode(proof_value[1:])
    except ValueError:
        raise MalformedProofError("proofValue is not valid base58btc") from None


def decode_ecdsa_signature(proof_value: Any) -> bytes:
    """A ``z``-multibase ECDSA signature: 64 (P-256) or 96 (P-384) bytes of r || s.

    The exact length for the key's curve, and r and s in range, are checked when the key is
    known (:meth:`vc_issuer.core.keys.EcdsaPublicKey.verify`).
    """
    signature = decode_multibase_signature(proof_value)
    if len(signature) not in (64, 96):
        if signature[:1] == b"\x30" and looks_like_der(signature):
            raise InvalidSignatureEncodingError(
                f"proofValue holds a DER-encoded ECDSA signature ({len(signature)} bytes); "
                "vc-di-ecdsa requires the IEEE P1363 form r || s (64 or 96 bytes)"
            )
        raise InvalidSignatureEncodingError(
            f"proofValue must hold a 64- or 96-byte ECDSA signature, got {len(signature)}"
        )
    return signature


def context_list(document: Mapping[str, Any]) -> list[Any]:
    return members(document, "@context")


def add_data_integrity_context(document: Document) -> dict[str, Any]:
    """VC 2.0 defines DataIntegrityProof; a VC 1.1 document needs data-integrity/v2 added
    (as vc-js does), or its proof would not expand."""
    out = dict(document)
    ctx = out.get("@context")
    if isinstance(ctx, list) and VC2_CONTEXT not in ctx and DATA_INTEGRITY_CONTEXT not in ctx:
        out["@context"] = [*ctx, DATA_INTEGRITY_CONTEXT]
    return out


def add_context(document: Document, url: str) -> dict[str, Any]:
    """A copy of ``document`` whose ``@context`` ends with ``url`` (if missing)."""
    out = dict(document)
    ctx = document.get("@context")
    if ctx == url or (isinstance(ctx, list) and url in ctx):
        return out
    if isinstance(ctx, list):
        out["@context"] = [*ctx, url]
    elif ctx is not None:
        out["@context"] = [ctx, url]
    return out


# --- the suite interface ------------------------------------------------------------------------


class ProofSuite(ABC):
    """What proofs.py needs from a suite: its names, the keys it takes, create and verify."""

    name: str
    proof_type: str
    cryptosuite: str | None
    key_types: tuple[KeyType, ...]
    required_context: str | None

    def proof_options(self) -> dict[str, Any]:
        """The naming members every proof of this suite starts with."""
        opts: dict[str, Any] = {"type": self.proof_type}
        if self.cryptosuite is not None:
            opts["cryptosuite"] = self.cryptosuite
        return opts

    def prepare_document(self, document: Document) -> dict[str, Any]:
        """The document as it must be signed: the suite context added when the suite needs it
        (a VC 1.1 document gets data-integrity/v2 for DataIntegrityProof)."""
        if self.required_context is not None:
            return add_context(document, self.required_context)
        return add_data_integrity_context(document)

    def check_signing_key(self, key: SigningKey) -> None:
        if key.key_type not in self.key_types:
            raise SuiteKeyMismatchError(
                f"{self.name} signs with {' or '.join(self.key_types)} keys, not {key.key_type}",
                keyType=key.key_type,
                suite=self.name,
            )

    def check_verification_key(self, key: PublicKey) -> None:
        if key.key_type not in self.key_types:
            raise KeyTypeMismatchError(
                f"{self.name} verifies with {' or '.join(self.key_types)} keys; the "
                f"verification method holds a {key.key_type} key",
                keyType=key.key_type,
                suite=self.name,
            )

    @abstractmethod
    def check_proof_value(self, proof_value: Any) -> None:
        """Raise MalformedProofError unless ``proof_value`` is well formed for this suite."""

    @abstractmethod
    def create_proof(
        self,
        unsecured_document: Document,
        options: Document,
        key: SigningKey,
        loader: ContextLoader | None = None,
        *,
        mandatory_pointers: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """The proof object (with proofValue) for ``unsecured_document``."""

    @abstractmethod
    def verify_proof(
        self,
        unsecured_document: Document,
        proof: Document,
        public_key: PublicKey,
        loader: ContextLoader | None = None,
        canonical_forms: dict[Any, str] | None = None,
    ) -> bool:
        """True when ``proof`` is a valid proof of ``unsecured_document`` by ``public_key``.

        ``canonical_forms`` memoizes transformed documents across the proofs of one document
        (the members of a proof set all sign the same document).
        """


def proof_configuration(
    options: Mapping[str, Any],
    unsecured_document: Mapping[str, Any],
    proof_type: str,
    cryptosuite: str | None,
    *,
    keeps_context: bool = False,
) -> dict[str, Any]:
    """Proof Configuration: the options, checked to name this suite and to carry valid dates,
    without proofValue. The RDFC suites canonicalize it under the document's ``@context``; the
    JCS suites (``keeps_context``) under the ``@context`` Create Proof copied into the proof."""
    check_suite_identity(options, proof_type, cryptosuite)
    check_proof_dates(options)
    if keeps_context:
        return {k: v for k, v in options.items() if k != "proofValue"}
    config = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    config["@context"] = unsecured_document["@context"]
    return config


@dataclass(frozen=True, eq=False)
class StandardSuite(ProofSuite):
    """A suite made of transformation + proof configuration + hashing + serialization.

    What differs between such suites is data: the canonicalization (RDFC-1.0 or JCS), the hash
    (``hash_name``: fixed, or None for the one matching the key's curve), the proof value's
    decoding, and extra proof configuration checks. ``proof_keeps_context``: the JCS suites
    copy the document's ``@context`` into the proof at creation, and at verification check that
    the document's ``@context`` starts with it and canonicalize under it; the RDFC suites put
    the document's ``@context`` into the proof configuration only.
    """

    name: str
    proof_type: str
    cryptosuite: str | None
    key_types: tuple[KeyType, ...]
    canonicalize: Transformation
    decode_proof_value: Callable[[Any], bytes]
    hash_name: HashName | None = None
    required_context: str | None = None
    proof_keeps_context: bool = False
    check_configuration: Callable[[Document, Document], None] | None = None
    """Checks of a suite's own, after the type check (Ed25519Signature2020's context)."""

    def transformation(
        self,
        unsecured_document: Document,
        loader: ContextLoader | None = None,
        hash_name: HashName = "sha256",
    ) -> str:
        """Transformation: the canonical form of the document (RDFC-1.0 N-Quads or JCS)."""
        return self.canonicalize(unsecured_document, loader, hash_name)

    def proof_configuration(
        self, options: Document, unsecured_document: Document
    ) -> dict[str, Any]:
        if self.check_configuration is not None:
            check_suite_identity(options, self.proof_type, self.cryptosuite)
            self.check_configuration(options, unsecured_document)
        return proof_configuration(
            options,
            unsecured_document,
            self.proof_type,
            self.cryptosuite,
            keeps_context=self.proof_keeps_context,
        )

    def hashing(
        self, canonical_proof_config: str, canonical_document: str, hash_name: HashName = "sha256"
    ) -> HashingSteps:
        """Hashing: the suite's hash of each canonical form; the proof configuration first."""
        return hash_pair(canonical_proof_config, canonical_document, self.hash_name or hash_name)

    def serialization(self, hash_data: bytes, key: SigningKey) -> str:
        """Proof Serialization: the key's signature over hashData, base58btc multibase."""
        return multibase_signature(hash_data, key)

    def verification(self, hash_data: bytes, proof_bytes: bytes, public_key: PublicKey) -> bool:
        """Proof Verification: check the decoded proofValue over hashData."""
        return public_key.verify(hash_data, proof_bytes)

    def check_proof_value(self, proof_value: Any) -> None:
        self.decode_proof_value(proof_value)

    def hashing_steps(
        self,
        unsecured_document: Document,
        options: Document,
        loader: ContextLoader | None = None,
        canonical_document: str | None = None,
        *,
        key_type: KeyType | None = None,
    ) -> HashingSteps:
        """Proof configuration, transformation, then hashing, as in "Create Proof" steps 2-4.

        ``key_type`` picks the hash (SHA-384 for P-384); it defaults to the suite's first key
        type. ``canonical_document``: the transformation, when the caller already has it.
        """
        hash_name = hash_for(key_type or self.key_types[0])
        config = self.proof_configuration(options, unsecured_document)
        canonical_config = self.transformation(config, loader, hash_name)
        if canonical_document is None:
            canonical_document = self.transformation(unsecured_document, loader, hash_name)
        return self.hashing(canonical_config, canonical_document, hash_name)

    def create_proof(
        self,
        unsecured_document: Document,
        options: Document,
        key: SigningKey,
        loader: ContextLoader | None = None,
        *,
        mandatory_pointers: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """ "Create Proof": a clone of the options (``@context`` per the suite) with proofValue."""
        if mandatory_pointers:
            raise MalformedInputError(f"{self.name} has no mandatory pointers (ecdsa-sd-2023 has)")
        self.check_signing_key(key)
        proof = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
        if self.proof_keeps_context and "@context" in unsecured_document:
            proof["@context"] = unsecured_document["@context"]
        steps = self.hashing_steps(unsecured_document, proof, loader, key_type=key.key_type)
        proof["proofValue"] = self.serialization(steps.hash_data, key)
        return proof

    def verify_proof(
        self,
        unsecured_document: Document,
        proof: Document,
        public_key: PublicKey,
        loader: ContextLoader | None = None,
        canonical_forms: dict[Any, str] | None = None,
    ) -> bool:
        """ "Verify Proof": recompute the hash data and check the signature over it."""
        self.check_verification_key(public_key)
        proof_bytes = self.decode_proof_value(proof.get("proofValue"))
        document = unsecured_document
        memo_key: tuple[Any, ...] = (self.canonicalize, hash_for(public_key.key_type))
        if self.proof_keeps_context and "@context" in proof:
            # the document's @context must start with the proof's; hash under the proof's
            proof_ctx = context_list(proof)
            if context_list(unsecured_document)[: len(proof_ctx)] != proof_ctx:
                raise ProofError("the document's @context does not start with the proof's")
            document = {**unsecured_document, "@context": proof["@context"]}
            memo_key = (*memo_key, json.dumps(proof["@context"], sort_keys=True))
        memo = canonical_forms if canonical_forms is not None else {}
        if memo_key not in memo:
            memo[memo_key] = self.transformation(document, loader, memo_key[1])
        steps = self.hashing_steps(
            document, proof, loader, memo[memo_key], key_type=public_key.key_type
        )
        return self.verification(steps.hash_data, proof_bytes, public_key)


def jcs_variant(rdfc_suite: StandardSuite, cryptosuite: str) -> StandardSuite:
    """The ``-jcs-`` twin of an RDFC suite (eddsa-jcs-2022, ecdsa-jcs-2019): RFC 8785 JCS as
    the transformation, and the document's ``@context`` copied into the proof."""
    return replace(
        rdfc_suite,
        name=cryptosuite,
        cryptosuite=cryptosuite,
        canonicalize=jcs_canonicalize,
        proof_keeps_context=True,
    )
