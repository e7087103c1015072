"""Signing keys (Ed25519, ECDSA P-256 and P-384): generation, import of the encodings met in
the wild, public keys for verification, and key files.

Ed25519 key material is held as the 32-byte RFC 8032 seed; every other form (64-byte libsodium
secret, Multikey, legacy ``zrv...``, DCC identity-multihash seed, hex) is an import format.
ECDSA keys are held as the big-endian secret scalar (Multikey ``z42...``/``z2f...``, or a JWK);
the curve arithmetic is the ``cryptography`` package's (OpenSSL). Key files are Multikey JSON
written with mode 0600, optionally with the secret encrypted under a passphrase (Argon2id +
XSalsa20-Poly1305 SecretBox, both from libsodium via PyNaCl).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from did_methods.errors import InvalidDocument
from did_methods.jwk import b64url_decode, b64url_encode, public_key_jwk
from did_methods.multikey import (
    ED25519_PRIV,
    KeyType,
    MultibaseError,
    PublicKeyMaterial,
    decode_base58btc,
    decode_ed25519_public,
    decode_public_multikey,
    encode_ed25519_public,
    encode_ed25519_secret,
    encode_public_multikey,
    encode_secret_multikey,
    secret_key_type,
)
from vc_issuer.errors import (
    InvalidKeyError,
    InvalidSignatureEncodingError,
    KeyDecryptionError,
    KeyFileError,
    PassphraseRequiredError,
)

MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
ENCRYPTION_FORMAT = "vc-issuer-encrypted-seed-v1"

# Argon2id cost stored in every encrypted file; load accepts up to the MAX_* bounds so a
# crafted file cannot make us allocate gigabytes.
ARGON2_OPSLIMIT = 3
ARGON2_MEMLIMIT = 64 * 1024 * 1024
MAX_ARGON2_OPSLIMIT = 16
MAX_ARGON2_MEMLIMIT = 1024 * 1024 * 1024

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_HEX128 = re.compile(r"^[0-9a-fA-F]{128}$")
_IDENTITY_MULTIHASH_32 = b"\x00\x20"


class _Identity:
    """What every key pair shares: its did:key, verification method id and Multikey JSON."""

    id: str | None
    controller: str | None

    @property
    def public_key_multibase(self) -> str:
        raise NotImplementedError

    @property
    def secret_key_multibase(self) -> str:
        raise NotImplementedError

    @property
    def did(self) -> str:
        return "did:key:" + self.public_key_multibase

    @property
    def verification_method(self) -> str:
        if self.id is not None:
            return self.id
        fingerprint = self.public_key_multibase
        return f"did:key:{fingerprint}#{fingerprint}"

    @property
    def controller_id(self) -> str:
        """The controller named in key files: the override, or the did:key."""
        return self.controller if self.controller is not None else self.did

    def to_multikey_json(self, *, include_secret: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "@context": MULTIKEY_CONTEXT,
            "type": "Multikey",
            "id": self.verification_method,
            "controller": self.controller_id,
            "publicKeyMultibase": self.public_key_multibase,
        }
        if include_secret:
            doc["secretKeyMultibase"] = self.secret_key_multibase
        return doc


def _derived() -> Any:
    """A field ``__post_init__`` fills from the key material: no argument, not compared."""
    return field(init=False, repr=False, compare=False, hash=False, default=None)


@dataclass(frozen=True)
class Ed25519Key(_Identity):
    """An Ed25519 key pair; ``id``/``controller`` override the did:key verification method."""

    key_type: ClassVar[KeyType] = "Ed25519"

    seed: bytes = field(repr=False)
    public_key: bytes
    id: str | None = None
    controller: str | None = None
    _signer: nacl.signing.SigningKey = _derived()  # noqa: RUF009 (a field())

    def __post_init__(self) -> None:
        if not isinstance(self.seed, bytes) or len(self.seed) != 32:
            raise InvalidKeyError("Ed25519 seed must be 32 bytes")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise InvalidKeyError("Ed25519 public key must be 32 bytes")
        signer = nacl.signing.SigningKey(self.seed)
        if bytes(signer.verify_key) != self.public_key:
            raise InvalidKeyError("public key does not match the secret key")
        object.__setattr__(self, "_signer", signer)

    @classmethod
    def generate(cls, *, id: str | None = None, controller: str | None = None) -> Ed25519Key:
        return cls.from_seed(secrets.token_bytes(32), id=id, controller=controller)

    @classmethod
    def from_seed(
        cls, seed: bytes, *, id: str | None = None, controller: str | None = None
    ) -> Ed25519Key:
        if not isinstance(seed, bytes) or len(seed) != 32:
            got = len(seed) if isinstance(seed, bytes) else type(seed).__name__
            raise InvalidKeyError(f"Ed25519 seed must be 32 bytes, got {got}")
        public = bytes(nacl.signing.SigningKey(seed).verify_key)
        return cls(seed=seed, public_key=public, id=id, controller=controller)

    def __reduce__(self) -> tuple[Any, ...]:
        # The nacl signer does not pickle: rebuild it from the seed (worker processes), once.
        return (_unpickled_key, (type(self), self.seed, self.public_key, self.id, self.controller))

    def sign(self, data: bytes) -> bytes:
        """Pure Ed25519 (RFC 8032) signature over ``data``: 64 bytes."""
        return bytes(self._signer.sign(data).signature)

    @property
    def secret(self) -> bytes:
        """The secret as key files store it: the 32-byte seed."""
        return self.seed

    def public(self) -> Ed25519PublicKey:
        return Ed25519PublicKey(self.public_key)

    @functools.cached_property
    def public_key_multibase(self) -> str:
        # Cached: it names the verification method of every proof the key makes.
        return encode_ed25519_public(self.public_key)

    @property
    def secret_key_multibase(self) -> str:
        return encode_ed25519_secret(self.seed)


_HashClass = type[hashes.SHA256] | type[hashes.SHA384]


@dataclass(frozen=True)
class _Curve:
    """A NIST curve's parameters, stated once for the key classes, verification and the
    signature checks."""

    curve: ec.EllipticCurve
    hash: _HashClass
    size: int
    """Bytes of a secret scalar, and of each of a signature's ``r`` and ``s``."""
    order: int
    """The group order n: a signature's ``r`` and ``s`` must lie in [1, n-1]."""


