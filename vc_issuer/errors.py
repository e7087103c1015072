"""The one exception hierarchy of the project: every error code is a class, listed here once.

Each class owns a stable ``code`` (problem+json ``code``, the CLI's stderr line, verification
reports), a ``title``, the HTTP status the API answers with, the exit code the CLI ends with,
and a problem ``type`` URL: the URL of the specification that defines the code (VC Data Model
2.0, Data Integrity, Bitstring Status List, DID Resolution, OAuth / OpenID4VCI), or one under
:data:`PROJECT_ERRORS` for the codes this project defines. docs/errors.md is generated from
this module (docs/gen_reference.py). Raise sites pick a class; they never invent codes.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from did_methods.errors import DIDError

# CLI exit codes (docs/cli.md).
EXIT_OK = 0
EXIT_NOT_VERIFIED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3

# Problem type namespaces, one per defining specification.
VC_DATA_MODEL = "https://www.w3.org/TR/vc-data-model#"  # VC Data Model 2.0, 7.2 Problem Details
DATA_INTEGRITY = "https://w3id.org/security#"  # VC Data Integrity 1.0, Processing Errors
STATUS_LIST = "https://www.w3.org/ns/credentials/status-list#"  # Bitstring Status List 1.0
DID_RESOLUTION = "https://www.w3.org/ns/did#"  # DID Resolution, Errors (UPPER_SNAKE names)
OAUTH_TOKEN = "https://www.rfc-editor.org/rfc/rfc6749#section-5.2"  # token endpoint errors
OAUTH_BEARER = "https://www.rfc-editor.org/rfc/rfc6750#section-3.1"  # protected resources
OID4VCI = (
    "https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html"
    "#name-credential-error-response"
)
PROJECT_ERRORS = "https://vc-issuer.example/errors#"
"""This project's own codes: ``PROJECT_ERRORS + code``. A placeholder host (RFC 2606
``.example``) until the project publishes docs/errors.md at a stable address; change it here."""


_RESERVED = frozenset({"type", "title", "status", "detail", "code"})


class VCIssuerError(Exception):
    """Root of every error this project raises on purpose."""

    code: ClassVar[str] = "VC_ISSUER_ERROR"
    title: ClassVar[str] = "Verifiable credential error"
    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = EXIT_BAD_INPUT
    namespace: ClassVar[str] = PROJECT_ERRORS
    """The defining spec's namespace: ``type`` is ``namespace + code``, unless ``type_url`` says."""
    type_url: ClassVar[str] = ""
    cli_code: ClassVar[str] = "VC_ISSUER_ERROR"
    """The code on the CLI's stderr line: always UPPER_SNAKE, so the CLI speaks one style. The
    DID Resolution (``invalidDid``) and OAuth (``invalid_grant``) codes keep their spec's
    spelling in problem details and reports; by default this is ``code`` in UPPER_SNAKE."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type_url" not in cls.__dict__:
            cls.type_url = cls.namespace + cls.code
        if "cli_code" not in cls.__dict__:
            cls.cli_code = upper_snake(cls.code)

    def __init__(self, detail: str, **extra: Any) -> None:
        reserved = _RESERVED.intersection(extra)
        if reserved:  # the class owns these: a raise site picks a class, never a code
            raise TypeError(f"{sorted(reserved)} belong to the error class, not to a raise site")
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """RFC 9457 problem details, with the defining spec's error type URL."""
        problem: dict[str, Any] = {
            "type": self.type_url,
            "title": self.title,
            "status": self.http_status,
            "detail": self.detail,
            "code": self.code,
        }
        problem.update(self.extra)
        return problem


VCIssuerError.type_url = PROJECT_ERRORS + VCIssuerError.code


def upper_snake(code: str) -> str:
    """``invalidDidDocument`` -> ``INVALID_DID_DOCUMENT``, ``invalid_grant`` -> ``INVALID_GRANT``"""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", code).upper()


class InternalError(VCIssuerError):
    """A bug or an unexpected failure: reported without a traceback (the CLI's ``--debug``
    and the server log keep it)."""

    code = "INTERNAL_ERROR"
    title = "Internal error"
    http_status = 500
    exit_code = EXIT_ENVIRONMENT


# --- input -----------------------------------------------------------------------------------


class MalformedInputError(VCIssuerError):
    """The input is not what the operation accepts (not JSON, wrong shape, bad value)."""

    code = "MALFORMED_VALUE_ERROR"
    title = "Malformed input"
    http_status = 400
    namespace = VC_DATA_MODEL


class ParsingError(MalformedInputError):
    """The input could not be parsed (not JSON, not UTF-8, nested too deep to read)."""

    code = "PARSING_ERROR"
    title = "Input could not be parsed"


class JsonTooDeepError(ParsingError):
    """JSON nested deeper than the limit: refused before any recursive processing."""

    code = "JSON_TOO_DEEP"
    title = "JSON nests too deep"
    namespace = PROJECT_ERRORS


class JsonNumberInvalidError(ParsingError):
    """A JSON number that JSON or this server cannot carry: ``NaN``, ``Infinity``, a value that
    overflows to infinity (``1e400``), or more than 64 characters of digits."""

    code = "JSON_NUMBER_INVALID"
    title = "JSON number is not acceptable"
    namespace = PROJECT_ERRORS


