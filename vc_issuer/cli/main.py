"""The click CLI: a thin edge over the library.

JSON goes to stdout, messages to stderr. Exit codes: 0 ok, 1 not verified, 2 bad input or
usage, 3 environment (network, file system). Every ``VCIssuerError`` carries its own exit code.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from vc_issuer import __version__
from vc_issuer.core.jsonparse import DocumentLimits, parse_json_text
from vc_issuer.core.purposes import ASSERTION_METHOD, AUTHENTICATION
from vc_issuer.errors import (
    EXIT_BAD_INPUT,
    EXIT_ENVIRONMENT,
    InputFileNotFoundError,
    InternalError,
    MalformedInputError,
    OutputExistsError,
    VCIssuerError,
)
from vc_issuer.services.home import ENV_HOME

F = TypeVar("F", bound=Callable[..., Any])

MAX_INPUT_BYTES = 8 * 1024 * 1024
CLI_LIMITS = DocumentLimits(max_bytes=MAX_INPUT_BYTES)
"""The server's JSON limits, with a file cap instead of the body cap."""


def _emit(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: F) -> F:
    """Turn library errors into one stderr line and the error's own exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VCIssuerError as exc:
            _fail(f"{exc.cli_code}: {exc.detail}", exc.exit_code)
        except OSError as exc:
            name = getattr(exc, "filename", None)
            _fail(f"{name}: {exc.strerror}" if name else str(exc.strerror or exc), EXIT_ENVIRONMENT)
        return None

    return wrapper  # type: ignore[return-value]


def read_input(source: str) -> bytes:
    """Read a file, or stdin for ``-``, with a size cap."""
    if source == "-":
        data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    else:
        path = Path(source)
        try:
            with path.open("rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
        except FileNotFoundError:
            raise InputFileNotFoundError(f"file not found: {source}") from None
        except IsADirectoryError:
            raise MalformedInputError(f"{source} is a directory") from None
    if len(data) > MAX_INPUT_BYTES:
        raise MalformedInputError(f"{source}: input larger than {MAX_INPUT_BYTES} bytes")
    return data


def read_json_object(source: str) -> dict[str, Any]:
    """A JSON object from a file or stdin: the one JSON parser of the library and the CLI
    (``parse_json_document``), so every command refuses bad or deep JSON the same way."""
    from vc_issuer.core.credentials import parse_json_document

    data = read_input(source)
    try:
        return parse_json_document(data, CLI_LIMITS)
    except VCIssuerError as exc:
        raise naming_source(source, exc) from None


def naming_source(source: str, exc: VCIssuerError) -> VCIssuerError:
    """The same error, naming the file (or stdin) instead of "input": one wording for every
    command, ``credential.json is not JSON: Expecting value (line 1, column 1)``."""
    name = "stdin" if source == "-" else source
    detail = exc.detail
    detail = f"{name} {detail[6:]}" if detail.startswith("input ") else f"{name}: {detail}"
    return type(exc)(detail, **exc.extra)


def _passphrase(env_var: str | None) -> bytes | None:
    if not env_var:
        return None
    value = os.environ.get(env_var)
    if value is None:
        raise MalformedInputError(f"environment variable {env_var} is not set")
    return value.encode("utf-8")


SIGN_SUITES = (
    "eddsa-rdfc-2022",
    "eddsa-jcs-2022",
    "Ed25519Signature2020",
    "ecdsa-rdfc-2019",
    "ecdsa-jcs-2019",
    "ecdsa-sd-2023",
)


def format_option(help: str) -> Callable[[F], F]:
    """``--format ldp|jwt`` (sign, issue, award): an embedded proof or a JWS."""
    return click.option(
        "--format",
        "secured_as",
        type=click.Choice(["ldp", "jwt"]),
        default="ldp",
        show_default=True,
        help=help,
    )


def allow_private_hosts_option(help: str) -> Callable[[F], F]:
    """``--allow-private-hosts`` with a command's own help: what it then fetches from private
    and loopback addresses (did resolve, verify, serve)."""
    return click.option("--allow-private-hosts", is_flag=True, help=help)


def home_option_with(help: str, *, from_env: bool = True) -> Callable[[F], F]:
    """``--home`` with a command's own help: what the home gives that command. ``from_env``:
    $VC_ISSUER_HOME fills it when absent (keys generate and verify take no default home)."""
    return click.option(
        "--home",
        "home",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=ENV_HOME if from_env else None,
        default=None,
        help=help,
    )


home_option = home_option_with(f"Issuer home folder (default ${ENV_HOME} or ./vc-issuer-data).")


_CONTEXT_DIR = click.option(
    "--context-dir",
    "context_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True),
    help="Extra folder of pinned JSON-LD contexts (with an index.json); repeatable.",
)


def _loader(context_dirs: tuple[str, ...]) -> Any:
    """The strict loader: pinned contexts plus the folders the user names."""
    if not context_dirs:
        return None
    from vc_issuer.core.jsonld import ContextLoader

    return ContextLoader([Path(d) for d in context_dirs])


class _Group(click.Group):
    """The root group, with the CLI's catch-all: an unexpected exception (a bug) becomes one
    ``INTERNAL_ERROR`` line and exit 3, never a traceback, unless ``--debug`` is given."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except VCIssuerError as exc:
            _fail(f"{exc.cli_code}: {exc.detail}", exc.exit_code)
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            _fail(
                f"{InternalError.cli_code}: unexpected {type(exc).__name__}: {str(exc)[:200]}"
                " (this is a bug; rerun with vc-issuer --debug for the traceback)",
                InternalError.exit_code,
            )
        return None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vc-issuer")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def main(debug: bool) -> None:
    """Issue and verify W3C Verifiable Credentials and Open Badges 3.0."""


