"""Ed25519 signing keys: generation, import of the encodings met in the wild, and key files.

Key material is held as the 32-byte RFC 8032 seed; every other form (64-byte libsodium secret,
Multikey, legacy ``zrv...``, DCC identity-multihash seed, hex) is an import format. Key files are
Multikey JSON written with mode 0600, optionally with the seed encrypted under a passphrase
(Argon2id + XSalsa20-Poly1305 SecretBox, both from libsodium via PyNaCl).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.signing
import nacl.utils

from did_methods.multikey import (
    ED25519_PRIV,
    MultibaseError,
    decode_base58btc,
    decode_ed25519_public,
    encode_ed25519_public,
    encode_ed25519_secret,
)
from vc_issuer.errors import (
    InvalidKeyError,
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


@dataclass(frozen=True)
class Ed25519Key:
    """An Ed25519 key pair; ``id``/``controller`` override the did:key verification method."""

    seed: bytes = field(repr=False)
    public_key: bytes
    id: str | None = None
    controller: str | None = None
    _signer: nacl.signing.SigningKey = field(
        init=False,
        repr=False,
        compare=False,
        hash=False,
        default=None,  # type: ignore[assignment]
    )

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

    def sign(self, data: bytes) -> bytes:
        """Pure Ed25519 (RFC 8032) signature over ``data``: 64 bytes."""
        return bytes(self._signer.sign(data).signature)

    @property
    def public_key_multibase(self) -> str:
        return encode_ed25519_public(self.public_key)

    @property
    def secret_key_multibase(self) -> str:
        return encode_ed25519_secret(self.seed)

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


def parse_key(obj: Mapping[str, Any] | str, passphrase: bytes | None = None) -> Ed25519Key:
    """Import a key from any supported encoding; a stated public key must match the secret.

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

    key = Ed25519Key.from_seed(seed)
    # id/controller are kept only when they differ from the did:key defaults.
    key_id, controller = _opt_str(obj, "id"), _opt_str(obj, "controller")
    if key_id not in (None, key.verification_method) or controller not in (None, key.did):
        key = Ed25519Key(
            seed=key.seed,
            public_key=key.public_key,
            id=None if key_id == key.verification_method else key_id,
            controller=None if controller == key.did else controller,
        )
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


def key_file_json(key: Ed25519Key, passphrase: bytes | None = None) -> dict[str, Any]:
    """The key file document: Multikey JSON, with the seed encrypted when a passphrase is given."""
    doc = key.to_multikey_json(include_secret=passphrase is None)
    if passphrase is not None:
        doc["encryptedSecretKey"] = encrypt_seed(key.seed, passphrase)
    return doc


def save_key_file(
    key: Ed25519Key,
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
    return parse_key(obj, passphrase)
