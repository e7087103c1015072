"""The CLI's contract: JSON on stdout, a message on stderr, and the documented exit codes
(0 ok, 1 not verified, 2 bad input or usage, 3 environment) for every kind of bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from vc_issuer.cli.main import main
from vc_issuer.core.keys import Ed25519Key, save_key_file

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
VECTORS = FIXTURES / "vc-di-eddsa"
SEED = bytes.fromhex("9b937b81322d816cfab9d5a3baacc9b2a5febe4b149f126b3630f93a29527017")


def run(args: list[str], stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, args, input=stdin, catch_exceptions=False)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.json"
    save_key_file(Ed25519Key.from_seed(SEED), path)
    return path


def credential(did: str) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
        "type": ["VerifiableCredential"],
        "issuer": did,
        "validFrom": "2023-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:learner", "name": "Ada"},
    }


def sign(key_file: Path, doc: dict[str, Any], *extra: str) -> Result:
    return run(["sign", "--key", str(key_file), *extra, "-"], json.dumps(doc))


def signed(key_file: Path, *extra: str) -> dict[str, Any]:
    result = sign(key_file, credential(Ed25519Key.from_seed(SEED).did), *extra)
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def verify(doc: Any, *extra: str) -> Result:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    return run(["verify", *extra, "-"], text)


def failed_codes(result: Result) -> list[str]:
    report = json.loads(result.stdout)
    return [c["code"] for c in report["checks"] if not c["passed"]]


# --- keys and DIDs ---


def test_keys_generate_from_seed_prints_did_and_writes_0600(tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    result = run(["keys", "generate", "--seed", SEED.hex(), "--out", str(out)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["did"] == Ed25519Key.from_seed(SEED).did
    assert out.stat().st_mode & 0o777 == 0o600
    # refuses to overwrite a key by accident
    again = run(["keys", "generate", "--out", str(out)])
    assert again.exit_code == 2 and "exists" in again.stderr


def test_keys_generate_encrypted_needs_passphrase_to_sign(tmp_path: Path) -> None:
    out = tmp_path / "k.json"
    os.environ["TEST_PASS"] = "correct horse"
    try:
        result = run(
            [
                "keys",
                "generate",
                "--seed",
                SEED.hex(),
                "--out",
                str(out),
                "--passphrase-env",
                "TEST_PASS",
            ]
        )
        assert result.exit_code == 0
        doc = credential(Ed25519Key.from_seed(SEED).did)
        assert sign(out, doc).exit_code == 2  # no passphrase
        ok = sign(out, doc, "--passphrase-env", "TEST_PASS")
        assert ok.exit_code == 0 and "proof" in json.loads(ok.stdout)
    finally:
        del os.environ["TEST_PASS"]


@pytest.mark.parametrize("seed", ["abc", "00" * 31, "zz" * 32])
def test_keys_generate_bad_seed(seed: str) -> None:
    result = run(["keys", "generate", "--seed", seed])
    assert result.exit_code == 2
    assert "seed" in result.stderr


def test_did_resolve_both_formats() -> None:
    did = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    multikey = json.loads(run(["did", "resolve", did]).stdout)
    assert multikey["verificationMethod"][0]["type"] == "Multikey"
    legacy = json.loads(run(["did", "resolve", did, "--format", "ed25519-2020"]).stdout)
    assert legacy["verificationMethod"][0]["type"] == "Ed25519VerificationKey2020"


@pytest.mark.parametrize(
    ("did", "code", "exit_code"),
    [
        ("did:key:zNotBase58!!", "INVALID_DID", 2),
        ("did:key:z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc", "INVALID_DID", 2),
        ("did:example:123", "METHOD_NOT_SUPPORTED", 2),
        ("not-a-did", "INVALID_DID", 2),
        ("did:web:127.0.0.1", "FORBIDDEN_ADDRESS", 3),
    ],
)
def test_did_resolve_errors(did: str, code: str, exit_code: int) -> None:
    result = run(["did", "resolve", did])
    assert result.exit_code == exit_code, result.output
    assert result.stderr.startswith(f"error: {code}: "), result.stderr  # UPPER_SNAKE on the CLI
    assert "Traceback" not in result.output


# --- sign ---


def test_sign_reproduces_w3c_vector_from_keypair_json() -> None:
    unsigned = (VECTORS / "unsigned.json").read_text()
    expected = json.loads((VECTORS / "eddsa-rdfc-2022" / "signedDataInt.json").read_text())
    created = expected["proof"]["created"]
    result = run(
        ["sign", "--key", str(VECTORS / "keyPair.json"), "--created", created, "-"], unsigned
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == expected


def test_sign_ed25519signature2020_vector_adds_suite_context() -> None:
    unsigned = (VECTORS / "unsigned.json").read_text()
    expected = json.loads((VECTORS / "Ed25519Signature2020" / "signedEdSig.json").read_text())
    result = run(
        [
            "sign", "--key", str(VECTORS / "keyPair.json"), "--suite", "Ed25519Signature2020",
            "--created", expected["proof"]["created"], "-",
        ],
        unsigned,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert "https://w3id.org/security/suites/ed25519-2020/v1" in out["@context"]
    assert out["proof"]["proofValue"] == expected["proof"]["proofValue"]


def test_sign_then_verify_roundtrip_and_tamper(key_file: Path) -> None:
    doc = signed(key_file)
    ok = verify(doc)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["verified"] is True
    doc["credentialSubject"]["name"] = "Eve"
    bad = verify(doc)
    assert bad.exit_code == 1
    assert "PROOF_VERIFICATION_ERROR" in failed_codes(bad)


def test_presentation_challenge_and_domain(key_file: Path) -> None:
    did = Ed25519Key.from_seed(SEED).did
    vp = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": did,
    }
    args = ["--purpose", "authentication", "--challenge", "c-123", "--domain", "example.org"]
    result = sign(key_file, vp, *args)
    assert result.exit_code == 0, result.output
    signed_vp = json.loads(result.stdout)
    assert verify(signed_vp, "--challenge", "c-123", "--domain", "example.org").exit_code == 0
    wrong = verify(signed_vp, "--challenge", "other", "--domain", "example.org")
    assert wrong.exit_code == 1
    assert "INVALID_CHALLENGE_ERROR" in json.dumps(json.loads(wrong.stdout))
    wrong_domain = verify(signed_vp, "--challenge", "c-123", "--domain", "evil.example")
    assert wrong_domain.exit_code == 1
    assert "INVALID_DOMAIN_ERROR" in json.dumps(json.loads(wrong_domain.stdout))


# --- bad input: precise code and exit status ---


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("this is not json", "PARSING_ERROR"),
        ("[1, 2]", "MALFORMED_VALUE_ERROR"),
        ('"a string"', "MALFORMED_VALUE_ERROR"),
    ],
)
@pytest.mark.parametrize("command", ["sign", "verify"])
def test_not_a_json_object(command: str, text: str, code: str, key_file: Path) -> None:
    args = ["sign", "--key", str(key_file), "-"] if command == "sign" else ["verify", "-"]
    result = run(args, text)
    assert result.exit_code == 2, result.output
    assert code in (result.stderr + result.stdout)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["sign", "verify"])
def test_deeply_nested_json_is_a_parsing_error(command: str, key_file: Path) -> None:
    """One JSON parser for every command: too deep to parse is JSON_TOO_DEEP, exit 2."""
    text = '{"@context": ' + "[" * 100_000 + "]" * 100_000 + "}"
    args = ["sign", "--key", str(key_file), "-"] if command == "sign" else ["verify", "-"]
    result = run(args, text)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: JSON_TOO_DEEP: ")
    assert result.stderr.rstrip().endswith("stdin nests deeper than 64 levels")
    assert "Traceback" not in result.output


@pytest.fixture
def broken_command() -> Any:
    """A command with a bug in it, to exercise the CLI's catch-all."""

    @main.command("broken-for-test", hidden=True)
    def broken() -> None:
        raise RuntimeError("the bug")

    yield broken
    main.commands.pop("broken-for-test")