class JsonStringInvalidError(ParsingError):
    """A JSON string (or object key) holding a lone surrogate, which is not Unicode text, or a
    NUL character, which no store keeps."""

    code = "JSON_STRING_INVALID"
    title = "JSON string is not acceptable"
    namespace = PROJECT_ERRORS


class JsonTooLargeError(ParsingError):
    """JSON with more values than the limits (per array, per object or in all)."""

    code = "JSON_TOO_LARGE"
    title = "JSON holds too many values"
    namespace = PROJECT_ERRORS


class UnsafeUrlError(MalformedInputError):
    """A link that would be stored and shown is not an ``http(s)`` URL (``javascript:``,
    ``data:``, ``vbscript:``, ...)."""

    code = "UNSAFE_URL"
    title = "Only http(s) URLs are accepted as links"
    namespace = PROJECT_ERRORS


class RequestTextInvalidError(MalformedInputError):
    """A request path, query or header holding a NUL character or a lone surrogate."""

    code = "REQUEST_TEXT_INVALID"
    title = "Request holds characters that are not text"
    namespace = PROJECT_ERRORS


class InputTooLargeError(MalformedInputError):
    code = "INPUT_TOO_LARGE"
    title = "Input exceeds the size limit"
    http_status = 413
    namespace = PROJECT_ERRORS


class SchemaValidationError(MalformedInputError):
    """A document fails its JSON Schema (e.g. the OB 3.0 AchievementCredential schema)."""

    code = "SCHEMA_VALIDATION_ERROR"
    title = "Document does not match its JSON Schema"
    http_status = 422
    namespace = PROJECT_ERRORS


class UnsupportedImageError(MalformedInputError):
    """An image that is neither PNG nor SVG: only those two can carry a baked badge."""

    code = "UNSUPPORTED_IMAGE"
    title = "Unsupported image type"
    http_status = 415
    namespace = PROJECT_ERRORS


class OutputTypeMismatchError(MalformedInputError):
    """``--out`` names a file whose extension is not the image's type (PNG bytes to x.gif)."""

    code = "OUTPUT_TYPE_MISMATCH"
    title = "Output file extension does not match the image type"


class InvalidImageError(MalformedInputError):
    """A PNG or SVG that is damaged or unsafe (bad CRC, truncated, DTD entities)."""

    code = "INVALID_IMAGE"
    title = "Invalid image"
    namespace = PROJECT_ERRORS


class NoBakedCredentialError(MalformedInputError):
    code = "NO_BAKED_CREDENTIAL"
    title = "The image carries no credential"
    namespace = PROJECT_ERRORS


class UnsafeSvgError(InvalidImageError):
    """An SVG with a script, an event handler attribute, ``foreignObject``, a reference outside
    the image, or a DOCTYPE / entity declaration."""

    code = "UNSAFE_SVG"
    title = "SVG image is not safe to store"


class DuplicateBakedCredentialError(MalformedInputError):
    """Two credentials in one image: which one the badge shows would be ambiguous."""

    code = "DUPLICATE_BAKED_CREDENTIAL"
    title = "The image carries more than one credential"
    namespace = PROJECT_ERRORS


class UnsupportedBakedFormatError(MalformedInputError):
    """The output format asked for cannot carry a baked credential (only PNG and SVG can)."""

    code = "UNSUPPORTED_BAKED_FORMAT"
    title = "Unsupported baked badge format"
    namespace = PROJECT_ERRORS


class MissingRecipientError(MalformedInputError):
    """An award names neither a DID nor an email address for its recipient."""

    code = "MISSING_RECIPIENT"
    title = "Recipient missing"
    namespace = PROJECT_ERRORS


class InvalidRecipientError(MalformedInputError):
    """The recipient's DID is not a DID, or the email address is not one."""

    code = "INVALID_RECIPIENT"
    title = "Invalid recipient"
    namespace = PROJECT_ERRORS


class DuplicateRecipientError(MalformedInputError):
    """A batch names the same recipient twice; the repeat points at the first row."""

    code = "DUPLICATE_RECIPIENT"
    title = "Recipient listed twice"
    namespace = PROJECT_ERRORS


class InvalidRowError(MalformedInputError):
    """A batch CSV row that does not fit the header."""

    code = "INVALID_ROW"
    title = "Invalid batch row"
    namespace = PROJECT_ERRORS


class NoRecipientEmailError(MalformedInputError):
    """``notify`` needs the recipient's email address: a claim link only goes to its owner."""

    code = "NO_RECIPIENT_EMAIL"
    title = "No email address to notify"


class InvalidTTLError(MalformedInputError):
    """A time to live that is not a duration (15m, 2h, 3d) or is longer than allowed."""

    code = "INVALID_TTL"
    title = "Invalid time to live"
    namespace = PROJECT_ERRORS


class UnknownSuiteError(MalformedInputError):
    """A proof suite name this issuer does not sign with."""

    code = "UNKNOWN_SUITE"
    title = "Unknown proof suite"
    namespace = PROJECT_ERRORS


