"""Decentralized verifiable-credentials issuer and verifier (W3C VC 2.0, Open Badges 3.0).

The public API, for library users (everything else is internal and may move)::

    from vc_issuer import Ed25519Key, sign, verify_credential

    key = Ed25519Key.generate()
    signed = sign(credential, key)
    result = await verify_credential(signed)      # a VerificationResult, never raises

Names are loaded on first use, so ``import vc_issuer`` stays cheap (no JSON-LD processor, HTTP
stack or store driver until a function that needs one is touched).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # signing and verifying
    "sign": "vc_issuer.core.proofs",
    "verify_credential": "vc_issuer.services.verifier",
    "verify_presentation": "vc_issuer.services.verifier",
    "VerificationResult": "vc_issuer.services.verifier",
    "VerifyOptions": "vc_issuer.services.verifier",
    "Check": "vc_issuer.services.verifier",
    "ContextLoader": "vc_issuer.core.jsonld",
    "StatusListChecker": "vc_issuer.services.status_check",
    # keys
    "Ed25519Key": "vc_issuer.core.keys",
    "load_key_file": "vc_issuer.core.keys",
    "save_key_file": "vc_issuer.core.keys",
    # the issuer (keys, store, status lists) over an issuer home
    "Issuer": "vc_issuer.services.issuer",
    "HomeConfig": "vc_issuer.services.home",
    "init_home": "vc_issuer.services.home",
    "load_home": "vc_issuer.services.home",
    "open_issuer": "vc_issuer.services.home",
    # errors: the root and the families a caller tells apart
    "VCIssuerError": "vc_issuer.errors",
    "MalformedInputError": "vc_issuer.errors",
    "ParsingError": "vc_issuer.errors",
    "JsonLdError": "vc_issuer.errors",
    "InvalidKeyError": "vc_issuer.errors",
    "DIDResolutionError": "vc_issuer.errors",
    "ProofError": "vc_issuer.errors",
    "StatusError": "vc_issuer.errors",
    "NotFoundError": "vc_issuer.errors",
    "ConflictError": "vc_issuer.errors",
    "ConfigError": "vc_issuer.errors",
    "StoreError": "vc_issuer.errors",
}

__all__ = [
    "Check",
    "ConfigError",
    "ConflictError",
    "ContextLoader",
    "DIDResolutionError",
    "Ed25519Key",
    "HomeConfig",
    "InvalidKeyError",
    "Issuer",
    "JsonLdError",
    "MalformedInputError",
    "NotFoundError",
    "ParsingError",
    "ProofError",
    "StatusError",
    "StatusListChecker",
    "StoreError",
    "VCIssuerError",
    "VerificationResult",
    "VerifyOptions",
    "__version__",
    "init_home",
    "load_home",
    "load_key_file",
    "open_issuer",
    "save_key_file",
    "sign",
    "verify_credential",
    "verify_presentation",
]

if TYPE_CHECKING:
    from vc_issuer.core.jsonld import ContextLoader
    from vc_issuer.core.keys import Ed25519Key, load_key_file, save_key_file
    from vc_issuer.core.proofs import sign
    from vc_issuer.errors import (
        ConfigError,
        ConflictError,
        DIDResolutionError,
        InvalidKeyError,
        JsonLdError,
        MalformedInputError,
        NotFoundError,
        ParsingError,
        ProofError,
        StatusError,
        StoreError,
        VCIssuerError,
    )
    from vc_issuer.services.home import HomeConfig, init_home, load_home, open_issuer
    from vc_issuer.services.issuer import Issuer
    from vc_issuer.services.status_check import StatusListChecker
    from vc_issuer.services.verifier import (
        Check,
        VerificationResult,
        VerifyOptions,
        verify_credential,
        verify_presentation,
    )


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vc_issuer' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
