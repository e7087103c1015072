"""Multibase / multicodec encoding of public and secret keys (Multikey, did:key).

Ed25519 (``z6Mk...``), X25519 (``z6LS...``), and the ECDSA curves of vc-di-ecdsa §2.1.1:
P-256 (multicodec 0x1200, ``zDn...``) and P-384 (0x1201, ``z82...``), each a *compressed*
SEC1 point; the spec allows no other encoding. Curve-point checks for P-256/P-384 use the
``cryptography`` package (OpenSSL), which refuses points that are not on the curve.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import ec

ED25519_PUB = b"\xed\x01"
X25519_PUB = b"\xec\x01"
ED25519_PRIV = b"\x80\x26"
P256_PUB = b"\x80\x24"  # varint of 0x1200
P384_PUB = b"\x81\x24"  # varint of 0x1201
P256_PRIV = b"\x86\x26"  # varint of 0x1306
P384_PRIV = b"\x87\x26"  # varint of 0x1307

KeyType = Literal["Ed25519", "P-256", "P-384"]
KEY_TYPES: tuple[KeyType, ...] = ("Ed25519", "P-256", "P-384")
EC_KEY_TYPES: tuple[KeyType, ...] = ("P-256", "P-384")

#: key type -> (public header, public length, secret header, secret length)
_CODECS: dict[KeyType, tuple[bytes, int, bytes, int]] = {
    "Ed25519": (ED25519_PUB, 32, ED25519_PRIV, 32),
    "P-256": (P256_PUB, 33, P256_PRIV, 32),
    "P-384": (P384_PUB, 49, P384_PRIV, 48),
}
_EC_CURVES: dict[KeyType, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}


class MultibaseError(ValueError):
    """Not a valid multibase/multicodec key encoding."""


@dataclass(frozen=True)
class PublicKeyMaterial:
    """A public key as found in a DID document: its type and raw bytes (Ed25519: 32 bytes;
    P-256/P-384: the compressed SEC1 point, 33/49 bytes)."""

    key_type: KeyType
    raw: bytes

    @property
    def multibase(self) -> str:
        return encode_public_multikey(self.key_type, self.raw)


# base58btc (the Bitcoin alphabet). The ``base58`` package is the reference, and a property
# test holds these two to it; they exist for speed: the package builds its output by repeated
# byte-string concatenation, 60 us for one 64-byte signature, a quarter of an ECDSA-JCS proof.
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_PAIRS = [a + b for a in _B58 for b in _B58]
_B58_VALUES = {c: i for i, c in enumerate(_B58)}
_B58_PAIR_VALUES = {pair: i for i, pair in enumerate(_B58_PAIRS)}


def b58encode(data: bytes) -> str:
    """base58btc of ``data``: two digits per division, one ``1`` per leading zero byte."""
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, pair = divmod(n, 3364)
        digits.append(_B58_PAIRS[pair])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits)).lstrip("1")


def b58decode(text: str) -> bytes:
    """The bytes of base58btc ``text``; ValueError on a character outside the alphabet."""
    odd = len(text) % 2
    try:
        n = _B58_VALUES[text[0]] if odd else 0
        for i in range(odd, len(text), 2):
            n = n * 3364 + _B58_PAIR_VALUES[text[i : i + 2]]
    except KeyError:
        bad = next(c for c in text if c not in _B58_VALUES)
        raise ValueError(f"invalid base58 character {bad!r}") from None
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + n.to_bytes((n.bit_length() + 7) // 8, "big")


def decode_base58btc(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z") or len(value) < 2:
        raise MultibaseError(f"not a base58btc multibase value: {value!r}")
    try:
        return b58decode(value[1:])
    except ValueError as exc:
        raise MultibaseError(f"invalid base58btc in {value!r}") from exc


def encode_base58btc(data: bytes) -> str:
    return "z" + b58encode(data)


def encode_ed25519_public(key: bytes) -> str:
    if len(key) != 32:
        raise MultibaseError(f"Ed25519 public key must be 32 bytes, got {len(key)}")
    return encode_base58btc(ED25519_PUB + key)


def decode_ed25519_public(value: str) -> bytes:
    raw = decode_base58btc(value)
    if raw[:2] != ED25519_PUB:
        raise MultibaseError(f"not an Ed25519 public key multicodec (0xed01): {value!r}")
    if len(raw) != 34:
        raise MultibaseError(f"Ed25519 public key must be 32 bytes, got {len(raw) - 2}")
    return raw[2:]


def encode_x25519_public(key: bytes) -> str:
    if len(key) != 32:
        raise MultibaseError(f"X25519 public key must be 32 bytes, got {len(key)}")
    return encode_base58btc(X25519_PUB + key)


def encode_ed25519_secret(seed: bytes) -> str:
    """Multikey secretKeyMultibase: 0x8026 + 32-byte seed (starts with ``z3u2``)."""
    if len(seed) != 32:
        raise MultibaseError(f"Ed25519 seed must be 32 bytes, got {len(seed)}")
    return encode_base58btc(ED25519_PRIV + seed)


# --- every key type -----------------------------------------------------------------------------


def check_ec_point(key_type: KeyType, point: bytes) -> None:
    """Raise MultibaseError unless ``point`` is a compressed SEC1 point on the curve."""
    _, length, _, _ = _CODECS[key_type]
    if len(point) != length or point[0] not in (2, 3):
        raise MultibaseError(
            f"{key_type} public key must be a {length}-byte compressed point, got "
            f"{len(point)} bytes" + ("" if not point else f" starting 0x{point[0]:02x}")
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(_EC_CURVES[key_type], point)
    except ValueError as exc:
        raise MultibaseError(f"not a point on {key_type}") from exc


def encode_public_multikey(key_type: KeyType, raw: bytes) -> str:
    """``publicKeyMultibase`` of a key: ``z6Mk...`` / ``zDn...`` / ``z82...``."""
    header, length, _, _ = _CODECS[key_type]
    if len(raw) != length:
        raise MultibaseError(f"{key_type} public key must be {length} bytes, got {len(raw)}")
    return encode_base58btc(header + raw)


def decode_public_multikey(value: str) -> PublicKeyMaterial:
    """The key a ``publicKeyMultibase`` holds; any other multicodec is an error (§2.1.1).

    EC points are checked to lie on their curve; Ed25519 points are checked by the caller
    (libsodium's check lives next to did:key).
    """
    if not isinstance(value, str):
        raise MultibaseError(f"not a base58btc multibase value: {value!r}")
    return _decode_public_multikey(value)


@functools.lru_cache(maxsize=4096)
def _decode_public_multikey(value: str) -> PublicKeyMaterial:
    # Cached (successes only): base58 and the curve-point check cost about 0.2 ms, and a
    # verifier reads the same issuer keys again and again.
    raw = decode_base58btc(value)
    for key_type, (header, length, _, _) in _CODECS.items():
        if raw[:2] == header:
            body = raw[2:]
            if len(body) != length:
                raise MultibaseError(
                    f"{key_type} public key must be {length} bytes, got {len(body)}"
                )
            if key_type != "Ed25519":
                check_ec_point(key_type, body)
            return PublicKeyMaterial(key_type, body)
    raise MultibaseError(
        f"unsupported public key multicodec 0x{raw[:2].hex()} (supported: Ed25519 0xed01, "
        "P-256 0x8024, P-384 0x8124)"
    )


def encode_secret_multikey(key_type: KeyType, secret: bytes) -> str:
    """``secretKeyMultibase``: Ed25519 seed (``z3u2...``), P-256 (``z42...``) or P-384
    (``z2f...``) big-endian scalar."""
    _, _, header, length = _CODECS[key_type]
    if len(secret) != length:
        raise MultibaseError(f"{key_type} secret key must be {length} bytes, got {len(secret)}")
    return encode_base58btc(header + secret)


def secret_key_type(raw: bytes) -> KeyType | None:
    """The key type a decoded secret-key multicodec header names, or None."""
    for key_type, (_, _, header, _) in _CODECS.items():
        if raw[:2] == header:
            return key_type
    return None


# Edwards -> Montgomery: u = (1 + y) / (1 - y) mod p. Written here because PyNaCl's
# crypto_sign_ed25519_pk_to_curve25519 rejects some keys the did:key vectors use; plain
# integer arithmetic is exact and fast enough for one conversion per resolution.
_P = 2**255 - 19


def ed25519_to_x25519_public(key: bytes) -> bytes:
    if len(key) != 32:
        raise MultibaseError("Ed25519 public key must be 32 bytes")
    y = int.from_bytes(key, "little") & ((1 << 255) - 1)
    if y >= _P:
        raise MultibaseError("Ed25519 public key is not a field element")
    denom = (1 - y) % _P
    if denom == 0:
        raise MultibaseError("Ed25519 public key has no Montgomery form")
    u = ((1 + y) * pow(denom, _P - 2, _P)) % _P
    return u.to_bytes(32, "little")