class ForeignIssuerError(MalformedInputError):
    """A credential to issue names another issuer: we only sign in our own name."""

    code = "FOREIGN_ISSUER"
    title = "Credential names another issuer"
    namespace = PROJECT_ERRORS


class UnknownScopeError(MalformedInputError):
    """An API token scope that does not exist."""

    code = "UNKNOWN_SCOPE"
    title = "Unknown token scope"
    namespace = PROJECT_ERRORS


class InvalidDIDWebError(MalformedInputError):
    """A ``--did-web`` value that does not name a did:web host (HOST[%3APORT][:path])."""

    code = "INVALID_DID_WEB"
    title = "Invalid did:web"
    namespace = PROJECT_ERRORS


class OutputExistsError(MalformedInputError):
    """The output file exists and ``--force`` was not given."""

    code = "FILE_EXISTS"
    title = "Output file exists"
    namespace = PROJECT_ERRORS


class FetchFailedError(MalformedInputError):
    """A URL given to the verifier could not be fetched (network, HTTP status, size cap)."""

    code = "FETCH_FAILED"
    title = "The address could not be fetched"
    namespace = PROJECT_ERRORS
    http_status = 502
    exit_code = EXIT_ENVIRONMENT


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


class WorkBudgetExceededError(JsonLdError):
    """One request used up its work budget (CPU time, steps, nesting, or its worker's memory).

    422 rather than 413: the body was within the size caps; it is its *shape* (values per
    property, blank-node chains, nesting) that costs too much to process, so the same request
    will always fail and the client must change the document, not shrink the bytes.
    """

    code = "WORK_BUDGET_EXCEEDED"
    title = "Work budget exceeded"
    http_status = 422


# --- keys, files and DIDs ----------------------------------------------------------------------


class InvalidKeyError(VCIssuerError):
    code = "INVALID_KEY"
    title = "Invalid key material"


class KeyFileError(InvalidKeyError):
    code = "KEY_FILE_ERROR"
    title = "Key file cannot be read"
    exit_code = EXIT_ENVIRONMENT


class InputFileNotFoundError(KeyFileError):
    """An input file named on the command line does not exist."""

    code = "FILE_NOT_FOUND"
    title = "File not found"


class PassphraseRequiredError(InvalidKeyError):
    """The key file is encrypted and no passphrase was given."""

    code = "PASSPHRASE_REQUIRED"
    title = "Passphrase required"


class KeyDecryptionError(InvalidKeyError):
    """Wrong passphrase, or the encrypted key was altered (authenticated encryption failed)."""

    code = "KEY_DECRYPTION_FAILED"
    title = "Key could not be decrypted"


class UnsupportedKeyTypeError(MalformedInputError):
    """A key type this issuer cannot generate or sign with (``keys generate --type``)."""

    code = "UNSUPPORTED_KEY_TYPE"
    title = "Unsupported key type"
    namespace = PROJECT_ERRORS


class NoKeyForSuiteError(VCIssuerError):
    """Asked to sign with a suite or JWT algorithm the home has no key for; the detail names
    the ``vc-issuer keys generate`` command that adds one."""

    code = "NO_KEY_FOR_SUITE"
    title = "No key for this suite"
    http_status = 422


class DIDResolutionError(VCIssuerError):
    """A DID could not be resolved. Subclasses carry the DID Resolution spec's error names as
    ``code``; the exact did_methods error name is kept as ``didError``."""

    code = "DID_RESOLUTION_ERROR"
    title = "DID resolution failed"
    http_status = 400


class InvalidDIDError(DIDResolutionError):
    code = "invalidDid"
    title = "Invalid DID"
    type_url = DID_RESOLUTION + "INVALID_DID"


class DIDNotFoundError(DIDResolutionError):
    code = "notFound"
    cli_code = "DID_NOT_FOUND"  # NOT_FOUND is the store's missing record
    title = "DID not found"
    http_status = 404
    exit_code = EXIT_ENVIRONMENT
    type_url = DID_RESOLUTION + "NOT_FOUND"


class MethodNotSupportedError(DIDResolutionError):
    code = "methodNotSupported"
    title = "DID method not supported"
    http_status = 501
    type_url = DID_RESOLUTION + "METHOD_NOT_SUPPORTED"


class RepresentationNotSupportedError(DIDResolutionError):
    code = "representationNotSupported"
    title = "DID representation not supported"
    http_status = 406
    type_url = DID_RESOLUTION + "REPRESENTATION_NOT_SUPPORTED"


class DIDNetworkError(DIDResolutionError):
    """The DID's host could not be reached, answered badly, or is not allowed."""

    code = "DID_NETWORK_ERROR"
    title = "DID host unreachable"
    http_status = 502
    exit_code = EXIT_ENVIRONMENT


class ForbiddenAddressError(DIDNetworkError):
    """The host is loopback, private or plain http; ``--allow-private-hosts`` allows it."""

    code = "FORBIDDEN_ADDRESS"
    title = "Address not allowed"
    http_status = 400


