"""CLI commands over the issuer home: init, issue, revoke/suspend/reinstate, set-status, lists,
audit.

Registered into the main ``vc-issuer`` group by ``vc_issuer.cli.main``. JSON goes to stdout,
messages
to stderr; every library error ends the process with its own exit code.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from vc_issuer.cli.main import (
    SIGN_SUITES,
    _emit,
    _passphrase,
    format_option,
    handle_errors,
    home_option,
    read_json_object,
)
from vc_issuer.cli.profile import UNNAMED_HINT, ProfileFields, profile_options, update_profile
from vc_issuer.core.credentials import format_datetime
from vc_issuer.errors import HomeExistsError, MalformedInputError
from vc_issuer.services.home import HomeConfig, init_home, load_home, open_issuer
from vc_issuer.services.issuer import ALL_PURPOSES, Issuer
from vc_issuer.store import AuditEntry, CredentialRecord

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


SUITE_CHOICES = (*SIGN_SUITES, "both")


def signing_options(fn: F) -> F:
    """``--suite``, ``--key`` and ``--alg``: how and with which of the home's keys a command
    signs (issue, award)."""
    fn = click.option(
        "--alg",
        type=click.Choice(["EdDSA", "ES256", "ES384"]),
        help="JWT algorithm (--format jwt): EdDSA (Ed25519 key), ES256 (P-256), ES384 (P-384);"
        " default EdDSA when the home has an Ed25519 key.",
    )(fn)
    fn = click.option(
        "--key",
        metavar="ID|TYPE",
        help="The home's key to sign with: its verification method id, its fragment (key-2) or"
        " its type (ed25519, p256, p384); default the key each suite or alg takes.",
    )(fn)
    return click.option(
        "--suite",
        "suites",
        type=click.Choice(SUITE_CHOICES),
        multiple=True,
        help="Proof suite (--format ldp; repeat or use 'both' for a proof set); default from"
        " the config.",
    )(fn)


def _run(home: Path | None, work: Callable[[Issuer], Awaitable[T]], **options: Any) -> T:
    """Open the home's issuer (``options`` go to :func:`open_issuer`), run ``work``, always
    close the store. Shared by every command that takes ``--home``."""

    async def go() -> T:
        issuer = await open_issuer(load_home(home), **options)
        try:
            return await work(issuer)
        finally:
            await issuer.close()

    return asyncio.run(go())


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _record_json(
    record: CredentialRecord, status: dict[str, bool | str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": record.id,
        "subject": record.subject_id,
        "types": record.types,
        "issued": format_datetime(record.issued_at),
        "validFrom": format_datetime(record.valid_from) if record.valid_from else None,
        "validUntil": format_datetime(record.valid_until) if record.valid_until else None,
        "pageId": record.page_id,
    }
    if status is not None:
        out["status"] = status
    return out


def _audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": format_datetime(entry.at),
        "actor": entry.actor,
        "credentialId": entry.credential_id,
        "statusListId": entry.list_id,
        "statusListIndex": str(entry.index),
        "purpose": entry.purpose,
        "old": entry.old,
        "new": entry.new,
        "reason": entry.reason,
    }


def register(main: click.Group) -> None:
    """Add the issuer-home commands to ``main``."""
    for command in (
        init_cmd, issue_cmd, revoke_cmd, suspend_cmd, reinstate_cmd, set_status_cmd, audit_cmd
    ):  # fmt: skip
        main.add_command(command)
    main.add_command(credentials_group)
    main.add_command(status_list_group)


# --- init ----------------------------------------------------------------------------------------


def _hint_other_home(fn: Callable[..., None]) -> Callable[..., None]:
    """HOME_EXISTS says how to make a second issuer next to the first: ``--home``."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            fn(*args, **kwargs)
        except HomeExistsError as exc:
            raise HomeExistsError(
                f"{exc.detail}; to create another issuer, name a new folder with --home DIR",
                **exc.extra,
            ) from None

    return wrapper