# --- keys ---


@main.group()
def keys() -> None:
    """Signing keys: Ed25519, P-256, P-384 (Multikey JSON files, mode 0600)."""


@keys.command("generate")
@click.option(
    "--type",
    "key_type",
    default="ed25519",
    show_default=True,
    metavar="ed25519|p256|p384",
    help="Key type: Ed25519 (eddsa-*, EdDSA JWTs), P-256 (ecdsa-*, ES256), P-384 (ES384).",
)
@home_option_with(
    "Add the key to this issuer home (did:web only): its file, the DID document and"
    " config.toml; prints its verification method.",
    from_env=False,
)
@click.option("--seed", help="32-byte seed/secret as hex (deterministic key; not with --home).")
@click.option("--out", type=click.Path(dir_okay=False), help="Key file to write (mode 0600).")
@click.option(
    "--passphrase-env", metavar="VAR", help="Encrypt the key with the passphrase in $VAR."
)
@click.option("--force", is_flag=True, help="Overwrite an existing key file.")
@handle_errors
def keys_generate(
    key_type: str,
    home: Path | None,
    seed: str | None,
    out: str | None,
    passphrase_env: str | None,
    force: bool,
) -> None:
    """Generate a key: add it to an issuer home (--home), write it to a file (--out), or
    print it; then print its did:key (or the home's method id)."""
    from vc_issuer.core.keyring import generate_key
    from vc_issuer.core.keyring import key_type as parse_key_type
    from vc_issuer.core.keys import Ed25519Key, P256Key, P384Key, SigningKey, save_key_file

    kind = parse_key_type(key_type)
    passphrase = _passphrase(passphrase_env)
    if home is not None:
        if seed is not None or out is not None or force:
            raise MalformedInputError("--home makes a new key in the home: no --seed/--out/--force")
        from vc_issuer.services.home import add_key, load_home

        cfg = load_home(home)
        added = add_key(cfg, kind, passphrase=passphrase)
        click.echo(
            f"added a {added.key_type} key to {cfg.home}; publish the updated"
            f" {cfg.did_document_file.name} (vc-issuer serve does) and restart the servers",
            err=True,
        )
        _emit({"did": cfg.did, "verificationMethod": added.verification_method,
               "keyType": added.key_type})  # fmt: skip
        return
    key: SigningKey
    if seed is not None:
        try:
            raw = bytes.fromhex(seed)
        except ValueError:
            raise MalformedInputError("--seed must be hexadecimal") from None
        if kind == "Ed25519":
            if len(raw) != 32:
                raise MalformedInputError(f"--seed must be 32 bytes, got {len(raw)}")
            key = Ed25519Key.from_seed(raw)
        else:
            key = (P256Key if kind == "P-256" else P384Key).from_secret(raw)
    else:
        key = generate_key(kind)
    if out:
        if Path(out).exists() and not force:
            raise OutputExistsError(f"{out} exists; use --force to overwrite")
        save_key_file(key, Path(out), passphrase=passphrase, overwrite=force)
        click.echo(f"wrote {out}", err=True)
    else:
        if passphrase is not None:
            raise MalformedInputError("--passphrase-env needs --out")
        click.echo("warning: no --out given; the secret key is printed", err=True)
        _emit(key.to_multikey_json())
    _emit({"did": key.did, "verificationMethod": key.verification_method})


