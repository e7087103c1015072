"""Errors of DID resolution, named by the DID Resolution spec's error codes."""

from __future__ import annotations


class DIDError(Exception):
    """Root of did_methods errors; ``code`` is a DID Resolution error name."""

    code: str = "internalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidDID(DIDError):
    code = "invalidDid"


class NotFound(DIDError):
    code = "notFound"


class Gone(NotFound):
    """HTTP 410: the resource was removed on purpose (an OB 2.0 host revoking an assertion)."""


class MethodNotSupported(DIDError):
    code = "methodNotSupported"


class RepresentationNotSupported(DIDError):
    code = "representationNotSupported"


class NetworkError(DIDError):
    """The did:web host could not be reached in time, or answered badly."""

    code = "networkError"


class ForbiddenAddress(NetworkError):
    """The host resolves to a loopback/private address and that was not allowed."""

    code = "forbiddenAddress"


class InvalidDocument(DIDError):
    """The document is not a DID document for this DID (bad JSON, mismatched id, too big)."""

    code = "invalidDidDocument"


class InvalidDIDURL(InvalidDID):
    """A DID URL that cannot be dereferenced here (no fragment, a path or a query)."""

    code = "invalidDidUrl"


class InsecureTransport(NetworkError):
    """Plain http to a host that is not an allowed loopback host (also on a redirect)."""

    code = "insecureTransport"


class ResponseTooLarge(InvalidDocument):
    """The response body is larger than the configured cap."""

    code = "responseTooLarge"


class VerificationMethodNotAuthorized(DIDError):
    """The verification method exists but is not listed under the requested relationship."""

    code = "verificationMethodNotAuthorized"
