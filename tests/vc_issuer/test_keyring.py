"""Which of an issuer's keys signs which suite and JWT alg (vc_issuer.core.keyring; pure)."""

from __future__ import annotations

import pytest

from vc_issuer.core.keyring import Keyring, key_type
from vc_issuer.core.keys import Ed25519Key, P256Key, P384Key, SigningKey
from vc_issuer.errors import (
    InvalidKeyError,
    MalformedInputError,
    NoKeyForSuiteError,
    SuiteKeyMismatchError,
    UnsupportedKeyTypeError,
)

DID = "did:web:issuer.example"


def ring(*kinds: type[Ed25519Key] | type[P256Key] | type[P384Key]) -> Keyring:
    keys: list[SigningKey] = [
        cls.generate(id=f"{DID}#key-{i}", controller=DID) for i, cls in enumerate(kinds, 1)
    ]
    return Keyring.of(keys, DID)


def fragment(key: SigningKey) -> str:
    return key.verification_method.partition("#")[2]


def test_each_suite_takes_the_key_of_its_type() -> None:
    r = ring(P384Key, Ed25519Key, P256Key)
    assert r.primary.key_type == "P-384"
    picks = {s: fragment(r.for_suite(s)) for s in (
        "eddsa-rdfc-2022", "eddsa-jcs-2022", "Ed25519Signature2020",
        "ecdsa-rdfc-2019", "ecdsa-jcs-2019", "ecdsa-sd-2023")}  # fmt: skip
    assert picks == {
        "eddsa-rdfc-2022": "key-2",
        "eddsa-jcs-2022": "key-2",
        "Ed25519Signature2020": "key-2",
        "ecdsa-rdfc-2019": "key-3",  # P-256 before P-384, whatever the order of the keys
        "ecdsa-jcs-2019": "key-3",
        "ecdsa-sd-2023": "key-3",
    }
    assert fragment(r.for_suite("ecdsa-rdfc-2019", "p384")) == "key-1"
    assert fragment(r.for_suite("ecdsa-jcs-2019", "#key-1")) == "key-1"
    assert fragment(r.for_suite("ecdsa-jcs-2019", f"{DID}#key-1")) == "key-1"
    with pytest.raises(SuiteKeyMismatchError):
        r.for_suite("ecdsa-sd-2023", "p384")  # ecdsa-sd-2023 is P-256 only


def test_jwt_alg_names_the_key_and_ed25519_is_the_default() -> None:
    r = ring(P256Key, P384Key, Ed25519Key)
    assert r.for_jwt().key_type == "Ed25519"
    assert [r.for_jwt(alg).key_type for alg in ("EdDSA", "ES256", "ES384")] == [
        "Ed25519", "P-256", "P-384"
    ]  # fmt: skip
    assert r.jwt_algs == ["EdDSA", "ES256", "ES384"]
    assert ring(P384Key, P256Key).for_jwt().key_type == "P-384"  # no Ed25519: the primary
    assert ring(P384Key, P256Key).jwt_algs == ["ES384", "ES256"]
    with pytest.raises(SuiteKeyMismatchError):
        r.for_jwt("ES256", "p384")
    with pytest.raises(MalformedInputError):
        r.for_jwt("RS256")


def test_missing_keys_say_how_to_add_one() -> None:
    r = ring(Ed25519Key)
    with pytest.raises(NoKeyForSuiteError) as caught:
        r.for_suite("ecdsa-rdfc-2019")
    assert "`vc-issuer keys generate --type p256`" in caught.value.detail
    with pytest.raises(NoKeyForSuiteError) as caught:
        r.for_jwt("ES384")
    assert "--type p384" in caught.value.detail
    with pytest.raises(NoKeyForSuiteError):
        ring(P384Key).for_suite("ecdsa-sd-2023")
    with pytest.raises(NoKeyForSuiteError):
        r.named("p256")
    with pytest.raises(MalformedInputError):
        r.named("key-9")
    solo = P256Key.generate()
    with pytest.raises(NoKeyForSuiteError) as caught:
        Keyring.of([solo], solo.did).for_suite("eddsa-rdfc-2022")
    assert "did:web" in caught.value.detail


def test_a_keyring_holds_one_key_per_type_and_did_key_one_key() -> None:
    with pytest.raises(InvalidKeyError):
        ring(P256Key, P256Key)
    solo = Ed25519Key.generate()
    with pytest.raises(InvalidKeyError):
        Keyring.of([solo, P256Key.generate()], solo.did)
    with pytest.raises(InvalidKeyError):
        Keyring.of([], DID)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ed25519", "Ed25519"), ("P-256", "P-256"), ("p256", "P-256"), ("p384", "P-384")],
)
def test_key_type_names(name: str, expected: str) -> None:
    assert key_type(name) == expected


@pytest.mark.parametrize("name", ["rsa", "secp256k1", "p521", ""])
def test_unsupported_key_types(name: str) -> None:
    with pytest.raises(UnsupportedKeyTypeError) as caught:
        key_type(name)
    assert caught.value.code == "UNSUPPORTED_KEY_TYPE"