_CURVES: dict[KeyType, _Curve] = {
    "P-256": _Curve(
        ec.SECP256R1(),
        hashes.SHA256,
        32,
        0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    ),
    "P-384": _Curve(
        ec.SECP384R1(),
        hashes.SHA384,
        48,
        int(
            "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
            "581a0db248b0a77aecec196accc52973",
            16,
        ),
    ),
}


@dataclass(frozen=True)
class EcdsaKey(_Identity):
    """An ECDSA key pair (FIPS 186-5) on the curve its subclass names.

    ``secret`` is the big-endian scalar, ``public_key`` the compressed SEC1 point. Signatures
    are deterministic (RFC 6979, as vc-di-ecdsa recommends) and come out in the IEEE P1363
    ``r || s`` form the cryptosuites require (RFC 4754 §7).
    """

    key_type: ClassVar[KeyType]
    _curve: ClassVar[ec.EllipticCurve]
    _hash: ClassVar[_HashClass]
    size: ClassVar[int]

    secret: bytes = field(repr=False)
    public_key: bytes
    id: str | None = None
    controller: str | None = None
    _private: ec.EllipticCurvePrivateKey = _derived()  # noqa: RUF009 (a field())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass names its curve (``key_type``); the curve's parameters become class
        attributes, read directly when signing."""
        super().__init_subclass__(**kwargs)
        params = _CURVES[cls.key_type]
        cls._curve, cls._hash, cls.size = params.curve, params.hash, params.size

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) != self.size:
            raise InvalidKeyError(f"{self.key_type} secret key must be {self.size} bytes")
        scalar = int.from_bytes(self.secret, "big")
        try:
            private = ec.derive_private_key(scalar, self._curve)
        except ValueError:
            raise InvalidKeyError(f"{self.key_type} secret key is out of range") from None
        if _compressed(private.public_key()) != self.public_key:
            raise InvalidKeyError("public key does not match the secret key")
        object.__setattr__(self, "_private", private)

    @classmethod
    def generate(cls, *, id: str | None = None, controller: str | None = None) -> Self:
        private = ec.generate_private_key(cls._curve)
        secret = private.private_numbers().private_value.to_bytes(cls.size, "big")
        return cls.from_secret(secret, id=id, controller=controller)

    @classmethod
    def from_secret(
        cls, secret: bytes, *, id: str | None = None, controller: str | None = None
    ) -> Self:
        if not isinstance(secret, bytes) or len(secret) != cls.size:
            got = len(secret) if isinstance(secret, bytes) else type(secret).__name__
            raise InvalidKeyError(f"{cls.key_type} secret key must be {cls.size} bytes, got {got}")
        try:
            private = ec.derive_private_key(int.from_bytes(secret, "big"), cls._curve)
        except ValueError:
            raise InvalidKeyError(f"{cls.key_type} secret key is out of range") from None
        public = _compressed(private.public_key())
        return cls(secret=secret, public_key=public, id=id, controller=controller)

    def __reduce__(self) -> tuple[Any, ...]:
        # cryptography's key objects do not pickle: rebuild from the secret (worker processes),
        # once.
        args = (type(self), self.secret, self.public_key, self.id, self.controller)
        return (_unpickled_key, args)

    def sign(self, data: bytes) -> bytes:
        """Deterministic ECDSA over ``data`` (hashed with SHA-256 / SHA-384): ``r || s``."""
        der = self._private.sign(data, ec.ECDSA(self._hash(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        return r.to_bytes(self.size, "big") + s.to_bytes(self.size, "big")

    def public(self) -> EcdsaPublicKey:
        return EcdsaPublicKey(self.key_type, self.public_key)

    @functools.cached_property
    def public_key_multibase(self) -> str:
        # Cached: it names the verification method of every proof the key makes.
        return encode_public_multikey(self.key_type, self.public_key)

    @property
    def secret_key_multibase(self) -> str:
        return encode_secret_multikey(self.key_type, self.secret)

    def to_jwk(self, *, include_secret: bool = False) -> dict[str, str]:
        jwk = public_key_jwk(PublicKeyMaterial(self.key_type, self.public_key))
        if include_secret:
            jwk["d"] = b64url_encode(self.secret)
        return jwk


@dataclass(frozen=True)
class P256Key(EcdsaKey):
    """ECDSA on NIST P-256 with SHA-256 (did:key ``zDn...``)."""

    key_type: ClassVar[KeyType] = "P-256"


@dataclass(frozen=True)
class P384Key(EcdsaKey):
    """ECDSA on NIST P-384 with SHA-384 (did:key ``z82...``)."""

    key_type: ClassVar[KeyType] = "P-384"


#: Any key this project signs with.
SigningKey = Ed25519Key | P256Key | P384Key
_EC_CLASSES: dict[KeyType, type[EcdsaKey]] = {"P-256": P256Key, "P-384": P384Key}

_UNPICKLED: dict[tuple[Any, ...], Any] = {}


def _unpickled_key(cls: type[Any], secret: bytes, public: bytes, id: Any, controller: Any) -> Any:
    """A key sent to a worker process, rebuilt once per process: the issuer's key travels with
    every signing call, and rebuilding it (deriving and checking the public key) cost ~20 us
    of each."""
    cache_key = (cls, secret, public, id, controller)
    key = _UNPICKLED.get(cache_key)
    if key is None:
        if len(_UNPICKLED) >= 16:
            _UNPICKLED.clear()
        key = _UNPICKLED[cache_key] = cls(secret, public, id, controller)
    return key


def _compressed(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )


# --- public keys (verification) ------------------------------------------------------------------


@dataclass(frozen=True)
class Ed25519PublicKey:
    """An Ed25519 public key, as a verifier holds it."""

    raw: bytes
    key_type: ClassVar[KeyType] = "Ed25519"

    def verify(self, data: bytes, signature: bytes) -> bool:
        return verify_signature(self.raw, data, signature)


@dataclass(frozen=True)
class EcdsaPublicKey:
    """A P-256 or P-384 public key (compressed point), as a verifier holds it."""

    key_type: KeyType
    point: bytes

    @property
    def size(self) -> int:
        return _CURVES[self.key_type].size

    def verify(self, data: bytes, signature: bytes) -> bool:
        """ECDSA-verify an IEEE P1363 ``r || s`` signature over ``data``.

        A DER-encoded signature, one of the wrong length for the curve, or an ``r``/``s``
        outside [1, n-1] raises InvalidSignatureEncodingError: vc-di-ecdsa requires the
        P1363 form. A high ``s`` is accepted: the spec does not require low-S, and WebCrypto
        signers (Digital Bazaar's) produce either half.
        """
        r, s = split_p1363_signature(signature, self.key_type)
        key, hash_cls = _ec_public_key(self.key_type, self.point)
        try:
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_cls()))
        except InvalidSignature:
            return False
        return True


PublicKey = Ed25519PublicKey | EcdsaPublicKey


@functools.lru_cache(maxsize=1024)
def _ec_public_key(key_type: KeyType, point: bytes) -> tuple[ec.EllipticCurvePublicKey, _HashClass]:
    # Cached: decompressing and validating the point is about a third of a P-256 verify, and a
    # verifier sees the same issuer keys again and again.
    params = _CURVES[key_type]
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(params.curve, point), params.hash
    except ValueError:
        raise InvalidKeyError(f"not a {key_type} public key") from None


def looks_like_der(signature: bytes) -> bool:
    """True when ``signature`` parses as a DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs)."""
    try:
        decode_dss_signature(signature)
    except ValueError:
        return False
    return True


def split_p1363_signature(signature: bytes, key_type: KeyType) -> tuple[int, int]:
    """(r, s) of an IEEE P1363 signature, or InvalidSignatureEncodingError saying why not."""
    curve = _CURVES[key_type]
    size = curve.size
    if len(signature) != 2 * size:
        if signature[:1] == b"\x30" and looks_like_der(signature):
            raise InvalidSignatureEncodingError(
                f"the {key_type} signature is DER-encoded ({len(signature)} bytes); "
                f"vc-di-ecdsa requires the IEEE P1363 form r || s ({2 * size} bytes)"
            )
        raise InvalidSignatureEncodingError(
            f"a {key_type} signature is {2 * size} bytes (r || s), got {len(signature)}"
        )
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    if not (0 < r < curve.order and 0 < s < curve.order):
        raise InvalidSignatureEncodingError(
            f"non-canonical {key_type} signature: r and s must lie in [1, n-1]"
        )
    return r, s


def public_key_from_material(material: PublicKeyMaterial) -> PublicKey:
    """The verifier's key object for a key read from a DID document."""
    if material.key_type == "Ed25519":
        return Ed25519PublicKey(material.raw)
    return EcdsaPublicKey(material.key_type, material.raw)