@click.command("init")
@home_option
@click.option("--did-web", metavar="HOST[%3APORT][:path]", help="Use did:web instead of did:key.")
@click.option("--base-url", metavar="URL", help="Public URL the status lists are served under.")
@click.option("--database-url", metavar="URL", help="postgresql:// URL (default: embedded SQLite).")
@profile_options
@click.option(
    "--passphrase-env", metavar="VAR", help="Encrypt the key with the passphrase in $VAR."
)
@click.option(
    "--key-type",
    default="ed25519",
    show_default=True,
    metavar="ed25519|p256|p384",
    help="The first key's type; it sets the default suite (eddsa-rdfc-2022, or "
    "ecdsa-rdfc-2019 for p256/p384). Add more keys (did:web) with vc-issuer keys generate.",
)
@handle_errors
@_hint_other_home
def init_cmd(
    home: Path | None,
    did_web: str | None,
    base_url: str | None,
    database_url: str | None,
    profile: ProfileFields,
    passphrase_env: str | None,
    key_type: str,
) -> None:
    """Create an issuer home: config, key (0600), store, DID document for did:web.

    The profile flags (--name, --website, --logo, ...) name the issuer in badges and pages;
    change them later with vc-issuer profile set.
    """
    profile.check()  # bad flags or logo: reported before anything is created

    def create_store(staged: HomeConfig) -> None:
        """The store's tables and the profile, made before the home is moved into place (init
        is atomic: a logo the store refuses leaves no home behind)."""
        from vc_issuer.store import open_store

        async def go() -> None:
            async with open_store(staged.database_url) as store:
                await store.set_meta("issuer_did", staged.did)
                if profile:
                    await update_profile(store, staged, profile)

        asyncio.run(go())

    cfg = init_home(
        home,
        did_web=did_web,
        base_url=base_url,
        database_url=database_url,
        issuer_name=profile.name,
        passphrase=_passphrase(passphrase_env),
        passphrase_env=passphrase_env,
        prepare=create_store,
        key_type=key_type,
    )
    if profile.name is None:
        click.echo(f"note: {UNNAMED_HINT}", err=True)
    out: dict[str, Any] = {
        "did": cfg.did,
        "home": str(cfg.home),
        "baseUrl": cfg.base_url,
        "keyFile": str(cfg.key_file),
        "store": _redact(cfg.database_url),
    }
    if cfg.is_did_web:
        out["didDocument"] = str(cfg.did_document_file)
        click.echo(
            f"host {cfg.did_document_file.name} at the did:web address of {cfg.did}", err=True
        )
    _emit(out)


def _redact(url: str) -> str:
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}" if ":" in creds else url
    return url


# --- issue ---------------------------------------------------------------------------------------


@click.command("issue")
@home_option
@click.argument("credential", metavar="CREDENTIAL")
@click.option(
    "--status/--no-status",
    default=None,
    help="Attach credentialStatus, or none (default: VC 2.0 yes; VC 1.1 as the config says).",
)
@click.option(
    "--status-purpose",
    "purposes",
    type=click.Choice(ALL_PURPOSES),
    multiple=True,
    help="Only these status purposes (e.g. one object for Open Badges 3.0).",
)
@click.option(
    "--idempotency-key", metavar="KEY", help="A retry with the same key issues nothing new."
)
@click.option("--id", "credential_id", metavar="URL", help="Credential id (default urn:uuid:...).")
@format_option(
    "ldp: embedded Data Integrity proof (JSON). jwt: a JWS (VC 2.0 as application/vc+jwt, "
    "VC 1.1 as a VC-JWT), printed as the compact token; EdDSA with the Ed25519 key unless "
    "--alg or --key says otherwise."
)
@signing_options
@handle_errors
def issue_cmd(
    home: Path | None,
    credential: str,
    suites: tuple[str, ...],
    status: bool | None,
    purposes: tuple[str, ...],
    idempotency_key: str | None,
    credential_id: str | None,
    secured_as: str,
    key: str | None,
    alg: str | None,
) -> None:
    """Sign CREDENTIAL (a file, or - for stdin) with status, store it and print it."""
    doc = read_json_object(credential)
    if secured_as == "jwt" and suites:
        raise MalformedInputError("--suite applies to --format ldp only")
    if status is False and purposes:
        raise MalformedInputError("--no-status and --status-purpose exclude each other")
    signed = _run(
        home,
        lambda issuer: issuer.issue(
            doc,
            suites=list(suites) or None,
            status=status,
            status_purposes=list(purposes) or None,
            idempotency_key=idempotency_key,
            credential_id=credential_id,
            secured_as="jwt" if secured_as == "jwt" else "ldp",
            key=key,
            alg=alg,
        ),
        index_reserve=0,  # one issue per process: a reserve of indices would be wasted at exit
    )
    if secured_as == "jwt":
        from vc_issuer.core.jose import enveloped_token

        click.echo(enveloped_token(signed))
    else:
        _emit(signed)


# --- status changes ------------------------------------------------------------------------------


def _status_command(name: str, doc: str) -> click.Command:
    @click.command(name, help=doc)
    @home_option
    @click.argument("credential_id", metavar="CREDENTIAL_ID")
    @click.option("--reason", help="Why (kept in the audit log).")
    @click.option("--actor", help="Who (kept in the audit log; default cli:$USER).")
    @handle_errors
    def command(
        home: Path | None, credential_id: str, reason: str | None, actor: str | None
    ) -> None:
        who = actor or _default_actor()

        async def work(issuer: Issuer) -> dict[str, Any]:
            action = getattr(issuer, name)
            result: dict[str, Any] = await action(credential_id, actor=who, reason=reason)
            return result

        result = _run(home, work)
        if not result["changed"]:
            click.echo(f"{credential_id}: already {_state(name)}; nothing changed", err=True)
        _emit(result)

    return command


def _state(action: str) -> str:
    return {"revoke": "revoked", "suspend": "suspended", "reinstate": "not suspended"}[action]


revoke_cmd = _status_command("revoke", "Revoke CREDENTIAL_ID for good (audited).")
suspend_cmd = _status_command("suspend", "Suspend CREDENTIAL_ID (audited; undo with reinstate).")
reinstate_cmd = _status_command(
    "reinstate", "Lift the suspension of CREDENTIAL_ID (a revoked credential stays revoked)."
)


