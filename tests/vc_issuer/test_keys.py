"""Keys: every encoding met in the wild imports to the same key; key files are 0600 and can be
encrypted with a passphrase."""

from __future__ import annotations

import base64
import json
import os
import pickle
import stat
from pathlib import Path
from typing import Any

import base58
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vc_issuer.core.keys import (
    EcdsaKey,
    Ed25519Key,
    P256Key,
    P384Key,
    load_key_file,
    load_signing_key_file,
    parse_key,
    parse_signing_key,
    save_key_file,
    verify_signature,
)
from vc_issuer.errors import (
    InvalidKeyError,
    KeyDecryptionError,
    KeyFileError,
    PassphraseRequiredError,
)

from ._helpers import FIX

W3C_DID = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"


def load(rel: str) -> Any:
    return json.loads((FIX / rel).read_text("utf-8"))


def test_w3c_keypair_privatekeymultibase_seed_form() -> None:
    pair = load("vc-di-eddsa/keyPair.json")
    key = parse_key(pair)
    assert key.public_key_multibase == pair["publicKeyMultibase"]
    assert key.secret_key_multibase == pair["privateKeyMultibase"]
    assert key.did == W3C_DID
    assert key.verification_method == f"{W3C_DID}#{pair['publicKeyMultibase']}"


def test_w3c_multikey_pairs() -> None:
    for pair in load("vc-di-eddsa/proof-set-chain/multiKeyPairs.json").values():
        key = parse_key(pair)
        assert key.public_key_multibase == pair["publicKeyMultibase"]
        assert key.secret_key_multibase.startswith("z3u2")


def test_generated_interop_issuer_key() -> None:
    obj = load("generated-interop/issuer-key.json")
    key = parse_key(obj)
    assert key.did == obj["did"]
    assert key.verification_method == obj["verificationMethod"]


def test_1edtech_legacy_64_byte_secret_and_hex_forms() -> None:
    obj = load("open-badges-3.0/ldp-eddsa-rdfc-2022/key-pair.json")
    key = parse_key(obj)
    assert key.public_key.hex() == obj["publicKeyHex"]
    assert key.seed.hex() == obj["privateKeyHex"][:64]
    # the id/controller in the file are kept: they name the issuer's https key
    assert key.verification_method == obj["id"]
    assert key.controller == obj["controller"]
    # the same key from the hex form alone
    hex_only = parse_key(
        {"privateKeyHex": obj["privateKeyHex"], "publicKeyHex": obj["publicKeyHex"]}
    )
    assert hex_only.public_key == key.public_key
    assert hex_only.verification_method == "did:key:{0}#{0}".format(obj["publicKeyMultibase"])


def test_digitalbazaar_mock_privatekeymultibase_64_byte_form() -> None:
    obj = load("vc-di-eddsa/keys/ed25519signature2020-mock-key.json")
    key = parse_key(obj)
    assert key.public_key_multibase == obj["publicKeyMultibase"]


def test_dcc_identity_multihash_seed() -> None:
    obj = load("vc-di-eddsa/keys/dcc-signing-service-seed-example.json")
    assert parse_key({"seed": obj["seed"]}).did == obj["did"]
    assert parse_key(obj["seed"]).did == obj["did"]


def test_did_key_vectors_hex_seeds() -> None:
    for did, vector in load("vc-di-eddsa/keys/ed25519-x25519.json").items():
        seed = vector["seed"]
        assert parse_key({"seedHex": seed}).did == did
        assert parse_key(seed).did == did
        assert parse_key({"seed": seed}).did == did
        assert Ed25519Key.from_seed(bytes.fromhex(seed)).did == did


def test_mismatched_public_key_is_refused() -> None:
    pair = load("vc-di-eddsa/keyPair.json")
    other = load("vc-di-eddsa/proof-set-chain/multiKeyPairs.json")["keyPair1"]
    with pytest.raises(InvalidKeyError, match="does not match") as info:
        parse_key({**pair, "publicKeyMultibase": other["publicKeyMultibase"]})
    assert info.value.code == "INVALID_KEY"


def test_legacy_form_with_wrong_embedded_public_key_is_refused() -> None:
    obj = load("open-badges-3.0/ldp-eddsa-rdfc-2022/key-pair.json")
    raw = bytearray(bytes.fromhex(obj["privateKeyHex"]))
    raw[40] ^= 1
    bad = "z" + base58.b58encode(b"\x80\x26" + bytes(raw)).decode()
    with pytest.raises(InvalidKeyError, match="does not match"):
        parse_key({"secretKeyMultibase": bad})
    with pytest.raises(InvalidKeyError, match="does not match"):
        parse_key({"privateKeyHex": bytes(raw).hex()})


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"secretKeyMultibase": "z3u2!!!"}, "invalid base58btc"),
        ({"secretKeyMultibase": "u3u2abc"}, "not a base58btc"),
        (
            {"secretKeyMultibase": "z" + base58.b58encode(b"\x80\x26" + b"\x01" * 31).decode()},
            "32 or 64 key bytes",
        ),
        (
            {"secretKeyMultibase": "z" + base58.b58encode(b"\xed\x01" + b"\x01" * 32).decode()},
            "0x8026",
        ),
        (
            {"seed": "z" + base58.b58encode(b"\x00\x20" + b"\x01" * 31).decode()},
            "identity multihash",
        ),
        ({"seedHex": "abcd"}, "32 bytes"),
        ({"seedHex": "zz" * 32}, "not valid hex"),
        ({"privateKeyHex": "00" * 48}, "32 or 64 bytes"),
        (
            {"publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"},
            "no secret key",
        ),
        ("not a key", "expected a 64-hex seed"),
    ],
)
def test_bad_encodings_raise_invalid_key(obj: Any, message: str) -> None:
    with pytest.raises(InvalidKeyError, match=message) as info:
        parse_key(obj)
    assert info.value.code == "INVALID_KEY"