@keys.command("list")
@home_option
@handle_errors
def keys_list(home: Path | None) -> None:
    """List the issuer home's keys (type, verification method, file); the primary one first."""
    from vc_issuer.services.home import list_keys, load_home

    cfg = load_home(home)
    _emit({"did": cfg.did, "keys": [k.to_json() for k in list_keys(cfg)]})


# --- DIDs ---


@main.group()
def did() -> None:
    """Resolve DIDs."""


@did.command("resolve")
@click.argument("did_value", metavar="DID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["multikey", "ed25519-2020"]),
    default="multikey",
    show_default=True,
    help="Key representation for did:key documents.",
)
@allow_private_hosts_option("Allow did:web on private/loopback hosts.")
@handle_errors
def did_resolve(did_value: str, fmt: str, allow_private_hosts: bool) -> None:
    """Print the DID document of DID."""
    from did_methods.fetch import SafeFetcher
    from did_methods.registry import Resolver
    from vc_issuer.core.resolver import resolve_did

    async def run() -> dict[str, Any]:
        fetcher = SafeFetcher(
            allow_private=allow_private_hosts,
            refusal_hint="vc-issuer did resolve --allow-private-hosts allows it",
        )
        resolver = Resolver(fetcher=fetcher, key_format=fmt)  # type: ignore[arg-type]
        try:
            return await resolve_did(resolver, did_value)
        finally:
            await resolver.close()
            await fetcher.close()

    _emit(asyncio.run(run()))


# --- sign and verify ---


@main.command("sign")
@click.argument("document", metavar="DOCUMENT")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False), help="Key file.")
@click.option(
    "--suite",
    type=click.Choice(SIGN_SUITES),
    help="Data Integrity cryptosuite of the proof (it must take the key's type); default"
    " eddsa-rdfc-2022 for an Ed25519 key, ecdsa-rdfc-2019 for P-256 and P-384.",
)
@click.option("--created", help="Proof creation time (ISO 8601); default now.")
@click.option(
    "--purpose",
    type=click.Choice([ASSERTION_METHOD, AUTHENTICATION]),
    default=ASSERTION_METHOD,
    show_default=True,
    help="Proof purpose: assertionMethod for credentials, authentication for presentations.",
)
@click.option("--challenge", help="Challenge the verifier gave (presentations; in the proof).")
@click.option("--domain", help="Domain the proof is meant for (presentations; in the proof).")
@click.option("--passphrase-env", metavar="VAR", help="Passphrase of an encrypted key file.")
@format_option(
    "ldp: add a Data Integrity proof. jwt: print a compact JWS (EdDSA, ES256 or ES384 as "
    "the key's type says, kid = the key's verification method): VC 2.0 as "
    "application/vc+jwt, VC 1.1 as a VC-JWT (vc claim)."
)
@_CONTEXT_DIR
@handle_errors
def sign_cmd(
    document: str,
    key_file: str,
    suite: str | None,
    created: str | None,
    purpose: str,
    challenge: str | None,
    domain: str | None,
    passphrase_env: str | None,
    secured_as: str,
    context_dirs: tuple[str, ...],
) -> None:
    """Add a Data Integrity proof to DOCUMENT (a file, or - for stdin) and print it, or with
    --format jwt print it secured as a JWT."""
    from vc_issuer.core.keyring import DEFAULT_SUITES
    from vc_issuer.core.keys import load_signing_key_file
    from vc_issuer.core.proofs import sign

    doc = read_json_object(document)
    key = load_signing_key_file(Path(key_file), passphrase=_passphrase(passphrase_env))
    types = doc.get("type")
    if "issuer" not in doc and "VerifiableCredential" in (
        types if isinstance(types, list) else [types]
    ):
        # As `vc-issuer issue` does with the home's DID: the signer is the issuer.
        doc["issuer"] = key.did
        click.echo(f"note: {document} names no issuer; signing as issuer {key.did}", err=True)
    if secured_as == "jwt":
        if suite is not None:
            raise MalformedInputError("--suite applies to --format ldp; a JWT's alg is the key's")
        _sign_jwt(doc, key, created, purpose, challenge, domain)
        return
    # A string is validated by sign() and kept exactly (fractional seconds included).
    signed = sign(
        doc,
        key,
        suite=suite or DEFAULT_SUITES[key.key_type],
        purpose=purpose,
        created=created,
        challenge=challenge,
        domain=domain,
        loader=_loader(context_dirs),
    )
    _emit(signed)


