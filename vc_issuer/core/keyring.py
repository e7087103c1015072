"""The issuer's keys, one per key type, and which one signs what.

A home holds an Ed25519 key, a P-256 key and a P-384 key, or any of them; the first one made is
the *primary* key (status lists, the default suite). A suite signs with the key of a type it
takes (eddsa-* and Ed25519Signature2020: Ed25519; ecdsa-rdfc-2019 and ecdsa-jcs-2019: P-256,
else P-384; ecdsa-sd-2023: P-256), a JWT with the key its ``alg`` names (EdDSA, ES256, ES384;
by default the Ed25519 key when there is one). A caller may name the key instead: its
verification method id, its fragment, or its type (``p384``). Pure: no files here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from did_methods.multikey import KeyType
from vc_issuer.core.keys import Ed25519Key, P256Key, P384Key, SigningKey
from vc_issuer.core.suites import suite_by_name
from vc_issuer.errors import (
    InvalidKeyError,
    MalformedInputError,
    NoKeyForSuiteError,
    SuiteKeyMismatchError,
    UnsupportedKeyTypeError,
)

#: ``--type`` names -> key types.
KEY_TYPE_NAMES: Final[dict[str, KeyType]] = {
    "ed25519": "Ed25519",
    "p256": "P-256",
    "p384": "P-384",
}
TYPE_NAMES: Final[dict[KeyType, str]] = {v: k for k, v in KEY_TYPE_NAMES.items()}
JWT_ALGS: Final[dict[str, KeyType]] = {"EdDSA": "Ed25519", "ES256": "P-256", "ES384": "P-384"}
DEFAULT_SUITES: Final[dict[KeyType, str]] = {
    "Ed25519": "eddsa-rdfc-2022",
    "P-256": "ecdsa-rdfc-2019",
    "P-384": "ecdsa-rdfc-2019",
}
"""The default suite of a home whose primary key is of that type (``init --key-type``)."""


def key_type(name: str) -> KeyType:
    """``ed25519``/``p256``/``p384`` (or ``Ed25519``/``P-256``/``P-384``) -> the key type."""
    wanted = name.strip().lower().replace("-", "")
    if wanted in KEY_TYPE_NAMES:
        return KEY_TYPE_NAMES[wanted]
    raise UnsupportedKeyTypeError(
        f"unsupported key type {name!r}; use one of {', '.join(KEY_TYPE_NAMES)}",
        allowed=list(KEY_TYPE_NAMES),
    )


def generate_key(
    kind: KeyType, *, id: str | None = None, controller: str | None = None
) -> SigningKey:
    """A new key of ``kind`` (secrets from the OS), named ``id`` under ``controller``."""
    if kind == "Ed25519":
        return Ed25519Key.generate(id=id, controller=controller)
    if kind == "P-256":
        return P256Key.generate(id=id, controller=controller)
    return P384Key.generate(id=id, controller=controller)


def generate_command(kind: KeyType) -> str:
    return f"vc-issuer keys generate --type {TYPE_NAMES[kind]}"


@dataclass(frozen=True)
class Keyring:
    """The keys of one issuer, primary first; at most one per key type."""

    keys: tuple[SigningKey, ...]
    did: str

    def __post_init__(self) -> None:
        if not self.keys:
            raise InvalidKeyError("an issuer needs at least one key")
        types = [k.key_type for k in self.keys]
        if len(set(types)) != len(types):
            raise InvalidKeyError(f"the issuer has two keys of one type: {types}")
        if self.did.startswith("did:key:") and len(self.keys) > 1:
            raise InvalidKeyError(f"{self.did} is one key; more keys need did:web")

    @classmethod
    def of(cls, keys: Sequence[SigningKey], did: str) -> Keyring:
        return cls(tuple(keys), did)

    @property
    def primary(self) -> SigningKey:
        return self.keys[0]

    def by_type(self, kind: KeyType) -> SigningKey | None:
        return next((k for k in self.keys if k.key_type == kind), None)

    def named(self, name: str) -> SigningKey:
        """The key ``name`` names: a verification method id, its fragment, or a key type."""
        for key in self.keys:
            method = key.verification_method
            if name in (method, "#" + method.partition("#")[2], method.partition("#")[2]):
                return key
        if name.strip().lower().replace("-", "") in KEY_TYPE_NAMES:
            kind = key_type(name)
            found = self.by_type(kind)
            if found is None:
                raise NoKeyForSuiteError(f"the issuer has no {kind} key; {self._add_hint(kind)}")
            return found
        raise MalformedInputError(
            f"no key {name!r}: name a verification method of {self.did} or a key type"
            f" ({', '.join(KEY_TYPE_NAMES)})",
            field="key",
        )

    def _add_hint(self, kind: KeyType) -> str:
        if self.did.startswith("did:key:"):
            return (
                f"a did:key issuer has only its one {self.primary.key_type} key: create a"
                f" did:web issuer (vc-issuer init --did-web HOST --key-type {TYPE_NAMES[kind]}"
                " --home DIR) to sign with another"
            )
        return f"add one with `{generate_command(kind)}` (and --home DIR when it is elsewhere)"

    def for_suite(self, suite: str, key: str | None = None) -> SigningKey:
        """The key ``suite`` signs with: ``key`` when named (it must fit), else the first key
        of a type the suite takes, in the suite's order (P-256 before P-384)."""
        chosen = suite_by_name(suite)
        if key is not None:
            found = self.named(key)
            if found.key_type not in chosen.key_types:
                raise SuiteKeyMismatchError(
                    f"{suite} signs with {' or '.join(chosen.key_types)} keys;"
                    f" {found.verification_method} is {found.key_type}"
                )
            return found
        for kind in chosen.key_types:
            found_key = self.by_type(kind)
            if found_key is not None:
                return found_key
        kind = chosen.key_types[0]
        raise NoKeyForSuiteError(
            f"{suite} signs with {' or '.join(chosen.key_types)} keys and the issuer has none"
            f" ({', '.join(k.key_type for k in self.keys)} only); {self._add_hint(kind)}",
            suite=suite,
        )

    def for_jwt(self, alg: str | None = None, key: str | None = None) -> SigningKey:
        """The key a JWT is signed with: named by ``key``, or by ``alg`` (EdDSA, ES256,
        ES384), else the Ed25519 key when there is one, else the primary key."""
        if alg is not None and alg not in JWT_ALGS:
            raise MalformedInputError(
                f"unsupported JWT alg {alg!r}; use one of {', '.join(JWT_ALGS)}", field="alg"
            )
        if key is not None:
            found = self.named(key)
            if alg is not None and JWT_ALGS[alg] != found.key_type:
                raise SuiteKeyMismatchError(
                    f"{alg} signs with a {JWT_ALGS[alg]} key; {found.verification_method}"
                    f" is {found.key_type}"
                )
            return found
        if alg is not None:
            kind = JWT_ALGS[alg]
            by_alg = self.by_type(kind)
            if by_alg is None:
                raise NoKeyForSuiteError(
                    f"{alg} signs with a {kind} key and the issuer has none;"
                    f" {self._add_hint(kind)}",
                    alg=alg,
                )
            return by_alg
        return self.by_type("Ed25519") or self.primary

    @property
    def jwt_algs(self) -> list[str]:
        """The JWT algorithms this issuer can sign with, default first."""
        first = self.for_jwt()
        algs = [a for a, kind in JWT_ALGS.items() if self.by_type(kind) is not None]
        default = next(a for a, kind in JWT_ALGS.items() if kind == first.key_type)
        return [default, *(a for a in algs if a != default)]


__all__ = [
    "DEFAULT_SUITES",
    "JWT_ALGS",
    "KEY_TYPE_NAMES",
    "TYPE_NAMES",
    "Keyring",
    "generate_command",
    "generate_key",
    "key_type",
]
