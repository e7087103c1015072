"""The one exception hierarchy of the project.

Every error owns a stable ``code`` (used in problem+json bodies and in docs/errors.md), the HTTP
status the API answers with, and the exit code the CLI ends with. Adapters never invent codes:
they map these.
"""

from __future__ import annotations

from typing import Any, ClassVar

# CLI exit codes (docs/cli.md).
EXIT_OK = 0
EXIT_NOT_VERIFIED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3

PROBLEM_BASE = "https://w3id.org/security#"


class VCIssuerError(Exception):
    """Root of every error this project raises on purpose."""

    code: ClassVar[str] = "VC_ISSUER_ERROR"
    title: ClassVar[str] = "Verifiable credential error"
    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = EXIT_BAD_INPUT

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """RFC 9457 problem details, with the VC spec's error type URLs."""
        problem: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title,
            "status": self.http_status,
            "detail": self.detail,
            "code": self.code,
        }
        problem.update(self.extra)
        return problem


# --- input -----------------------------------------------------------------------------------


class MalformedInputError(VCIssuerError):
    """The input is not what the operation accepts (not JSON, wrong shape, bad value)."""

    code = "MALFORMED_VALUE_ERROR"
    title = "Malformed input"
    http_status = 400


class ParsingError(MalformedInputError):
    code = "PARSING_ERROR"
    title = "Input could not be parsed"


class InputTooLargeError(MalformedInputError):
    code = "INPUT_TOO_LARGE"
    title = "Input exceeds the size limit"
    http_status = 413


class SchemaValidationError(MalformedInputError):
    """A document fails its JSON Schema (e.g. the OB 3.0 AchievementCredential schema)."""

    code = "SCHEMA_VALIDATION_ERROR"
    title = "Document does not match its JSON Schema"
    http_status = 422


class UnsupportedImageError(MalformedInputError):
    """An image that is neither PNG nor SVG: only those two can carry a baked badge."""

    code = "UNSUPPORTED_IMAGE"
    title = "Unsupported image type"
    http_status = 415


class InvalidImageError(MalformedInputError):
    """A PNG or SVG that is damaged or unsafe (bad CRC, truncated, DTD entities)."""

    code = "INVALID_IMAGE"
    title = "Invalid image"


class NoBakedCredentialError(MalformedInputError):
    code = "NO_BAKED_CREDENTIAL"
    title = "The image carries no credential"


class DuplicateBakedCredentialError(MalformedInputError):
    """Two credentials in one image: which one the badge shows would be ambiguous."""

    code = "DUPLICATE_BAKED_CREDENTIAL"
    title = "The image carries more than one credential"


# --- JSON-LD ---------------------------------------------------------------------------------


class JsonLdError(VCIssuerError):
    code = "JSONLD_ERROR"
    title = "JSON-LD processing failed"
    http_status = 422


class UnknownContextError(JsonLdError):
    """A context URL that is not pinned: we never fetch contexts at run time."""

    code = "UNKNOWN_CONTEXT"
    title = "Unknown JSON-LD context"


class DataLossError(JsonLdError):
    """Expansion would drop a term: what is signed would not be what was shown."""

    code = "DATA_LOSS_DETECTION_ERROR"
    title = "JSON-LD expansion drops data"


class CanonicalizationLimitError(JsonLdError):
    """RDFC-1.0 work limit hit: refuse graphs built to exhaust the canonicalizer."""

    code = "CANONICALIZATION_LIMIT_EXCEEDED"
    title = "Canonicalization work limit exceeded"


# --- keys and DIDs -------------------------------------------------------------------------------


class InvalidKeyError(VCIssuerError):
    code = "INVALID_KEY"
    title = "Invalid key material"


class KeyFileError(InvalidKeyError):
    code = "KEY_FILE_ERROR"
    title = "Key file cannot be read"
    exit_code = EXIT_ENVIRONMENT


class PassphraseRequiredError(InvalidKeyError):
    """The key file is encrypted and no passphrase was given."""

    code = "PASSPHRASE_REQUIRED"
    title = "Passphrase required"


