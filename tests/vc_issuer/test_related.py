"""relatedResource integrity (VCDM 2.0 §5.3): digest parsing and comparison with held bytes."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import base58
import pytest

from vc_issuer.core.jsonld import contexts_dir
from vc_issuer.core.related import (
    Digest,
    PinnedResources,
    check_related_digests,
    parse_digest_multibase,
    parse_digest_sri,
    pinned_resources,
)
from vc_issuer.errors import ConfigError, MalformedInputError, RelatedResourceDigestError

DATA = b'{"@context": {"ex": "https://example.org/#"}}'
V2 = "https://www.w3.org/ns/credentials/v2"


def sri(alg: str, data: bytes = DATA) -> str:
    return f"{alg}-" + base64.b64encode(hashlib.new(alg, data).digest()).decode()


def multihash(code: int, alg: str, data: bytes = DATA, base: str = "u") -> str:
    raw = bytes([code, hashlib.new(alg).digest_size]) + hashlib.new(alg, data).digest()
    if base == "z":
        return "z" + base58.b58encode(raw).decode()
    return "u" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_sri_expressions() -> None:
    assert parse_digest_sri(sri("sha384")) == [Digest("sha384", hashlib.sha384(DATA).digest())]
    both = parse_digest_sri(f"{sri('sha256')}?ct=application/json  {sri('sha512')}")
    assert [d.algorithm for d in both] == ["sha256", "sha512"]
    assert [d.algorithm for d in parse_digest_sri([sri("sha384"), sri("sha256")])] == [
        "sha384",
        "sha256",
    ]
    for bad, why in (
        ("", "non-empty string"),
        ([], "non-empty string"),
        ("   ", "holds no hash expression"),
        ("sha384_abc", "not an SRI hash expression"),
        ("sha384-" + "_" * 64, "not an SRI hash expression"),  # base64url is not SRI's alphabet
        ("sha1-" + base64.b64encode(b"x" * 20).decode(), "unsupported hash algorithm"),
        ("sha384-" + base64.b64encode(b"x" * 32).decode(), "a sha384 digest has 48 bytes"),
        ("sha256-AAA", "not valid base64"),
    ):
        with pytest.raises(MalformedInputError, match=why):
            parse_digest_sri(bad)


def test_multibase_multihashes() -> None:
    for code, alg in ((0x12, "sha256"), (0x20, "sha384"), (0x13, "sha512")):
        for base in ("u", "z"):
            [digest] = parse_digest_multibase(multihash(code, alg, base=base))
            assert digest == Digest(alg, hashlib.new(alg, DATA).digest())
    bare = "u" + base64.urlsafe_b64encode(hashlib.sha256(DATA).digest()).decode().rstrip("=")
    assert parse_digest_multibase(bare) == [Digest("sha256", hashlib.sha256(DATA).digest())]
    for bad, why in (
        ("u" + base64.urlsafe_b64encode(b"\x12\x20" + b"x" * 31).decode().rstrip("="), "multihash"),
        ("u" + base64.urlsafe_b64encode(b"\x11\x14" + b"x" * 20).decode().rstrip("="), "multihash"),
        ("u!!!", "not valid multibase"),
        ("z0OIl", "not valid multibase"),
        ("f00ff", "use multibase base64url"),
        (5, "non-empty string"),
    ):
        with pytest.raises(MalformedInputError, match=why):
            parse_digest_multibase(bad)


def test_check_related_digests_against_held_bytes() -> None:
    held = {"https://ex.org/held": DATA}.get
    good = {
        "relatedResource": [
            {"id": "https://ex.org/held", "digestSRI": sri("sha384"),
             "digestMultibase": [multihash(0x12, "sha256"), multihash(0x13, "sha512", base="z")]},
            {"id": "https://ex.org/elsewhere", "digestSRI": sri("sha384", b"other")},
        ]
    }  # fmt: skip
    assert check_related_digests(good, held) == ["https://ex.org/elsewhere"]
    assert check_related_digests({}, held) == []
    # every digest given is a claim: one wrong among right ones is a mismatch
    bad = {
        "relatedResource": {
            "id": "https://ex.org/held",
            "digestSRI": f"{sri('sha384')} {sri('sha512', b'tampered')}",
        }
    }
    with pytest.raises(RelatedResourceDigestError) as err:
        check_related_digests(bad, held)
    assert err.value.code == "RELATED_RESOURCE_DIGEST_MISMATCH"
    assert err.value.http_status == 422
    assert err.value.extra == {"id": "https://ex.org/held"}
    assert "sha512 digest does not match" in err.value.detail


def test_pinned_resources_are_the_pinned_context_files(tmp_path: Path) -> None:
    v2 = (contexts_dir() / "credentials-v2.jsonld").read_bytes()
    assert pinned_resources()(V2) == v2
    assert pinned_resources()("https://example.org/not-pinned") is None
    # the digest the VC Data Model 2.0 Recommendation publishes for its context
    assert hashlib.sha256(v2).hexdigest().startswith("59955ced")
    extra = tmp_path / "ctx"
    extra.mkdir()
    (extra / "mine.jsonld").write_bytes(DATA)
    index = {"mine.jsonld": {"file": "mine.jsonld", "sha256": hashlib.sha256(DATA).hexdigest()}}
    (extra / "index.json").write_text(
        json.dumps({"contexts": {"https://ex.org/mine": index["mine.jsonld"]}})
    )
    resources = PinnedResources([extra])
    assert resources("https://ex.org/mine") == DATA and resources(V2) == v2
    (extra / "mine.jsonld").write_bytes(DATA + b" ")
    with pytest.raises(ConfigError, match="does not match its index"):
        PinnedResources([extra])("https://ex.org/mine")
    with pytest.raises(ConfigError, match="cannot read context index"):
        PinnedResources([tmp_path / "missing"])