def test_unexpected_error_is_internal_error_without_traceback(broken_command: Any) -> None:
    result = CliRunner().invoke(main, ["broken-for-test"])
    assert result.exit_code == 3
    assert result.stderr.startswith("error: INTERNAL_ERROR: unexpected RuntimeError: the bug")
    assert "--debug" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_debug_shows_the_unexpected_error(broken_command: Any) -> None:
    result = CliRunner().invoke(main, ["--debug", "broken-for-test"])
    assert isinstance(result.exception, RuntimeError)
    assert str(result.exception) == "the bug"


def _sign_error(key_file: Path, doc: dict[str, Any]) -> Result:
    result = sign(key_file, doc)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    return result


def test_sign_missing_context(key_file: Path) -> None:
    doc = credential("did:example:x")
    del doc["@context"]
    assert "MALFORMED_VALUE_ERROR" in _sign_error(key_file, doc).stderr


def test_sign_non_array_context(key_file: Path) -> None:
    doc = credential("did:example:x")
    doc["@context"] = 42
    assert "MALFORMED_VALUE_ERROR" in _sign_error(key_file, doc).stderr


def test_sign_unknown_context_names_url(key_file: Path) -> None:
    doc = credential("did:example:x")
    doc["@context"].append("https://evil.example/context.jsonld")
    err = _sign_error(key_file, doc).stderr
    assert "UNKNOWN_CONTEXT" in err and "https://evil.example/context.jsonld" in err


