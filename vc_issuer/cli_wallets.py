"""CLI for wallet hand-over: ``vc-issuer exchanges create CREDENTIAL_ID``.

Prints the links a learner needs (stdout: plain lines, or JSON with ``--json``) and a QR code of
the interaction URL on stderr, so scripts can capture the links while a person scans the screen.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from vc_issuer.cli import _emit, handle_errors
from vc_issuer.exchanges import ExchangeLinks, ExchangeService, parse_ttl, qr_terminal
from vc_issuer.home import ENV_HOME, load_home
from vc_issuer.issuer import Issuer


@click.group("exchanges")
def exchanges_group() -> None:
    """Hand credentials to wallets (VC API exchanges, Learner Credential Wallet)."""


@exchanges_group.command("create")
@click.argument("credential_id")
@click.option(
    "--home",
    "home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=ENV_HOME,
    default=None,
    help=f"Issuer home folder (default ${ENV_HOME} or ./vc-issuer-data).",
)
@click.option("--ttl", default="15m", show_default=True, help="Lifetime: 90s, 15m, 2h, 3d.")
@click.option("--json", "as_json", is_flag=True, help="Print the links as JSON.")
@click.option("--no-qr", is_flag=True, help="Do not draw the QR code on stderr.")
@handle_errors
def create_cmd(credential_id: str, home: Path | None, ttl: str, as_json: bool, no_qr: bool) -> None:
    """Open a single-use exchange that delivers CREDENTIAL_ID to a learner's wallet.

    The wallet receives a copy bound to its own DID; the stored award is kept as it is.
    The server (vc-issuer serve) must be reachable at the home's base URL.
    """
    life = parse_ttl(ttl)

    async def go() -> ExchangeLinks:
        issuer = await Issuer.from_home(load_home(home))
        try:
            _, links = await ExchangeService(issuer).create(credential_id=credential_id, ttl=life)
            return links
        finally:
            await issuer.close()

    links = asyncio.run(go())
    if as_json:
        _emit(links.to_dict())
    else:
        click.echo(f"interaction URL: {links.interaction_url}")
        click.echo(f"deep link:       {links.deep_link}")
        click.echo(f"exchange URL:    {links.exchange_url}")
        click.echo(f"QR code (SVG):   {links.qr_svg_url}")
        click.echo(f"expires:         {links.to_dict()['expires']}")
    if not no_qr:
        click.echo("Scan with the Learner Credential Wallet:", err=True)
        click.echo(qr_terminal(links.interaction_url), err=True, nl=False)


def register(main: click.Group) -> None:
    """Add ``exchanges`` to the main CLI group."""
    main.add_command(exchanges_group)


__all__ = ["register"]