class InvalidDIDDocumentError(DIDResolutionError):
    """The DID document is not usable (bad JSON, mismatched id, oversized, no such key)."""

    code = "invalidDidDocument"
    title = "Invalid DID document"
    http_status = 502
    type_url = DID_RESOLUTION + "INVALID_DID_DOCUMENT"


# --- proofs ---------------------------------------------------------------------------------------


class ProofError(VCIssuerError):
    code = "PROOF_VERIFICATION_ERROR"
    title = "Proof verification failed"
    http_status = 422
    exit_code = EXIT_NOT_VERIFIED
    namespace = DATA_INTEGRITY


class ProofGenerationError(VCIssuerError):
    code = "PROOF_GENERATION_ERROR"
    title = "Proof generation failed"
    http_status = 422
    namespace = DATA_INTEGRITY


class MalformedProofError(ProofError):
    code = "MALFORMED_PROOF_ERROR"
    title = "Malformed proof"


class InvalidChallengeError(ProofError):
    code = "INVALID_CHALLENGE_ERROR"
    title = "Challenge does not match"


class InvalidDomainError(ProofError):
    code = "INVALID_DOMAIN_ERROR"
    title = "Domain does not match"


class ProofPurposeError(ProofError):
    code = "INVALID_PROOF_PURPOSE"
    title = "Proof purpose not authorized"
    namespace = PROJECT_ERRORS


class UnsupportedCryptosuiteError(ProofError):
    code = "UNSUPPORTED_CRYPTOSUITE"
    title = "Unsupported proof type or cryptosuite"
    namespace = PROJECT_ERRORS


class ProofExpiredError(ProofError):
    code = "PROOF_EXPIRED"
    title = "Proof expired"
    namespace = PROJECT_ERRORS


class IssuerMismatchError(ProofError):
    code = "ISSUER_MISMATCH"
    title = "Issuer does not control the verification method"
    namespace = PROJECT_ERRORS


class ValidityPeriodError(ProofError):
    code = "VALIDITY_PERIOD_ERROR"
    title = "Credential not valid at this time"
    namespace = PROJECT_ERRORS


class HolderMismatchError(ProofError):
    code = "HOLDER_MISMATCH"
    title = "Holder does not control the verification method"
    namespace = PROJECT_ERRORS


class RelatedResourceDigestError(VCIssuerError):
    """A ``relatedResource`` digest does not match the resource (VCDM 2.0 §5.3)."""

    code = "RELATED_RESOURCE_DIGEST_MISMATCH"
    title = "Related resource digest does not match"
    http_status = 422
    exit_code = EXIT_NOT_VERIFIED


class PresentationNotSignedError(ProofError):
    """A DIDAuth presentation without a proof: it cannot bind the holder's DID."""

    code = "PRESENTATION_NOT_SIGNED"
    title = "Presentation not signed"
    namespace = PROJECT_ERRORS


class KeyTypeMismatchError(ProofError):
    """The verification method holds a key the proof's cryptosuite does not verify with
    (a P-256 key on an eddsa proof, an Ed25519 key on an ecdsa proof)."""

    code = "KEY_TYPE_MISMATCH"
    title = "Key type does not fit the cryptosuite"
    namespace = PROJECT_ERRORS


class InvalidSignatureEncodingError(MalformedProofError):
    """An ECDSA signature that is not in the IEEE P1363 form (r then s) the cryptosuites
    require: DER-encoded, the wrong length for the curve, or r or s out of range."""

    code = "INVALID_SIGNATURE_ENCODING"
    title = "Signature is not encoded as the cryptosuite requires"
    namespace = PROJECT_ERRORS


class SuiteKeyMismatchError(ProofGenerationError):
    """Signing with a key the chosen suite cannot use (a P-256 key with eddsa-rdfc-2022)."""

    code = "SUITE_KEY_MISMATCH"
    title = "Key cannot be used with this suite"
    namespace = PROJECT_ERRORS


# --- JOSE: VC-JWT (OB 3.0) and VC 2.0 secured with JOSE ------------------------------------------


class MalformedJwsError(MalformedInputError):
    """Not a JWS compact serialization (three base64url parts, a JSON header and payload)."""

    code = "MALFORMED_JWS"
    title = "Malformed JWS"
    namespace = PROJECT_ERRORS


class UnsupportedFormatError(MalformedInputError):
    """A recognised securing format we do not verify (SD-JWT, COSE, an unknown data: URL type)."""

    code = "UNSUPPORTED_FORMAT"
    title = "Unsupported credential format"
    namespace = PROJECT_ERRORS
    http_status = 415


class JwsVerificationError(ProofError):
    """A JWS failed a check; the subclasses say which one."""

    code = "JWS_VERIFICATION_ERROR"
    title = "JWS verification failed"
    namespace = PROJECT_ERRORS


class JwtAlgNoneError(JwsVerificationError):
    """``alg: none``: an unsecured JWT proves nothing and is never accepted."""

    code = "JWT_ALG_NONE"
    title = "Unsecured JWT (alg none)"


class UnsupportedJwtAlgError(JwsVerificationError):
    """An ``alg`` outside EdDSA, ES256, ES384, RS256, PS256 (HMAC and unknown names included)."""

    code = "JWT_ALG_UNSUPPORTED"
    title = "Unsupported JWS algorithm"