class KeyDecryptionError(InvalidKeyError):
    """Wrong passphrase, or the encrypted key was altered (authenticated encryption failed)."""

    code = "KEY_DECRYPTION_FAILED"
    title = "Key could not be decrypted"


class DIDResolutionError(VCIssuerError):
    """A DID could not be resolved; ``code`` is the DID Resolution spec's error name."""

    code = "DID_RESOLUTION_ERROR"
    title = "DID resolution failed"
    http_status = 400


class InvalidDIDError(DIDResolutionError):
    code = "invalidDid"
    title = "Invalid DID"


class DIDNotFoundError(DIDResolutionError):
    code = "notFound"
    title = "DID not found"
    http_status = 404
    exit_code = EXIT_ENVIRONMENT


class MethodNotSupportedError(DIDResolutionError):
    code = "methodNotSupported"
    title = "DID method not supported"


class DIDNetworkError(DIDResolutionError):
    """The DID's host could not be reached, answered badly, or is not allowed."""

    code = "DID_NETWORK_ERROR"
    title = "DID host unreachable"
    http_status = 502
    exit_code = EXIT_ENVIRONMENT


class ForbiddenAddressError(DIDNetworkError):
    code = "FORBIDDEN_ADDRESS"
    title = "Address not allowed"
    http_status = 400


class InvalidDIDDocumentError(DIDResolutionError):
    """The DID document is not usable (bad JSON, mismatched id, oversized, no such key)."""

    code = "invalidDidDocument"
    title = "Invalid DID document"


# --- proofs ---------------------------------------------------------------------------------------


class ProofError(VCIssuerError):
    code = "PROOF_VERIFICATION_ERROR"
    title = "Proof verification failed"
    http_status = 422
    exit_code = EXIT_NOT_VERIFIED


class ProofGenerationError(VCIssuerError):
    code = "PROOF_GENERATION_ERROR"
    title = "Proof generation failed"
    http_status = 422


class MalformedProofError(ProofError):
    code = "MALFORMED_PROOF_ERROR"
    title = "Malformed proof"


class ProofPurposeError(ProofError):
    code = "INVALID_PROOF_PURPOSE"
    title = "Proof purpose not authorized"


class UnsupportedCryptosuiteError(ProofError):
    code = "UNSUPPORTED_CRYPTOSUITE"
    title = "Unsupported proof type or cryptosuite"


class InvalidChallengeError(ProofError):
    code = "INVALID_CHALLENGE_ERROR"
    title = "Challenge does not match"


class InvalidDomainError(ProofError):
    code = "INVALID_DOMAIN_ERROR"
    title = "Domain does not match"


class ProofExpiredError(ProofError):
    code = "PROOF_EXPIRED"
    title = "Proof expired"


class IssuerMismatchError(ProofError):
    code = "ISSUER_MISMATCH"
    title = "Issuer does not control the verification method"


class ValidityPeriodError(ProofError):
    code = "VALIDITY_PERIOD_ERROR"
    title = "Credential not valid at this time"


class HolderMismatchError(ProofError):
    code = "HOLDER_MISMATCH"
    title = "Holder does not control the verification method"


# --- status -------------------------------------------------------------------------------------


class StatusError(VCIssuerError):
    code = "STATUS_VERIFICATION_ERROR"
    title = "Status verification failed"
    http_status = 422
    exit_code = EXIT_NOT_VERIFIED


class StatusRetrievalError(StatusError):
    code = "STATUS_RETRIEVAL_ERROR"
    title = "Status list could not be retrieved"
    exit_code = EXIT_ENVIRONMENT


class StatusListLengthError(StatusError):
    code = "STATUS_LIST_LENGTH_ERROR"
    title = "Status list has a wrong length"


class StatusRangeError(StatusError):
    code = "RANGE_ERROR"
    title = "Status index out of range"


class CredentialRevokedError(StatusError):
    code = "CREDENTIAL_REVOKED"
    title = "Credential revoked"