def verify_signature(public_key: bytes, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``data`` by ``public_key``."""
    if len(public_key) != 32:
        raise InvalidKeyError(f"Ed25519 public key must be 32 bytes, got {len(public_key)}")
    if len(signature) != 64:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(data, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False
    return True


# --- import --------------------------------------------------------------------------------------


def _hex(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidKeyError(f"{name} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidKeyError(f"{name} is not valid hex") from None


def _seed_from_secret_multibase(value: Any, name: str) -> tuple[bytes, bytes | None]:
    """(seed, embedded public key or None) from a 0x8026 multikey secret (34 or 66 bytes)."""
    if not isinstance(value, str):
        raise InvalidKeyError(f"{name} must be a multibase string")
    try:
        raw = decode_base58btc(value)
    except MultibaseError as exc:
        raise InvalidKeyError(f"{name}: {exc}") from None
    if raw[:2] != ED25519_PRIV:
        raise InvalidKeyError(f"{name} is not an Ed25519 private key (multicodec 0x8026)")
    if len(raw) == 34:
        return raw[2:], None
    if len(raw) == 66:
        return raw[2:34], raw[34:]
    raise InvalidKeyError(f"{name} must hold 32 or 64 key bytes, got {len(raw) - 2}")


def _seed_from_dcc(value: str) -> bytes:
    """DCC signing-service seed: ``z`` + base58btc(identity multihash 0x00 0x20 + seed)."""
    try:
        raw = decode_base58btc(value)
    except MultibaseError as exc:
        raise InvalidKeyError(f"seed: {exc}") from None
    if raw[:2] != _IDENTITY_MULTIHASH_32 or len(raw) != 34:
        raise InvalidKeyError("seed must be an identity multihash of 32 bytes (z1...)")
    return raw[2:]


def _seed_from_string(value: str, name: str) -> tuple[bytes, bytes | None]:
    if _HEX64.match(value):
        return bytes.fromhex(value), None
    if _HEX128.match(value):
        raw = bytes.fromhex(value)
        return raw[:32], raw[32:]
    if value.startswith("z1"):
        return _seed_from_dcc(value), None
    if value.startswith("z"):
        return _seed_from_secret_multibase(value, name)
    raise InvalidKeyError(
        f"{name}: expected a 64-hex seed, a z1... seed or a z3u2.../zrv... secret key"
    )


def _public_from_obj(obj: Mapping[str, Any]) -> bytes | None:
    if "publicKeyMultibase" in obj:
        try:
            return decode_ed25519_public(obj["publicKeyMultibase"])
        except (MultibaseError, TypeError) as exc:
            raise InvalidKeyError(f"publicKeyMultibase: {exc}") from None
    if "publicKeyHex" in obj:
        public = _hex(obj["publicKeyHex"], "publicKeyHex")
        if len(public) != 32:
            raise InvalidKeyError(f"publicKeyHex must be 32 bytes, got {len(public)}")
        return public
    return None


def _opt_str(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidKeyError(f"{name} must be a non-empty string")
    return value


_Named = TypeVar("_Named", bound="Ed25519Key | EcdsaKey")


def _named(key: _Named, obj: Mapping[str, Any]) -> _Named:
    """``key`` with the ``id`` and ``controller`` a key file states, kept only when they differ
    from the did:key defaults."""
    key_id, controller = _opt_str(obj, "id"), _opt_str(obj, "controller")
    if key_id in (None, key.verification_method) and controller in (None, key.did):
        return key
    return replace(
        key,
        id=None if key_id == key.verification_method else key_id,
        controller=None if controller == key.did else controller,
    )


def parse_signing_key(obj: Mapping[str, Any] | str, passphrase: bytes | None = None) -> SigningKey:
    """Import an Ed25519, P-256 or P-384 key from any supported encoding.

    ECDSA keys come as Multikey (``secretKeyMultibase`` ``z42...``/``z2f...``), as an
    encrypted key file whose ``publicKeyMultibase`` names the curve, or as a private JWK
    (``kty`` EC with ``d``). Everything else is read as Ed25519 (see :func:`parse_key`).
    """
    if isinstance(obj, Mapping):
        if obj.get("kty") is not None:
            return _key_from_jwk(obj)
        key_type = _stated_ec_type(obj)
        if key_type is not None:
            return _parse_ec_key(obj, key_type, passphrase)
    return parse_key(obj, passphrase)


def _stated_ec_type(obj: Mapping[str, Any]) -> KeyType | None:
    """P-256/P-384 when the secret's multicodec (or, encrypted, the public key) says so."""
    for name in ("secretKeyMultibase", "privateKeyMultibase"):
        value = obj.get(name)
        if isinstance(value, str):
            try:
                key_type = secret_key_type(decode_base58btc(value))
            except MultibaseError:
                return None
            return key_type if key_type in _EC_CLASSES else None
    public = obj.get("publicKeyMultibase")
    if "encryptedSecretKey" in obj and isinstance(public, str):
        try:
            key_type = decode_public_multikey(public).key_type
        except MultibaseError as exc:
            raise InvalidKeyError(f"publicKeyMultibase: {exc}") from None
        return key_type if key_type in _EC_CLASSES else None
    return None


def _parse_ec_key(
    obj: Mapping[str, Any], key_type: KeyType, passphrase: bytes | None
) -> P256Key | P384Key:
    cls: type[P256Key | P384Key] = P256Key if key_type == "P-256" else P384Key
    if "encryptedSecretKey" in obj:
        secret = _decrypt_seed(obj["encryptedSecretKey"], passphrase)
    else:
        name = "secretKeyMultibase" if "secretKeyMultibase" in obj else "privateKeyMultibase"
        raw = decode_base58btc(obj[name])
        secret = raw[2:]
        if len(secret) != cls.size:
            raise InvalidKeyError(f"{name} must hold {cls.size} key bytes, got {len(secret)}")
    key = _named(cls.from_secret(secret), obj)
    public = obj.get("publicKeyMultibase")
    if public is not None and public != key.public_key_multibase:
        raise InvalidKeyError("publicKeyMultibase does not match the secret key")
    return key


def _key_from_jwk(jwk: Mapping[str, Any]) -> SigningKey:
    """A private JWK: EC P-256/P-384 (RFC 7518 §6.2.2) or OKP Ed25519 (RFC 8037)."""
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if "d" not in jwk:
        raise InvalidKeyError("the JWK has no private part 'd'")
    try:
        secret = b64url_decode(jwk["d"], "d")
    except InvalidDocument as exc:
        raise InvalidKeyError(exc.message) from None
    key: SigningKey
    if kty == "OKP" and crv == "Ed25519":
        key = Ed25519Key.from_seed(secret)
        expected = {"x": b64url_encode(key.public_key)}
    elif kty == "EC" and crv in ("P-256", "P-384"):
        ec_key = (P256Key if crv == "P-256" else P384Key).from_secret(secret)
        key = ec_key
        expected = ec_key.to_jwk()
    else:
        raise InvalidKeyError(f"unsupported JWK: kty {kty!r}, crv {crv!r}")
    for member in ("x", "y"):
        if member in jwk and jwk[member] != expected.get(member):
            raise InvalidKeyError(f"JWK {member!r} does not match the private key")
    return key


def parse_key(obj: Mapping[str, Any] | str, passphrase: bytes | None = None) -> Ed25519Key:
    """Import an Ed25519 key from any supported encoding; a stated public key must match the
    secret. (:func:`parse_signing_key` also takes P-256/P-384 keys.)

    A bare string is a 64-hex seed, a 128-hex libsodium secret, or a multibase secret/seed.
    """
    if isinstance(obj, str):
        seed, inner = _seed_from_string(obj.strip(), "key")
        key = Ed25519Key.from_seed(seed)
        if inner is not None and inner != key.public_key:
            raise InvalidKeyError("the public key inside the secret key does not match it")
        return key
    if not isinstance(obj, Mapping):
        raise InvalidKeyError("a key must be a JSON object or a string")

    embedded: bytes | None = None
    if "encryptedSecretKey" in obj:
        seed = _decrypt_seed(obj["encryptedSecretKey"], passphrase)
    elif "secretKeyMultibase" in obj:
        seed, embedded = _seed_from_secret_multibase(
            obj["secretKeyMultibase"], "secretKeyMultibase"
        )
    elif "privateKeyMultibase" in obj:
        seed, embedded = _seed_from_secret_multibase(
            obj["privateKeyMultibase"], "privateKeyMultibase"
        )
    elif "seed" in obj:
        if not isinstance(obj["seed"], str):
            raise InvalidKeyError("seed must be a string")
        seed, embedded = _seed_from_string(obj["seed"], "seed")
    elif "seedHex" in obj:
        seed = _hex(obj["seedHex"], "seedHex")
    elif "privateKeyHex" in obj:
        raw = _hex(obj["privateKeyHex"], "privateKeyHex")
        if len(raw) == 64:
            seed, embedded = raw[:32], raw[32:]
        elif len(raw) == 32:
            seed = raw
        else:
            raise InvalidKeyError(f"privateKeyHex must be 32 or 64 bytes, got {len(raw)}")
    else:
        raise InvalidKeyError(
            "no secret key found: expected secretKeyMultibase, privateKeyMultibase, "
            "encryptedSecretKey, seed, seedHex or privateKeyHex"
        )
    if len(seed) != 32:
        raise InvalidKeyError(f"Ed25519 seed must be 32 bytes, got {len(seed)}")

    key = _named(Ed25519Key.from_seed(seed), obj)
    if embedded is not None and embedded != key.public_key:
        raise InvalidKeyError("the public key inside the secret key does not match it")
    stated = _public_from_obj(obj)
    if stated is not None and stated != key.public_key:
        raise InvalidKeyError("publicKey does not match the secret key")
    return key


# --- key files -----------------------------------------------------------------------------------


def _b64u(data: bytes) -> str:
    return "u" + base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64u(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("u"):
        raise InvalidKeyError(f"encryptedSecretKey.{name} must be a base64url multibase string")
    body = value[1:]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except ValueError:
        raise InvalidKeyError(f"encryptedSecretKey.{name} is not valid base64url") from None


def _kdf(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    key: bytes = nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, passphrase, salt, opslimit=opslimit, memlimit=memlimit
    )
    return key


def encrypt_seed(seed: bytes, passphrase: bytes) -> dict[str, Any]:
    """The ``encryptedSecretKey`` member: Argon2id-derived key, SecretBox over the seed."""
    if not passphrase:
        raise InvalidKeyError("the passphrase must not be empty")
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_kdf(passphrase, salt, ARGON2_OPSLIMIT, ARGON2_MEMLIMIT))
    ciphertext = box.encrypt(seed, nonce).ciphertext
    return {
        "format": ENCRYPTION_FORMAT,
        "kdf": {
            "name": "argon2id",
            "salt": _b64u(salt),
            "opslimit": ARGON2_OPSLIMIT,
            "memlimit": ARGON2_MEMLIMIT,
        },
        "cipher": {"name": "xsalsa20-poly1305", "nonce": _b64u(nonce)},
        "ciphertext": _b64u(ciphertext),
    }


def _decrypt_seed(enc: Any, passphrase: bytes | None) -> bytes:
    if not isinstance(enc, Mapping) or enc.get("format") != ENCRYPTION_FORMAT:
        raise InvalidKeyError(
            f"encryptedSecretKey must be an object with format {ENCRYPTION_FORMAT}"
        )
    if passphrase is None:
        raise PassphraseRequiredError("the key file is encrypted: a passphrase is required")
    kdf, cipher = enc.get("kdf"), enc.get("cipher")
    if not isinstance(kdf, Mapping) or kdf.get("name") != "argon2id":
        raise InvalidKeyError("encryptedSecretKey.kdf must name argon2id")
    if not isinstance(cipher, Mapping) or cipher.get("name") != "xsalsa20-poly1305":
        raise InvalidKeyError("encryptedSecretKey.cipher must name xsalsa20-poly1305")
    ops, mem = kdf.get("opslimit"), kdf.get("memlimit")
    if not isinstance(ops, int) or not 1 <= ops <= MAX_ARGON2_OPSLIMIT:
        raise InvalidKeyError("encryptedSecretKey.kdf.opslimit out of range")
    if not isinstance(mem, int) or not 8192 <= mem <= MAX_ARGON2_MEMLIMIT:
        raise InvalidKeyError("encryptedSecretKey.kdf.memlimit out of range")
    salt = _unb64u(kdf.get("salt"), "kdf.salt")
    nonce = _unb64u(cipher.get("nonce"), "cipher.nonce")
    ciphertext = _unb64u(enc.get("ciphertext"), "ciphertext")
    if len(salt) != nacl.pwhash.argon2id.SALTBYTES or len(nonce) != 24:
        raise InvalidKeyError("encryptedSecretKey has a wrong salt or nonce length")
    box = nacl.secret.SecretBox(_kdf(passphrase, salt, ops, mem))
    try:
        seed: bytes = box.decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError:
        raise KeyDecryptionError("wrong passphrase (or the key file was modified)") from None
    return seed


def key_file_json(key: SigningKey, passphrase: bytes | None = None) -> dict[str, Any]:
    """The key file document: Multikey JSON, with the secret encrypted when a passphrase is
    given (``publicKeyMultibase`` then says which kind of key it is)."""
    doc = key.to_multikey_json(include_secret=passphrase is None)
    if passphrase is not None:
        doc["encryptedSecretKey"] = encrypt_seed(key.secret, passphrase)
    return doc


def save_key_file(
    key: SigningKey,
    path: str | os.PathLike[str],
    passphrase: bytes | None = None,
    *,
    overwrite: bool = False,
) -> None:
    """Write the key file atomically; it is created 0600 and never exists with wider rights."""
    target = Path(path)
    data = (json.dumps(key_file_json(key, passphrase), indent=2) + "\n").encode("utf-8")
    if target.exists() and not overwrite:
        raise KeyFileError(f"{target} already exists; refusing to overwrite a key file")
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
    except OSError as exc:
        raise KeyFileError(f"cannot create key file in {target.parent}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the target appeared meanwhile: no silent overwrite race.
            os.link(tmp, target)
            os.unlink(tmp)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise KeyFileError(f"cannot write key file {target}: {exc.strerror}") from None


def load_key_file(path: str | os.PathLike[str], passphrase: bytes | None = None) -> Ed25519Key:
    """An Ed25519 key file (see :func:`load_signing_key_file` for every key type)."""
    key = load_signing_key_file(path, passphrase)
    if not isinstance(key, Ed25519Key):
        raise InvalidKeyError(f"key file {path} holds a {key.key_type} key, not Ed25519")
    return key


def load_signing_key_file(
    path: str | os.PathLike[str], passphrase: bytes | None = None
) -> SigningKey:
    """A key file holding an Ed25519, P-256 or P-384 key (JSON, or a bare 64-hex seed)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace").strip()
        if _HEX64.match(text):
            return parse_key(text)
        raise InvalidKeyError(f"key file {path} is not JSON") from None
    if not isinstance(obj, (dict, str)):
        raise InvalidKeyError(f"key file {path} must hold a JSON object")
    return parse_signing_key(obj, passphrase)