def test_sign_undefined_term_names_it(key_file: Path) -> None:
    doc = credential("did:example:x")
    doc["credentialSubject"]["favouriteColour"] = "blue"
    err = _sign_error(key_file, doc).stderr
    assert "DATA_LOSS_DETECTION_ERROR" in err and "favouriteColour" in err


def test_sign_undefined_type_names_it(key_file: Path) -> None:
    doc = credential("did:example:x")
    doc["type"] = ["VerifiableCredential", "MadeUpCredential"]
    err = _sign_error(key_file, doc).stderr
    assert "DATA_LOSS_DETECTION_ERROR" in err and "MadeUpCredential" in err


def test_sign_poison_graph_refused_quickly(key_file: Path) -> None:
    import time

    # A clique of indistinguishable blank nodes, the shape of rdf-canon test074.
    n = 12
    nodes = [{"id": f"_:b{i}"} for i in range(n)]
    for i, node in enumerate(nodes):
        node["https://example.org/p"] = [{"id": f"_:b{j}"} for j in range(n) if j != i]
    doc = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:x",
        "credentialSubject": {"id": "did:example:s"},
        "@included": nodes,
    }
    start = time.monotonic()
    result = sign(key_file, doc)
    elapsed = time.monotonic() - start
    assert result.exit_code == 2, result.output
    assert "CANONICALIZATION_LIMIT_EXCEEDED" in result.stderr
    assert elapsed < 2.0


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ({"publicKeyMultibase": "z6Mk", "secretKeyMultibase": "xNOTMULTIBASE"}, "INVALID_KEY"),
        ({"secretKeyMultibase": "z3u2en7t5LR2WtQH5PfFqMqwVHBeX"}, "INVALID_KEY"),  # wrong length
        ({"seedHex": "00" * 16}, "INVALID_KEY"),
    ],
)
def test_sign_bad_key_material(tmp_path: Path, key: dict[str, str], code: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(key))
    result = sign(path, credential("did:example:x"))
    assert result.exit_code == 2, result.output
    assert code in result.stderr


def test_sign_missing_key_file_is_environment_error(tmp_path: Path) -> None:
    result = sign(tmp_path / "nope.json", credential("did:example:x"))
    assert result.exit_code == 3
    assert "nope.json" in result.stderr


def test_verify_missing_file_is_environment_error(tmp_path: Path) -> None:
    result = run(["verify", str(tmp_path / "missing.json")])
    assert result.exit_code == 3