class JwtAlgKeyMismatchError(JwsVerificationError):
    """The header's ``alg`` does not fit the key (an RSA key for ES256, a P-384 key for ES256)."""

    code = "JWT_ALG_KEY_MISMATCH"
    title = "JWS algorithm does not match the key"


class JwtKidMismatchError(JwsVerificationError):
    """The ``kid`` names another key than the one the token uses or carries."""

    code = "JWT_KID_MISMATCH"
    title = "JWS kid resolves to another key"


class JwkPrivateKeyError(JwsVerificationError):
    """A ``jwk`` header carrying private key members: the token leaked a secret key."""

    code = "JWK_PRIVATE_KEY"
    title = "JWK header carries a private key"


class JwtKeyNotFoundError(JwsVerificationError):
    """No key could be found for the token (no usable kid, no jwk, no issuer key)."""

    code = "JWT_KEY_NOT_FOUND"
    title = "No key for the JWS"


class JwtMediaTypeError(JwsVerificationError):
    """``typ`` or ``cty`` names a media type that is not a credential or presentation."""

    code = "JWT_MEDIA_TYPE"
    title = "Wrong JWS media type"


class JwtFormatError(JwsVerificationError):
    """The payload breaks its format's rules: ``vc``/``vp`` claims in a VC 2.0 JOSE payload, a
    VC 2.0 credential inside a VC-JWT 1.1 ``vc`` claim, or no credential at all."""

    code = "JWT_FORMAT_ERROR"
    title = "JWT payload does not match its format"


class JwtClaimMismatchError(JwsVerificationError):
    """A registered JWT claim disagrees with the credential it secures."""

    code = "JWT_CLAIM_MISMATCH"
    title = "JWT claim disagrees with the credential"


class JwtIssMismatchError(JwtClaimMismatchError):
    code = "JWT_ISS_MISMATCH"
    title = "JWT iss is not the credential issuer"


class JwtSubMismatchError(JwtClaimMismatchError):
    code = "JWT_SUB_MISMATCH"
    title = "JWT sub is not the credential subject"


class JwtJtiMismatchError(JwtClaimMismatchError):
    code = "JWT_JTI_MISMATCH"
    title = "JWT jti is not the credential id"


class JwtNbfMismatchError(JwtClaimMismatchError):
    code = "JWT_NBF_MISMATCH"
    title = "JWT nbf is not the credential's start of validity"


class JwtExpMismatchError(JwtClaimMismatchError):
    code = "JWT_EXP_MISMATCH"
    title = "JWT exp is not the credential's end of validity"


class IssuerKeyNotBoundError(JwsVerificationError):
    """The signing key is valid but nothing ties it to the issuer the credential names."""

    code = "ISSUER_KEY_NOT_BOUND"
    title = "Signing key not bound to the issuer"


class IssuerKeysUnavailableError(JwsVerificationError):
    """The issuer's published keys could not be fetched, so the key binding is unknown."""

    code = "ISSUER_KEYS_UNAVAILABLE"
    title = "Issuer keys unavailable"
    exit_code = EXIT_ENVIRONMENT


class EnvelopedCredentialError(JwsVerificationError):
    """An EnvelopedVerifiableCredential whose ``id`` is not a usable ``data:`` URL."""

    code = "INVALID_ENVELOPED_CREDENTIAL"
    title = "Invalid enveloped credential"


# --- Open Badges 2.0 -----------------------------------------------------------------------------


class OB2Error(ProofError):
    """An Open Badges 2.0 assertion failed a check; the subclasses say which one."""

    code = "OB2_VERIFICATION_ERROR"
    title = "Open Badges 2.0 verification failed"
    namespace = PROJECT_ERRORS


class OB2InvalidAssertionError(OB2Error):
    """Not a well-formed OB 2.0 Assertion, BadgeClass or Issuer (context, type, members)."""

    code = "OB2_INVALID_DOCUMENT"
    title = "Invalid Open Badges 2.0 document"


class OB2IdMismatchError(OB2Error):
    """A hosted document's ``id`` is not the URL it was fetched from."""

    code = "OB2_ID_MISMATCH"
    title = "Hosted document id differs from its URL"


class OB2CrossOriginRedirectError(OB2Error):
    """Fetching a hosted assertion (or a key) redirected to another origin."""

    code = "OB2_CROSS_ORIGIN_REDIRECT"
    title = "Redirect to another origin"


class OB2FetchError(OB2Error):
    """A document of the chain (assertion, BadgeClass, Issuer, key, revocation list) could not
    be fetched."""

    code = "OB2_FETCH_FAILED"
    title = "Open Badges 2.0 document could not be fetched"
    exit_code = EXIT_ENVIRONMENT


class OB2VerificationScopeError(OB2Error):
    """The hosted assertion lies outside the issuer's ``verification`` policy
    (``allowedOrigins`` / ``startsWith``)."""

    code = "OB2_VERIFICATION_SCOPE"
    title = "Assertion outside the issuer's verification scope"


class OB2KeyNotTrustedError(OB2Error):
    """A signed assertion's key is not one the issuer Profile links to (or names another owner)."""

    code = "OB2_KEY_NOT_TRUSTED"
    title = "Signing key not linked by the issuer"


