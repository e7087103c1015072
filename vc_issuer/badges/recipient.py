"""Is this badge Alice's? The salted identity hash of Open Badges 2.0 and 3.0.

OB 2.0 ``recipient`` (IdentityObject) and OB 3.0 ``credentialSubject.identifier``
(IdentityObject) carry the recipient's email either in plain text (``hashed: false``) or as an
IdentityHash: ``<algorithm>$<hex of hash(identity + salt)>``. Both specs allow exactly two
algorithms, ``sha256`` and ``md5`` (OB 3.0 "IdentityHash", OB 2.0 "IdentityHash"); anything else
is refused with UNKNOWN_HASH_ALGORITHM rather than reported as "not Alice's". Hex is compared
case-insensitively, as the specs allow either case.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from vc_issuer.errors import (
    NoRecipientIdentityError,
    RecipientMismatchError,
    UnknownHashAlgorithmError,
)

HASHES: Final[dict[str, Callable[[bytes], Any]]] = {
    "sha256": hashlib.sha256,
    "md5": hashlib.md5,
}
#: OB 2.0 ``recipient.type`` and OB 3.0 ``identityType`` values that name an email address.
EMAIL_TYPES: Final = frozenset({"email", "emailAddress"})


@dataclass(frozen=True)
class Identity:
    """One recipient identity as the credential states it."""

    identity: str
    hashed: bool
    salt: str
    where: str


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def email_identities(document: Mapping[str, Any]) -> list[Identity]:
    """The email identities of an OB 2.0 assertion or an OB 3.0 credential."""
    found: list[Identity] = []
    recipient = document.get("recipient")  # OB 2.0 Assertion
    if isinstance(recipient, Mapping):
        found += _identity(recipient, "identity", "type", "recipient")
    for i, subject in enumerate(_as_list(document.get("credentialSubject"))):  # OB 3.0
        if not isinstance(subject, Mapping):
            continue
        for j, item in enumerate(_as_list(subject.get("identifier"))):
            if isinstance(item, Mapping):
                where = f"credentialSubject[{i}].identifier[{j}]"
                found += _identity(item, "identityHash", "identityType", where)
    return found


def _identity(item: Mapping[str, Any], value_key: str, type_key: str, where: str) -> list[Identity]:
    value, kind = item.get(value_key), item.get(type_key)
    if not isinstance(value, str) or not isinstance(kind, str) or kind not in EMAIL_TYPES:
        return []
    salt = item.get("salt")
    hashed = item.get("hashed")
    # OB 2.0: hashed is required; a "$"-prefixed value is a hash when it is missing
    is_hashed = hashed if isinstance(hashed, bool) else "$" in value
    return [Identity(value, is_hashed, salt if isinstance(salt, str) else "", where)]


def identity_hash(algorithm: str, plaintext: str, salt: str = "") -> str:
    """``<algorithm>$<hex>`` over UTF-8(plaintext + salt), as an issuer computes it."""
    name = algorithm.lower()
    if name not in HASHES:
        raise UnknownHashAlgorithmError(
            f"identity hash algorithm {algorithm!r} is not sha256 or md5", algorithm=algorithm
        )
    return f"{name}${HASHES[name]((plaintext + salt).encode('utf-8')).hexdigest()}"


def matches(identity: Identity, email: str) -> bool:
    """Does ``email`` (as typed, then lowercased) produce this identity?"""
    candidates = dict.fromkeys([email.strip(), email.strip().lower()])
    if not identity.hashed:
        return any(identity.identity.strip().lower() == c.lower() for c in candidates)
    algorithm, sep, digest = identity.identity.partition("$")
    if not sep:
        raise UnknownHashAlgorithmError(
            f"the hashed identity at {identity.where} has no algorithm prefix (sha256$...)"
        )
    for candidate in candidates:
        computed = identity_hash(algorithm, candidate, identity.salt).partition("$")[2]
        if hmac.compare_digest(computed, digest.strip().lower()):
            return True
    return False


def check_recipient(document: Mapping[str, Any], email: str) -> str:
    """The detail of a match; raises RecipientMismatchError (or why it cannot be checked)."""
    identities = email_identities(document)
    if not identities:
        raise NoRecipientIdentityError("the credential names no recipient email to compare")
    for identity in identities:
        if matches(identity, email):
            how = "salted hash" if identity.hashed else "plain text"
            return f"awarded to {email} ({how} at {identity.where})"
    raise RecipientMismatchError(f"the credential was not awarded to {email}")


__all__ = ["HASHES", "Identity", "check_recipient", "email_identities", "identity_hash", "matches"]