class CredentialSuspendedError(StatusError):
    code = "CREDENTIAL_SUSPENDED"
    title = "Credential suspended"


class StatusListFullError(StatusError):
    """Every slot of a status list is allocated: the caller starts a new list."""

    code = "STATUS_LIST_FULL"
    title = "Status list full"
    http_status = 409
    exit_code = EXIT_ENVIRONMENT


# --- service and store ---------------------------------------------------------------------------


class NotFoundError(VCIssuerError):
    code = "NOT_FOUND"
    title = "Not found"
    http_status = 404


class ConflictError(VCIssuerError):
    code = "CONFLICT"
    title = "Conflict"
    http_status = 409


class ExchangeAlreadyUsedError(ConflictError):
    """A wallet exchange delivers its credential once; this one is complete."""

    code = "EXCHANGE_ALREADY_USED"
    title = "Exchange already used"


class ExchangeExpiredError(VCIssuerError):
    code = "EXCHANGE_EXPIRED"
    title = "Exchange expired"
    http_status = 410


class AuthenticationError(VCIssuerError):
    code = "UNAUTHORIZED"
    title = "Authentication required"
    http_status = 401


class PermissionDeniedError(VCIssuerError):
    code = "FORBIDDEN"
    title = "Insufficient scope"
    http_status = 403


class StoreError(VCIssuerError):
    code = "STORE_ERROR"
    title = "Storage failure"
    http_status = 503
    exit_code = EXIT_ENVIRONMENT


class ConfigError(VCIssuerError):
    code = "CONFIG_ERROR"
    title = "Configuration error"
    exit_code = EXIT_ENVIRONMENT


class ClaimExpiredError(VCIssuerError):
    """A learner's claim link is past its expiry; the issuer can send a new one."""

    code = "CLAIM_EXPIRED"
    title = "Claim link expired"
    http_status = 410


class ClaimRevokedError(VCIssuerError):
    """The issuer withdrew this claim link."""

    code = "CLAIM_REVOKED"
    title = "Claim link revoked"
    http_status = 410


# --- OAuth 2.0 / OpenID4VCI (the specs' lowercase codes, answered as {error, error_description})


class OAuthError(VCIssuerError):
    """An error the OAuth / OpenID4VCI endpoints answer in the specs' shape, not problem+json."""

    code = "invalid_request"
    title = "Invalid OAuth request"
    http_status = 400


class InvalidGrantError(OAuthError):
    """Unknown, expired or used pre-authorized code, or a wrong tx_code (RFC 6749 5.2)."""

    code = "invalid_grant"
    title = "Invalid grant"


class UnsupportedGrantTypeError(OAuthError):
    code = "unsupported_grant_type"
    title = "Unsupported grant type"


class InvalidTokenError(OAuthError):
    """Missing, unknown, expired or used access token (RFC 6750 3.1)."""

    code = "invalid_token"
    title = "Invalid access token"
    http_status = 401


class InvalidCredentialRequestError(OAuthError):
    code = "invalid_credential_request"
    title = "Invalid credential request"


class UnknownCredentialConfigurationError(OAuthError):
    code = "unknown_credential_configuration"
    title = "Unknown credential configuration"


class InvalidProofError(OAuthError):
    """The key proof is missing, malformed, badly signed, for another audience or too old."""

    code = "invalid_proof"
    title = "Invalid key proof"


class InvalidNonceError(OAuthError):
    """The key proof's nonce is unknown, expired or used: fetch a fresh c_nonce."""

    code = "invalid_nonce"
    title = "Invalid nonce"


class CredentialRequestDeniedError(OAuthError):
    """The credential behind the offer cannot be issued (revoked, suspended or gone)."""

    code = "credential_request_denied"
    title = "Credential request denied"


def all_error_classes() -> list[type[VCIssuerError]]:
    """Every error class, for docs/errors.md and its test."""
    seen: list[type[VCIssuerError]] = []
    stack: list[type[VCIssuerError]] = [VCIssuerError]
    while stack:
        cls = stack.pop(0)
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