# --- recipient -----------------------------------------------------------------------------------


class RecipientError(VCIssuerError):
    code = "RECIPIENT_ERROR"
    title = "Recipient check failed"
    http_status = 422
    exit_code = EXIT_NOT_VERIFIED


class RecipientMismatchError(RecipientError):
    """The credential names another recipient than the one asked about."""

    code = "RECIPIENT_MISMATCH"
    title = "Recipient does not match"


class NoRecipientIdentityError(RecipientError):
    """The credential carries no email identity to compare with."""

    code = "NO_RECIPIENT_IDENTITY"
    title = "No recipient identity"


class UnknownHashAlgorithmError(RecipientError):
    """A salted identity hash whose algorithm is neither ``sha256`` nor ``md5`` (the only two
    Open Badges allows)."""

    code = "UNKNOWN_HASH_ALGORITHM"
    title = "Unknown identity hash algorithm"


# --- status -------------------------------------------------------------------------------------


class StatusError(VCIssuerError):
    code = "STATUS_VERIFICATION_ERROR"
    title = "Status verification failed"
    http_status = 422
    exit_code = EXIT_NOT_VERIFIED
    namespace = STATUS_LIST


class StatusRetrievalError(StatusError):
    code = "STATUS_RETRIEVAL_ERROR"
    title = "Status list could not be retrieved"
    exit_code = EXIT_ENVIRONMENT


class StatusListLengthError(StatusError):
    code = "STATUS_LIST_LENGTH_ERROR"
    title = "Status list has a wrong length"


class StatusRangeError(StatusError):
    """The index points outside the list (the VC Data Model's RANGE_ERROR)."""

    code = "RANGE_ERROR"
    title = "Status index out of range"
    namespace = VC_DATA_MODEL


class CredentialRevokedError(StatusError):
    code = "CREDENTIAL_REVOKED"
    title = "Credential revoked"
    namespace = PROJECT_ERRORS


class CredentialSuspendedError(StatusError):
    code = "CREDENTIAL_SUSPENDED"
    title = "Credential suspended"
    namespace = PROJECT_ERRORS


class CredentialStatusMessageError(StatusError):
    """A multi-bit (``message``) status is not 0: the spec's validation says not valid."""

    code = "CREDENTIAL_STATUS_MESSAGE"
    title = "Credential has a status message"
    namespace = PROJECT_ERRORS


class StatusLimitExceededError(StatusError):
    """More status entries, or more distinct status lists, than one credential may reference:
    each list is fetched, verified and kept in memory, so the count is capped."""

    code = "STATUS_LIMIT_EXCEEDED"
    title = "Too many status entries"
    namespace = PROJECT_ERRORS


class StatusListFullError(StatusError):
    """Every slot of a status list is allocated: the caller starts a new list."""

    code = "STATUS_LIST_FULL"
    title = "Status list full"
    http_status = 409
    exit_code = EXIT_ENVIRONMENT
    namespace = PROJECT_ERRORS


# --- service and store ---------------------------------------------------------------------------


class NotFoundError(VCIssuerError):
    code = "NOT_FOUND"
    title = "Not found"
    http_status = 404


class AchievementNotFoundError(NotFoundError):
    code = "ACHIEVEMENT_NOT_FOUND"
    title = "No such achievement"


class ImageNotFoundError(NotFoundError):
    code = "IMAGE_NOT_FOUND"
    title = "No such image"


class ClaimNotFoundError(NotFoundError):
    code = "CLAIM_NOT_FOUND"
    title = "No such claim link"


class TokenNotFoundError(NotFoundError):
    code = "TOKEN_NOT_FOUND"
    title = "No such API token"


class ForeignUrlError(NotFoundError):
    """oEmbed describes only this server's own credential pages; any other URL is refused."""

    code = "URL_NOT_ON_THIS_SERVER"
    title = "URL not on this server"


class CredentialPageNotFoundError(NotFoundError):
    """A URL of this server's shape (``/c/{page_id}``) with no credential behind it."""

    code = "CREDENTIAL_PAGE_NOT_FOUND"
    title = "No credential page at this URL"


class FormatNotSupportedError(MalformedInputError):
    """oEmbed's ``format`` other than ``json`` or ``xml``: both are served, so anything else is
    not a format at all (bad input, not the spec's 501 for a known format left unimplemented)."""

    code = "FORMAT_NOT_SUPPORTED"
    title = "Format not supported"


class ConflictError(VCIssuerError):
    code = "CONFLICT"
    title = "Conflict"
    http_status = 409


class AchievementArchivedError(ConflictError):
    """An archived achievement can no longer be awarded (its past awards stay valid)."""

    code = "ACHIEVEMENT_ARCHIVED"
    title = "Achievement archived"


class VersionConflictError(ConflictError):
    """The lost-update guard: the record changed since the version the caller read."""

    code = "VERSION_CONFLICT"
    title = "Changed meanwhile"


class NoStatusEntryError(ConflictError):
    """The credential has no status entry of this purpose from this issuer."""

    code = "NO_STATUS_ENTRY"
    title = "No such status entry"


