"""CLI edge of the HTTP service: ``vc-issuer serve`` and ``vc-issuer tokens``."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from vc_issuer.cli.main import _emit, allow_private_hosts_option, handle_errors
from vc_issuer.cli.profile import UNNAMED_HINT, ProfileFields, apply_profile, profile_options
from vc_issuer.core.credentials import format_datetime
from vc_issuer.errors import (
    NotFoundError,
    TokenNotFoundError,
)
from vc_issuer.services.home import HomeConfig, default_home, init_home, load_home, secure_home
from vc_issuer.store import TokenRecord, open_store

log = logging.getLogger("vc_issuer.cli.serve")

HOME_HELP = "Issuer home folder (default $VC_ISSUER_HOME or ./vc-issuer-data)."
_HOME_OPTION = click.option("--home", type=click.Path(file_okay=False), help=HOME_HELP)
"""``--home`` of serve and tokens: a plain path, the default home found by ``_home_path``."""


def _home_path(home: str | None) -> Path:
    return Path(home) if home else default_home()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def token_json(record: TokenRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "scopes": list(record.scopes),
        "createdAt": _iso(record.created_at),
        "expiresAt": _iso(record.expires_at),
        "revokedAt": _iso(record.revoked_at),
        "active": record.is_active(),
    }


async def _new_token(
    cfg: HomeConfig, name: str, scopes: list[str], expires_at: datetime | None
) -> tuple[str, TokenRecord]:
    from vc_issuer.http.auth import create_token

    async with open_store(cfg.database_url) as store:
        return await create_token(store, name, scopes, expires_at)


async def _has_active_token(cfg: HomeConfig) -> bool:
    async with open_store(cfg.database_url) as store:
        return any(record.is_active() for record in await store.list_tokens())


def token_hint(home: str | None) -> str:
    """What to run for an admin token, for a home that has none (made by ``init``, or every
    token revoked): serve prints the token only when it creates the home itself."""
    where = f" --home {home}" if home else ""
    return f"admin token: none yet; create one with: vc-issuer tokens create{where} --scope admin"


def _default_base_url(scheme: str, host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if shown == "::":
        shown = "::1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}"


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def follow_port(configured: str, scheme: str, port: int) -> str | None:
    """The base URL for serving a home on another ``--port`` than its configured one, when that
    is a local address (``init``'s default ``http://127.0.0.1:8080``): the same host on the new
    port, so printed and served links work. None keeps the configured URL: a public one is
    never rewritten, nor one whose port is unknown until bound (``--port 0``)."""
    parts = urlsplit(configured)
    if port == 0 or parts.hostname not in LOCAL_HOSTS or parts.path.strip("/"):
        return None
    if parts.port == port and parts.scheme == scheme:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{port}"


def register(main: click.Group) -> None:
    """Add ``serve`` and ``tokens`` to the main CLI group."""

    @main.command("serve")
    @_HOME_OPTION
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
    @click.option(
        "--port",
        default=8080,
        show_default=True,
        type=int,
        help="Port (0: any free). A home whose base URL is local is served on this port.",
    )
    @click.option("--base-url", help="Public URL of this server (status-list URLs use it).")
    @click.option("--tls-cert", type=click.Path(dir_okay=False), help="PEM certificate chain.")
    @click.option("--tls-key", type=click.Path(dir_okay=False), help="PEM private key.")
    @click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
    @click.option("--no-auth", is_flag=True, help="No tokens needed (loopback only; testing).")
    @allow_private_hosts_option(
        "Let the verifier fetch DID documents and status lists from private addresses."
    )
    @click.option(
        "--database-url",
        help="postgresql:// URL for a new home's store (default: SQLite in the home).",
    )
    @click.option(
        "--shutdown-timeout",
        default=30.0,
        show_default=True,
        type=float,
        help="Seconds a stop waits for requests in flight.",
    )
    @click.option(
        "--rate-limit",
        type=float,
        help="Requests per second per client on anonymous routes (nonce, token, claim"
        " pages, exchanges); 0 turns the limit off. Default: [limits] rate, or 10.",
    )
    @click.option(
        "--rate-burst",
        type=int,
        help="Requests a client may send at once before the rate applies (default 60).",
    )
    @click.option(
        "--trust-forwarded-for",
        "trust_forwarded",
        is_flag=True,
        default=None,
        help="Behind a proxy: rate-limit by the last X-Forwarded-For address.",
    )
    @click.option(
        "--purge-interval",
        type=float,
        help="Seconds between purges of expired nonces, offers and exchanges (default 300).",
    )
    @profile_options
    @handle_errors
    def serve_cmd(
        home: str | None,
        no_auth: bool,
        allow_private_hosts: bool,
        database_url: str | None,
        profile: ProfileFields,
        **settings: Any,
    ) -> None:
        """Run the VC API server (creates a did:key issuer home on first run).

        The profile flags (--name, --website, --logo, ...) set the issuer profile
        before the server starts, for a new home or an existing one.
        """
        from vc_issuer.http.server import ServeOptions, check_options, configure_logging, run

        path = _home_path(home).resolve()
        # ``settings``: the flags whose parameter names are ServeOptions fields (--host,
        # --port, --trust-forwarded-for as trust_forwarded, ...), passed on as given.
        opts = ServeOptions(
            home=str(path), auth=not no_auth, allow_private=allow_private_hosts, **settings
        )
        check_options(opts)
        configure_logging(opts.log_level)  # what follows on stderr is JSON lines, like the log
        profile.check()
        created = not (path / "config.toml").exists()
        admin: list[tuple[str, TokenRecord]] = []
        if created:
            if opts.port == 0 and not opts.base_url:
                raise click.UsageError("a new home needs --base-url when --port is 0")

            def first_token(staged: HomeConfig) -> None:
                """The admin token and the profile, made in the staged home: no home without
                its token, nor with half a profile."""
                if opts.auth:
                    admin.append(asyncio.run(_new_token(staged, "admin", ["admin"], None)))
                if profile:
                    apply_profile(staged, profile)

            init_home(
                path,
                base_url=opts.base_url or _default_base_url(opts.scheme, opts.host, opts.port),
                database_url=database_url,
                issuer_name=profile.name,
                prepare=first_token,
            )
            log.info("created issuer home %s", path, extra={"event": "home.created"})
        cfg = load_home(path)
        for changed in secure_home(cfg):
            log.warning(
                "%s was readable by other users; it is now 0600",
                changed,
                extra={"event": "home.secured"},
            )
        if profile and not created:
            apply_profile(cfg, profile)
            cfg = load_home(path)
        if profile:
            log.info("issuer profile set", extra={"event": "profile.updated"})
        elif created:
            log.warning(UNNAMED_HINT, extra={"event": "profile.unnamed"})
        moved = None if opts.base_url else follow_port(cfg.base_url, opts.scheme, opts.port)
        if moved is not None:
            opts = dataclasses.replace(opts, base_url=moved)
            log.info(
                "serving with base URL %s: config.toml's local %s, on the port asked for",
                moved,
                cfg.base_url,
                extra={"event": "base_url.port"},
            )
        elif opts.base_url and opts.base_url.rstrip("/") != cfg.base_url:
            log.warning(
                "serving with base URL %s (config.toml says %s); new status-list URLs use the"
                " former",
                opts.base_url,
                cfg.base_url,
            )
        click.echo(f"issuer DID: {cfg.did}")
        click.echo(f"base URL: {(opts.base_url or cfg.base_url).rstrip('/')}")
        for token, record in admin:
            click.echo(f"admin token (shown once, keep it safe): {token}")
            log.info(
                "admin token %s created; more with `vc-issuer tokens create`",
                record.id,
                extra={"event": "token.created"},
            )
        if not admin and opts.auth and not asyncio.run(_has_active_token(cfg)):
            click.echo(token_hint(home))
        if no_auth:
            log.warning("--no-auth: anybody reaching this address can issue and revoke")

        def ready(bound_host: str, bound_port: int) -> None:
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            click.echo(f"listening on {opts.scheme}://{shown}:{bound_port}")

        raise SystemExit(run(opts, on_ready=ready))

    @main.group("tokens")
    def tokens() -> None:
        """API bearer tokens (stored hashed; shown once at creation)."""

    @tokens.command("create")
    @_HOME_OPTION
    @click.option(
        "--scope",
        "scopes",
        multiple=True,
        required=True,
        help="issue, status, read or admin (repeat, or comma separated).",
    )
    @click.option("--expires", help="Lifetime (30d, 12h, 2w) or ISO 8601 date-time; default never.")
    @click.option("--name", default="token", show_default=True, help="A label for the token.")
    @handle_errors
    def tokens_create(
        home: str | None, scopes: tuple[str, ...], expires: str | None, name: str
    ) -> None:
        """Create a token and print it once."""
        from vc_issuer.http.auth import parse_expiry, parse_scopes

        cfg = load_home(_home_path(home))
        expires_at = parse_expiry(expires)
        token, record = asyncio.run(_new_token(cfg, name, parse_scopes(scopes), expires_at))
        click.echo("the token is shown once; store it now", err=True)
        _emit({**token_json(record), "token": token})

    @tokens.command("list")
    @_HOME_OPTION
    @handle_errors
    def tokens_list(home: str | None) -> None:
        """List tokens (ids, names, scopes, state; never the tokens)."""
        cfg = load_home(_home_path(home))

        async def go() -> list[TokenRecord]:
            async with open_store(cfg.database_url) as store:
                return await store.list_tokens()

        _emit([token_json(r) for r in asyncio.run(go())])

    @tokens.command("revoke")
    @click.argument("token_id", metavar="ID")
    @_HOME_OPTION
    @handle_errors
    def tokens_revoke(token_id: str, home: str | None) -> None:
        """Revoke token ID (takes effect on the next request, in every process)."""
        cfg = load_home(_home_path(home))

        async def go() -> bool:
            async with open_store(cfg.database_url) as store:
                return await store.revoke_token(token_id)

        try:
            revoked = asyncio.run(go())
        except NotFoundError:
            raise TokenNotFoundError(f"no token {token_id!r}") from None
        _emit({"id": token_id, "revoked": True, "alreadyRevoked": not revoked})


__all__ = ["register", "token_json"]