def test_sign_and_verify_signature() -> None:
    key = Ed25519Key.generate()
    sig = key.sign(b"message")
    assert len(sig) == 64
    assert verify_signature(key.public_key, b"message", sig)
    assert not verify_signature(key.public_key, b"messagf", sig)
    assert not verify_signature(Ed25519Key.generate().public_key, b"message", sig)
    assert not verify_signature(key.public_key, b"message", sig[:63])
    with pytest.raises(InvalidKeyError):
        verify_signature(b"\x01" * 31, b"message", sig)


def test_rfc8032_test_1() -> None:
    # RFC 8032 §7.1 TEST 1 (empty message)
    key = Ed25519Key.from_seed(
        bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    )
    assert key.public_key.hex() == (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    )
    assert key.sign(b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )


def test_key_repr_hides_secret() -> None:
    key = Ed25519Key.generate()
    assert key.seed.hex() not in repr(key)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_every_encoding_round_trips(seed: bytes) -> None:
    key = Ed25519Key.from_seed(seed)
    assert parse_key(key.to_multikey_json()).public_key == key.public_key
    assert parse_key({"privateKeyMultibase": key.secret_key_multibase}).seed == seed
    assert parse_key(seed.hex()).seed == seed
    legacy = "z" + base58.b58encode(b"\x80\x26" + seed + key.public_key).decode()
    assert parse_key({"secretKeyMultibase": legacy}).seed == seed
    dcc = "z" + base58.b58encode(b"\x00\x20" + seed).decode()
    assert parse_key({"seed": dcc}).seed == seed
    assert parse_key({"privateKeyHex": (seed + key.public_key).hex()}).seed == seed


# --- key files -----------------------------------------------------------------------------------


def test_key_file_is_0600_multikey_json(tmp_path: Path) -> None:
    key = Ed25519Key.generate()
    path = tmp_path / "issuer.json"
    old = os.umask(0)  # even with a permissive umask
    try:
        save_key_file(key, path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["type"] == "Multikey"
    assert doc["publicKeyMultibase"] == key.public_key_multibase
    assert doc["secretKeyMultibase"] == key.secret_key_multibase
    assert doc["controller"] == key.did
    assert load_key_file(path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["issuer.json"]  # no temp file left


def test_key_file_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    first = Ed25519Key.generate()
    save_key_file(first, path)
    with pytest.raises(KeyFileError, match="already exists") as info:
        save_key_file(Ed25519Key.generate(), path)
    assert info.value.exit_code == 3
    assert load_key_file(path) == first
    second = Ed25519Key.generate()
    save_key_file(second, path, overwrite=True)
    assert load_key_file(path) == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_w3c_keypair_file_loads_as_is(tmp_path: Path) -> None:
    path = tmp_path / "keyPair.json"
    path.write_bytes((FIX / "vc-di-eddsa/keyPair.json").read_bytes())
    assert load_key_file(path).did == W3C_DID


def test_encrypted_key_file_round_trip(tmp_path: Path) -> None:
    key = Ed25519Key.generate()
    path = tmp_path / "enc.json"
    save_key_file(key, path, passphrase=b"correct horse battery staple")
    text = path.read_text()
    doc = json.loads(text)
    assert "secretKeyMultibase" not in doc
    assert key.secret_key_multibase not in text
    enc = doc["encryptedSecretKey"]
    assert enc["kdf"]["name"] == "argon2id"
    assert enc["cipher"]["name"] == "xsalsa20-poly1305"
    assert doc["publicKeyMultibase"] == key.public_key_multibase
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path, passphrase=b"correct horse battery staple") == key

    with pytest.raises(KeyDecryptionError, match="wrong passphrase") as wrong:
        load_key_file(path, passphrase=b"incorrect")
    assert wrong.value.code == "KEY_DECRYPTION_FAILED"
    with pytest.raises(PassphraseRequiredError, match="passphrase is required") as missing:
        load_key_file(path)
    assert missing.value.code == "PASSPHRASE_REQUIRED"


def test_encrypted_key_with_hostile_kdf_params_is_refused(tmp_path: Path) -> None:
    key = Ed25519Key.generate()
    path = tmp_path / "enc.json"
    save_key_file(key, path, passphrase=b"pw")
    doc = json.loads(path.read_text())
    doc["encryptedSecretKey"]["kdf"]["memlimit"] = 1 << 40
    with pytest.raises(InvalidKeyError, match="memlimit out of range"):
        parse_key(doc, passphrase=b"pw")


def test_key_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        load_key_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidKeyError, match="not JSON"):
        load_key_file(bad)
    with pytest.raises(KeyFileError, match="cannot create"):
        save_key_file(Ed25519Key.generate(), tmp_path / "no" / "dir" / "k.json")


