"""Multibase / multicodec encoding of Ed25519 and X25519 keys (Multikey, did:key)."""

from __future__ import annotations

import base58

ED25519_PUB = b"\xed\x01"
X25519_PUB = b"\xec\x01"
ED25519_PRIV = b"\x80\x26"


class MultibaseError(ValueError):
    """Not a valid multibase/multicodec key encoding."""


def decode_base58btc(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z") or len(value) < 2:
        raise MultibaseError(f"not a base58btc multibase value: {value!r}")
    try:
        return bytes(base58.b58decode(value[1:]))
    except ValueError as exc:
        raise MultibaseError(f"invalid base58btc in {value!r}") from exc


def encode_base58btc(data: bytes) -> str:
    return "z" + base58.b58encode(data).decode("ascii")


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