@pytest.mark.parametrize(
    "field", ["type", "created", "verificationMethod", "proofPurpose", "proofValue"]
)
def test_verify_proof_missing_field(key_file: Path, field: str) -> None:
    doc = signed(key_file)
    del doc["proof"][field]
    result = verify(doc)
    assert result.exit_code == 1, result.output
    assert "MALFORMED_PROOF_ERROR" in failed_codes(result)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        # ecdsa-rdfc-2019 is supported since issue 11
        pytest.param("cryptosuite", "bbs-2023", "UNSUPPORTED_CRYPTOSUITE", id="wrong-cryptosuite"),
        pytest.param(
            "proofValue", "not-multibase", "MALFORMED_PROOF_ERROR", id="proof-value-not-multibase"
        ),
        pytest.param(
            "verificationMethod",
            "did:example:123#key-1",
            "methodNotSupported",
            id="unsupported-did-method",
        ),
    ],
)
def test_verify_bad_proof_field(key_file: Path, field: str, value: str, code: str) -> None:
    doc = signed(key_file)
    doc["proof"][field] = value
    result = verify(doc)
    assert result.exit_code == 1, result.output
    assert code in failed_codes(result)


def test_verify_wrong_proof_purpose(key_file: Path) -> None:
    doc = signed(key_file, "--purpose", "authentication")
    result = verify(doc)  # a credential needs assertionMethod
    assert result.exit_code == 1
    assert "INVALID_PROOF_PURPOSE" in failed_codes(result)


def test_verify_structure_errors_are_bad_input() -> None:
    doc = credential("did:example:x")
    doc["credentialSubject"] = None
    result = verify(doc)
    assert result.exit_code == 2
    assert "MALFORMED_VALUE_ERROR" in failed_codes(result)


def test_usage_error_exit_2() -> None:
    assert run(["sign", "-"]).exit_code == 2  # --key missing
    assert run(["no-such-command"]).exit_code == 2


# --- baked badges ---


def test_verify_baked_png_and_svg(tmp_path: Path, key_file: Path) -> None:
    from vc_issuer.badges.baking import bake_png, bake_svg, default_badge_png, default_badge_svg

    doc = signed(key_file)
    png = tmp_path / "badge.png"
    png.write_bytes(bake_png(default_badge_png(), doc))
    svg = tmp_path / "badge.svg"
    svg.write_bytes(bake_svg(default_badge_svg("Test"), doc))
    for path in (png, svg):
        result = run(["verify", str(path)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["verified"] is True
    doc["credentialSubject"]["name"] = "Mallory"
    png.write_bytes(bake_png(default_badge_png(), doc))
    tampered = run(["verify", str(png)])
    assert tampered.exit_code == 1
    assert "PROOF_VERIFICATION_ERROR" in failed_codes(tampered)


def test_verify_image_without_credential_is_bad_input(tmp_path: Path) -> None:
    from vc_issuer.badges.baking import default_badge_png

    plain = tmp_path / "plain.png"
    plain.write_bytes(default_badge_png())
    result = run(["verify", str(plain)])
    assert result.exit_code == 2
    assert "NO_BAKED_CREDENTIAL" in result.stderr


def test_context_dir_adds_a_users_pinned_context(tmp_path: Path, key_file: Path) -> None:
    url = "https://contexts.example.edu/course/v1"
    folder = tmp_path / "ctx"
    folder.mkdir()
    ctx = {"@context": {"courseCode": "https://contexts.example.edu/vocab#courseCode"}}
    raw = json.dumps(ctx).encode()
    (folder / "course-v1.jsonld").write_bytes(raw)
    import hashlib

    index = {
        "contexts": {url: {"file": "course-v1.jsonld", "sha256": hashlib.sha256(raw).hexdigest()}}
    }
    (folder / "index.json").write_text(json.dumps(index))
    doc = credential(Ed25519Key.from_seed(SEED).did)
    doc["@context"].append(url)
    doc["credentialSubject"]["courseCode"] = "CS101"
    assert "UNKNOWN_CONTEXT" in sign(key_file, doc).stderr  # not pinned by default
    result = sign(key_file, doc, "--context-dir", str(folder))
    assert result.exit_code == 0, result.output
    signed_doc = result.stdout
    assert verify(signed_doc).exit_code == 1  # the verifier does not know the context either
    assert verify(signed_doc, "--context-dir", str(folder)).exit_code == 0