def _sign_jwt(
    doc: dict[str, Any],
    key: Any,
    created: str | None,
    purpose: str,
    challenge: str | None,
    domain: str | None,
) -> None:
    """``sign --format jwt``: a credential as a JWS; ``--created`` becomes ``iat``."""
    from datetime import UTC, datetime

    from vc_issuer.core.credentials import parse_xml_datetime, validate_credential
    from vc_issuer.core.jose import sign_credential_jwt

    if purpose != ASSERTION_METHOD or challenge is not None or domain is not None:
        raise MalformedInputError(
            "--format jwt secures credentials (assertionMethod); --purpose, --challenge and "
            "--domain apply to Data Integrity proofs"
        )
    validate_credential(doc)
    issued = parse_xml_datetime(created, "--created") if created else datetime.now(UTC)
    click.echo(sign_credential_jwt(doc, key, issued_at=issued))


@main.command("verify")
@click.argument("file", metavar="FILE")
@click.option("--challenge", help="Challenge the presentation's proof must carry.")
@click.option("--domain", help="Domain the presentation's proof must carry.")
@allow_private_hosts_option(
    "Allow private/loopback hosts (did:web, status lists, OB 2.0 documents)."
)
@click.option("--no-status", is_flag=True, help="Do not check credentialStatus.")
@click.option(
    "--recipient-email",
    metavar="ADDRESS",
    help="Also check that the badge was awarded to ADDRESS (salted identity hash).",
)
@click.option(
    "--jwks",
    "jwks_file",
    type=click.Path(dir_okay=False),
    help="JWK Set (or array of verification methods) of keys you trust for JWTs.",
)
@home_option_with(
    "Issuer home folder (default $VC_ISSUER_HOME or ./vc-issuer-data, if there): its base"
    " URL (status lists, did:web) is trusted on a private address.",
    from_env=False,
)
@_CONTEXT_DIR
@handle_errors
def verify_cmd(
    file: str,
    challenge: str | None,
    domain: str | None,
    allow_private_hosts: bool,
    no_status: bool,
    recipient_email: str | None,
    jwks_file: str | None,
    home: Path | None,
    context_dirs: tuple[str, ...],
) -> None:
    """Verify FILE (or - for stdin, or an https:// URL) and print the report.

    Every format: a credential or presentation with a Data Integrity proof, a VC-JWT or VC 2.0
    JOSE token, a baked PNG/SVG badge (Open Badges 3.0 or 2.0), an Open Badges 2.0 hosted
    assertion (its JSON or its URL) or signed assertion (its JWS).

    Badges of one's own local server verify without --allow-private-hosts: the base URL of
    the issuer home (--home) may be reached on a loopback or private address.
    """
    from vc_issuer.cli.verify import home_origins, verify_document
    from vc_issuer.services.verifier import VerifyOptions

    is_url = file.startswith(("https://", "http://")) and not Path(file).exists()
    data: bytes | str = file if is_url else read_input(file)
    options = VerifyOptions(
        challenge=challenge,
        domain=domain,
        allow_private_hosts=allow_private_hosts,
        loader=_loader(context_dirs),
        recipient_email=recipient_email,
        trusted_keys=_trusted_keys(jwks_file),
    )
    trusted_origins = home_origins(home)
    try:
        result = asyncio.run(
            verify_document(
                data, options, check_status=not no_status, trusted_origins=trusted_origins
            )
        )
    except MalformedInputError as exc:  # unreadable input; a bad credential is a report
        raise naming_source(file, exc) from None
    _emit(result.to_dict())
    if not result.verified:
        sys.exit(result.exit_code())


def _trusted_keys(path: str | None) -> list[dict[str, Any]]:
    """``--jwks``: ``{"keys": [...]}``, a list of JWKs / verification methods, or one of them."""
    if path is None:
        return []
    data = read_input(path)
    try:
        value = parse_json_text(data, CLI_LIMITS)
    except VCIssuerError as exc:
        raise naming_source(path, exc) from None
    if isinstance(value, dict) and isinstance(value.get("keys"), list):
        value = value["keys"]
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        raise MalformedInputError(f"{path} must hold JWKs or verification methods")
    return items


def _register_extensions() -> None:
    """Command groups that live in their own modules (issuer home, server)."""
    import importlib

    for name in (
        "vc_issuer.cli.issuer",
        "vc_issuer.cli.serve",
        "vc_issuer.cli.badges",
        "vc_issuer.cli.awards",
        "vc_issuer.cli.wallets",
        "vc_issuer.cli.email",
        "vc_issuer.cli.profile",
        "vc_issuer.cli.certificate",
    ):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(main)


_register_extensions()


def run() -> None:
    """Entry point that also maps click usage errors to exit code 2."""
    main(standalone_mode=True)


__all__ = ["EXIT_BAD_INPUT", "main", "read_json_object"]