# --- ECDSA P-256 / P-384 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls", "prefix", "size"),
    [("p256KeyPair.json", P256Key, "zDn", 64), ("p384KeyPair.json", P384Key, "z82", 96)],
)
def test_w3c_ecdsa_key_pairs(name: str, cls: type[EcdsaKey], prefix: str, size: int) -> None:
    pair = load(f"vc-di-ecdsa/{name}")
    key = parse_signing_key(pair)
    assert type(key) is cls
    assert key.public_key_multibase == pair["publicKeyMultibase"]
    assert key.public_key_multibase.startswith(prefix)
    assert key.secret_key_multibase == pair["secretKeyMultibase"]
    assert key.did == "did:key:" + pair["publicKeyMultibase"]
    signature = key.sign(b"data")
    assert len(signature) == size
    assert signature == key.sign(b"data")  # RFC 6979: deterministic
    assert key.public().verify(b"data", signature)
    assert not key.public().verify(b"datb", signature)


def test_ecdsa_jwk_import_and_export() -> None:
    key = P256Key.generate()
    jwk = key.to_jwk(include_secret=True)
    assert set(jwk) == {"kty", "crv", "x", "y", "d"}
    assert parse_signing_key(jwk) == key
    assert "d" not in key.to_jwk()
    with pytest.raises(InvalidKeyError, match="does not match"):
        parse_signing_key({**jwk, "x": P256Key.generate().to_jwk()["x"]})
    with pytest.raises(InvalidKeyError, match="no private part"):
        parse_signing_key(key.to_jwk())
    with pytest.raises(InvalidKeyError, match="unsupported JWK"):
        parse_signing_key({**jwk, "crv": "P-521"})
    ed = Ed25519Key.generate()
    d = base64.urlsafe_b64encode(ed.seed).rstrip(b"=").decode()  # RFC 8037: d is the seed
    assert parse_signing_key({"kty": "OKP", "crv": "Ed25519", "d": d}) == ed


@pytest.mark.parametrize("cls", [P256Key, P384Key])
def test_ecdsa_key_files_round_trip(tmp_path: Path, cls: type[EcdsaKey]) -> None:
    key = cls.generate()
    save_key_file(key, tmp_path / "plain.json")
    assert load_signing_key_file(tmp_path / "plain.json") == key
    save_key_file(key, tmp_path / "enc.json", passphrase=b"pw")
    stored = json.loads((tmp_path / "enc.json").read_text())
    assert "secretKeyMultibase" not in stored
    assert load_signing_key_file(tmp_path / "enc.json", passphrase=b"pw") == key
    with pytest.raises(InvalidKeyError, match="not Ed25519"):
        load_key_file(tmp_path / "plain.json")


def test_ecdsa_keys_refuse_bad_material() -> None:
    with pytest.raises(InvalidKeyError, match="32 bytes"):
        P256Key.from_secret(bytes(31))
    with pytest.raises(InvalidKeyError, match="out of range"):
        P256Key.from_secret(bytes(32))
    with pytest.raises(InvalidKeyError, match="does not match"):
        P256Key(secret=P256Key.generate().secret, public_key=P256Key.generate().public_key)
    pair = load("vc-di-ecdsa/p256KeyPair.json")
    with pytest.raises(InvalidKeyError, match="publicKeyMultibase does not match"):
        parse_signing_key({**pair, "publicKeyMultibase": P256Key.generate().public_key_multibase})
    with pytest.raises(InvalidKeyError, match="0x8026"):
        parse_key(pair)  # parse_key takes Ed25519 keys only


def test_ecdsa_key_repr_hides_the_secret() -> None:
    key = P384Key.generate()
    assert key.secret.hex() not in repr(key)
    assert "secret" not in repr(key)


@pytest.mark.parametrize("cls", [Ed25519Key, P256Key])
def test_a_pickled_key_is_rebuilt_once_per_process_and_signs_alike(cls: Any) -> None:
    # Worker processes receive the issuer's key with every signing call.
    key = cls.generate(id="did:example:k#1", controller="did:example:k")
    first, second = pickle.loads(pickle.dumps(key)), pickle.loads(pickle.dumps(key))
    assert first == key and first is second
    assert first.sign(b"data") == key.sign(b"data")  # both suites sign deterministically
    other = cls.generate(id="did:example:k#1", controller="did:example:k")
    assert pickle.loads(pickle.dumps(other)) is not first