class IdempotencyKeyReusedError(ConflictError):
    """The idempotency key was first used with another request; a retry must repeat it."""

    code = "IDEMPOTENCY_KEY_REUSED"
    title = "Idempotency key reused with another request"


class ExchangeAlreadyUsedError(ConflictError):
    """A wallet exchange delivers its credential once; this one is complete."""

    code = "EXCHANGE_ALREADY_USED"
    title = "Exchange already used"


class KeyTypeExistsError(ConflictError):
    """The home already holds a key of that type: one key per type signs, so a second one
    would be a rotation (docs/deploy.md), not an addition."""

    code = "KEY_TYPE_EXISTS"
    title = "The home already has a key of this type"


class DidKeySingleKeyError(ConflictError):
    """A did:key issuer *is* its one key: more keys need a did:web issuer."""

    code = "DID_KEY_SINGLE_KEY"
    title = "A did:key issuer has exactly one key"


class ExchangeExpiredError(VCIssuerError):
    code = "EXCHANGE_EXPIRED"
    title = "Exchange expired"
    http_status = 410


class AuthenticationError(VCIssuerError):
    code = "UNAUTHORIZED"
    title = "Authentication required"
    http_status = 401


class TokenInactiveError(AuthenticationError):
    """The API token is revoked or expired."""

    code = "TOKEN_INACTIVE"
    title = "Token revoked or expired"


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


class HomeNotFoundError(ConfigError):
    """No issuer home at the given path (``vc-issuer init`` creates one)."""

    code = "HOME_NOT_FOUND"
    title = "No issuer home"


class HomeExistsError(ConfigError):
    """``init`` refuses to overwrite an existing issuer home."""

    code = "HOME_EXISTS"
    title = "Issuer home exists"


class TLSConfigError(ConfigError):
    """The TLS certificate or key is missing, unreadable, or given without the other."""

    code = "TLS_CONFIG_ERROR"
    title = "TLS configuration error"


class NoAuthRefusedError(ConfigError):
    """``--no-auth`` on an address other than loopback: refused."""

    code = "NO_AUTH_REFUSED"
    title = "Unauthenticated server refused"


class BindError(ConfigError):
    """The server cannot listen on the address (in use, or not permitted)."""

    code = "BIND_ERROR"
    title = "Cannot bind the address"


class EmailNotConfiguredError(ConfigError):
    """Email was asked for (``--notify``, ``"notify": true``) but the home has no ``[email]``."""

    code = "EMAIL_NOT_CONFIGURED"
    title = "Email is not configured"
    http_status = 409


class EmailConfigError(ConfigError):
    """The ``[email]`` settings are wrong (a missing host, a readable password file...)."""

    code = "EMAIL_CONFIG_ERROR"
    title = "Bad email settings"


class EmailTemplateError(ConfigError):
    """An email template does not parse or uses a name the message does not have."""

    code = "EMAIL_TEMPLATE_ERROR"
    title = "Bad email template"


class SmtpError(VCIssuerError):
    """The SMTP server could not be reached or refused the message (``email test``)."""

    code = "SMTP_ERROR"
    title = "SMTP delivery failed"
    http_status = 502
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


class CredentialNotDeliverableError(VCIssuerError):
    """The credential is revoked or suspended: it is not handed to a wallet."""

    code = "CREDENTIAL_NOT_DELIVERABLE"
    title = "Credential revoked or suspended"
    http_status = 410


# --- HTTP protocol (aiohttp's own errors, answered as problem+json) -------------------------------


class HTTPProtocolError(VCIssuerError):
    """Errors of the HTTP exchange itself, before any route runs."""

    code = "HTTP_ERROR"
    title = "HTTP error"


class MethodNotAllowedError(HTTPProtocolError):
    code = "METHOD_NOT_ALLOWED"
    title = "Method not allowed"
    http_status = 405


class NotAcceptableError(HTTPProtocolError):
    code = "NOT_ACCEPTABLE"
    title = "Not acceptable"
    http_status = 406


class RequestTimeoutError(HTTPProtocolError):
    code = "REQUEST_TIMEOUT"
    title = "Request timeout"
    http_status = 408


class LengthRequiredError(HTTPProtocolError):
    code = "LENGTH_REQUIRED"
    title = "Length required"
    http_status = 411


class URITooLongError(HTTPProtocolError):
    code = "URI_TOO_LONG"
    title = "URI too long"
    http_status = 414