def _status_value(text: str) -> bool | int:
    """0x2 or 2 for a multi-bit status; true/false (or 1/0) for a one-bit one."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(low, 16) if low.startswith("0x") else int(low, 10)
    except ValueError:
        raise MalformedInputError(
            f"status value {text!r} is not a number (2 or 0x2) or true/false"
        ) from None


@click.command("set-status")
@home_option
@click.argument("credential_id", metavar="CREDENTIAL_ID")
@click.argument("value", metavar="VALUE")
@click.option(
    "--purpose",
    type=click.Choice(ALL_PURPOSES),
    default="message",
    show_default=True,
    help="Which status entry of the credential.",
)
@click.option("--reason", help="Why (kept in the audit log).")
@click.option("--actor", help="Who (kept in the audit log; default cli:$USER).")
@handle_errors
def set_status_cmd(
    home: Path | None,
    credential_id: str,
    value: str,
    purpose: str,
    reason: str | None,
    actor: str | None,
) -> None:
    """Set the status of CREDENTIAL_ID to VALUE (audited; the list is re-published).

    For a multi-bit message status VALUE is the value its statusMessage names (0x2 or 2); for
    revocation and suspension it is true or false.
    """
    number = _status_value(value)
    who = actor or _default_actor()

    async def work(issuer: Issuer) -> dict[str, Any]:
        return await issuer.set_status(credential_id, purpose, number, actor=who, reason=reason)

    result = _run(home, work)
    if not result["changed"]:
        click.echo(f"{credential_id}: {purpose} already {value}; nothing changed", err=True)
    _emit(result)


# --- credentials ---------------------------------------------------------------------------------


@click.group("credentials")
def credentials_group() -> None:
    """Issued credential records."""


@credentials_group.command("list")
@home_option
@click.option(
    "--limit", type=click.IntRange(0, 10_000), default=100, show_default=True, help="At most."
)
@click.option(
    "--offset", type=click.IntRange(0), default=0, show_default=True, help="Skip this many."
)
@click.option("--subject", metavar="ID", help="Only credentials about this subject.")
@handle_errors
def credentials_list(home: Path | None, limit: int, offset: int, subject: str | None) -> None:
    """List issued credentials, newest first."""

    async def work(issuer: Issuer) -> dict[str, Any]:
        records = await issuer.store.list_credentials(limit, offset, subject_id=subject)
        total = await issuer.store.count_credentials()
        return {"total": total, "credentials": [_record_json(r) for r in records]}

    _emit(_run(home, work))


@credentials_group.command("show")
@home_option
@click.argument("credential_id", metavar="CREDENTIAL_ID")
@handle_errors
def credentials_show(home: Path | None, credential_id: str) -> None:
    """Show one issued credential: record, current status, the signed credential."""

    async def work(issuer: Issuer) -> dict[str, Any]:
        record = await issuer.get_record(credential_id)
        out = _record_json(record, await issuer.status_values(credential_id))
        out["credential"] = record.credential
        return out

    _emit(_run(home, work))


# --- status lists --------------------------------------------------------------------------------


@click.group("status-list")
def status_list_group() -> None:
    """Published status lists."""


@status_list_group.command("list")
@home_option
@handle_errors
def status_list_list(home: Path | None) -> None:
    """Every status list: id, URL, kind, purpose, size, counts."""
    _emit(_run(home, lambda issuer: issuer.status_lists()))


def _status_list_command(
    name: str, doc: str, read: Callable[[Issuer, str], Awaitable[Any]]
) -> click.Command:
    """``status-list NAME LIST_ID``: print what ``read`` (an Issuer method) says of the list."""

    @status_list_group.command(name, help=doc)
    @home_option
    @click.argument("list_id", metavar="LIST_ID")
    @handle_errors
    def command(home: Path | None, list_id: str) -> None:
        _emit(_run(home, lambda issuer: read(issuer, list_id)))

    return command


status_list_show = _status_list_command(
    "show", "Size, purpose and counts of LIST_ID.", Issuer.status_list_info
)
status_list_credential = _status_list_command(
    "credential",
    "Print the signed status list credential of LIST_ID (re-signed if bits changed).",
    Issuer.status_list_credential,
)


# --- audit ---------------------------------------------------------------------------------------


@click.command("audit")
@home_option
@click.argument("credential_id", metavar="[CREDENTIAL_ID]", required=False)
@click.option("--list", "list_id", metavar="LIST_ID", help="Only changes of this status list.")
@handle_errors
def audit_cmd(home: Path | None, credential_id: str | None, list_id: str | None) -> None:
    """The audit log of status changes (oldest first)."""

    async def work(issuer: Issuer) -> list[dict[str, Any]]:
        if credential_id is not None:
            await issuer.get_record(credential_id)  # unknown id: NOT_FOUND, not an empty log
        entries = await issuer.store.audit_log(credential_id, list_id=list_id)
        return [_audit_json(e) for e in entries]

    _emit(_run(home, work))