class UnsupportedMediaTypeError(HTTPProtocolError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    title = "Unsupported media type"
    http_status = 415


class HeadersTooLargeError(HTTPProtocolError):
    code = "HEADERS_TOO_LARGE"
    title = "Request header fields too large"
    http_status = 431


class RateLimitedError(HTTPProtocolError):
    """Too many anonymous requests from one client; ``Retry-After`` says when to come back."""

    code = "RATE_LIMITED"
    title = "Too many requests"
    http_status = 429
    exit_code = EXIT_ENVIRONMENT


class ServiceUnavailableError(HTTPProtocolError):
    code = "SERVICE_UNAVAILABLE"
    title = "Service unavailable"
    http_status = 503
    exit_code = EXIT_ENVIRONMENT


class ServerBusyError(ServiceUnavailableError):
    """Every verification worker is busy and the queue is full: retry after ``retryAfter``
    seconds (also sent as the ``Retry-After`` header)."""

    code = "SERVER_BUSY"
    title = "Server busy"
    http_status = 503


# --- OAuth 2.0 / OpenID4VCI (the specs' lowercase codes, answered as {error, error_description})


class OAuthError(VCIssuerError):
    """An error the OAuth / OpenID4VCI endpoints answer in the specs' shape, not problem+json."""

    code = "invalid_request"
    title = "Invalid OAuth request"
    http_status = 400
    type_url = OAUTH_TOKEN


class InvalidGrantError(OAuthError):
    """Unknown, expired or used pre-authorized code, or a wrong tx_code (RFC 6749 5.2)."""

    code = "invalid_grant"
    title = "Invalid grant"
    type_url = OAUTH_TOKEN


class UnsupportedGrantTypeError(OAuthError):
    code = "unsupported_grant_type"
    title = "Unsupported grant type"
    type_url = OAUTH_TOKEN


class InvalidTokenError(OAuthError):
    """Missing, unknown, expired or used access token (RFC 6750 3.1)."""

    code = "invalid_token"
    title = "Invalid access token"
    http_status = 401
    type_url = OAUTH_BEARER


class InvalidCredentialRequestError(OAuthError):
    code = "invalid_credential_request"
    title = "Invalid credential request"
    type_url = OID4VCI


class UnknownCredentialConfigurationError(OAuthError):
    code = "unknown_credential_configuration"
    title = "Unknown credential configuration"
    type_url = OID4VCI


class InvalidProofError(OAuthError):
    """The key proof is missing, malformed, badly signed, for another audience or too old."""

    code = "invalid_proof"
    title = "Invalid key proof"
    type_url = OID4VCI


class InvalidNonceError(OAuthError):
    """The key proof's nonce is unknown, expired or used: fetch a fresh c_nonce."""

    code = "invalid_nonce"
    title = "Invalid nonce"
    type_url = OID4VCI


class CredentialRequestDeniedError(OAuthError):
    """The credential behind the offer cannot be issued (revoked, suspended or gone)."""

    code = "credential_request_denied"
    title = "Credential request denied"
    type_url = OID4VCI


# --- the list, and lookups over it ---------------------------------------------------------------


def all_error_classes() -> list[type[VCIssuerError]]:
    """Every error class, each family after its parent (docs/errors.md and its test use it)."""
    out: list[type[VCIssuerError]] = []

    def walk(cls: type[VCIssuerError]) -> None:
        out.append(cls)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(VCIssuerError)
    return out


@cache
def _by_code() -> dict[str, type[VCIssuerError]]:
    return {cls.code: cls for cls in all_error_classes()}


def error_class(code: str, default: type[VCIssuerError] = VCIssuerError) -> type[VCIssuerError]:
    """The class that owns ``code`` (for codes carried as strings, e.g. in a check report)."""
    return _by_code().get(code, default)


def type_url(code: str) -> str:
    """The problem ``type`` URL of ``code``; unknown codes fall in the project namespace."""
    cls = _by_code().get(code)
    return cls.type_url if cls is not None else PROJECT_ERRORS + code


# --- DID errors: the one mapping from did_methods (which knows nothing of vc_issuer) -----------


def _did_map() -> tuple[tuple[type[DIDError], type[VCIssuerError]], ...]:
    from did_methods import errors as did

    # Most specific first: ForbiddenAddress is a NetworkError, InvalidDIDURL an InvalidDID.
    return (
        (did.VerificationMethodNotAuthorized, ProofPurposeError),
        (did.InvalidDID, InvalidDIDError),
        (did.NotFound, DIDNotFoundError),
        (did.MethodNotSupported, MethodNotSupportedError),
        (did.RepresentationNotSupported, RepresentationNotSupportedError),
        (did.ForbiddenAddress, ForbiddenAddressError),
        (did.InsecureTransport, ForbiddenAddressError),
        (did.NetworkError, DIDNetworkError),
        (did.InvalidDocument, InvalidDIDDocumentError),
    )


def did_error_class(did_error: type[DIDError] | str) -> type[VCIssuerError]:
    """The class for a did_methods error class, or for its DID Resolution name (``notFound``,
    as found in ``didResolutionMetadata.error``)."""
    from did_methods import errors as did

    if isinstance(did_error, str):
        named = [c for c in _did_classes(did.DIDError) if c.code == did_error]
        if not named:
            return DIDResolutionError
        did_error = named[0]
    for source, target in _did_map():
        if issubclass(did_error, source):
            return target
    return DIDResolutionError


def _did_classes(root: type[DIDError]) -> list[type[DIDError]]:
    out = [root]
    for sub in root.__subclasses__():
        out.extend(_did_classes(sub))
    return out


def from_did_error(exc: DIDError) -> VCIssuerError:
    """The vc_issuer error for a did_methods error; the exact DID Resolution error name is
    kept as ``didError`` in the problem details."""
    return did_error_class(type(exc))(exc.message, didError=exc.code)
