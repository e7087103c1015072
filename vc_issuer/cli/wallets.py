"""CLI for wallet hand-over: ``vc-issuer exchanges create CREDENTIAL_ID``, ``vc-issuer claims
create|revoke`` (personal claim links) and ``vc-issuer offers create`` (OpenID4VCI offers).

Prints the links a learner needs (stdout: plain lines, or JSON with ``--json``) and a QR code of
the interaction URL on stderr, so scripts can capture the links while a person scans the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from vc_issuer.badges.claims import ClaimService, claim_summary, parse_claim_ttl
from vc_issuer.cli.issuer import _run
from vc_issuer.cli.main import _emit, handle_errors, home_option
from vc_issuer.wallets.exchanges import ExchangeService, parse_ttl, qr_terminal
from vc_issuer.wallets.oid4vci import OID4VCIService

F = TypeVar("F", bound=Callable[..., Any])


def _shown(what: str) -> Callable[[F], F]:
    """``--json`` (print ``what`` as JSON) and ``--no-qr``: how each hand-over is shown."""

    def decorate(fn: F) -> F:
        fn = click.option("--no-qr", is_flag=True, help="Do not draw the QR code on stderr.")(fn)
        return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")(fn)

    return decorate


def _show(
    data: dict[str, Any],
    lines: list[tuple[str, str]],
    qr: tuple[str, str],
    *,
    as_json: bool,
    no_qr: bool,
) -> None:
    """``data`` as JSON, or the labelled ``lines`` on stdout; then, unless ``no_qr``, the QR
    code of ``qr`` (a caption, a URL) on stderr, so a script keeps stdout while a person scans."""
    if as_json:
        _emit(data)
    else:
        width = max(len(label) for label, _ in lines) + 1
        for label, value in lines:
            click.echo(f"{label + ':':<{width}} {value}")
    if not no_qr:
        caption, url = qr
        click.echo(caption, err=True)
        click.echo(qr_terminal(url), err=True, nl=False)


@click.group("exchanges")
def exchanges_group() -> None:
    """Hand credentials to wallets (VC API exchanges, Learner Credential Wallet)."""


@exchanges_group.command("create")
@click.argument("credential_id")
@home_option
@click.option("--ttl", default="15m", show_default=True, help="Lifetime: 90s, 15m, 2h, 3d.")
@_shown("the links")
@handle_errors
def create_cmd(credential_id: str, home: Path | None, ttl: str, as_json: bool, no_qr: bool) -> None:
    """Open a single-use exchange that delivers CREDENTIAL_ID to a learner's wallet.

    The wallet receives a copy bound to its own DID; the stored award is kept as it is.
    The server (vc-issuer serve) must be reachable at the home's base URL.
    """
    life = parse_ttl(ttl)

    _, links = _run(
        home, lambda issuer: ExchangeService(issuer).create(credential_id=credential_id, ttl=life)
    )
    data = links.to_dict()
    lines = [
        ("interaction URL", links.interaction_url),
        ("deep link", links.deep_link),
        ("exchange URL", links.exchange_url),
        ("QR code (SVG)", links.qr_svg_url),
        ("expires", data["expires"]),
    ]
    qr = ("Scan with the Learner Credential Wallet:", links.interaction_url)
    _show(data, lines, qr, as_json=as_json, no_qr=no_qr)


@click.group("claims")
def claims_group() -> None:
    """Personal claim links (/claim/...) to send to learners."""


@claims_group.command("create")
@click.argument("credential_id")
@home_option
@click.option("--expires", default="30d", show_default=True, help="Lifetime: 30d, 2w, 12h.")
@_shown("the claim")
@handle_errors
def claims_create_cmd(
    credential_id: str, home: Path | None, expires: str, as_json: bool, no_qr: bool
) -> None:
    """Make a personal claim link for CREDENTIAL_ID and print it (QR code on stderr).

    Send the link to the learner only: each visit opens fresh single-use wallet hand-overs.
    """
    ttl = parse_claim_ttl(expires)
    claim = _run(home, lambda issuer: ClaimService(issuer).create(credential_id, ttl=ttl))
    data = claim.to_dict()
    lines = [("claim link", claim.url), ("id", claim.id), ("expires", data["expires"])]
    _show(data, lines, ("The learner's claim link:", claim.url), as_json=as_json, no_qr=no_qr)


@claims_group.command("revoke")
@click.argument("claim_id")
@home_option
@handle_errors
def claims_revoke_cmd(claim_id: str, home: Path | None) -> None:
    """Withdraw the claim link CLAIM_ID (prints the claim as JSON)."""
    record = _run(home, lambda issuer: ClaimService(issuer).revoke(claim_id))
    _emit(claim_summary(record))


@claims_group.command("list")
@click.argument("credential_id", required=False)
@home_option
@handle_errors
def claims_list_cmd(credential_id: str | None, home: Path | None) -> None:
    """List claim links (newest first), of one credential if given. Tokens are not stored."""
    records = _run(home, lambda issuer: ClaimService(issuer).list(credential_id, limit=1000))
    _emit([claim_summary(r) for r in records])


@click.group("offers")
def offers_group() -> None:
    """OpenID4VCI credential offers (LearnCard, walt.id, Sphereon wallets)."""


@offers_group.command("create")
@click.argument("credential_id")
@home_option
@click.option("--tx-code", is_flag=True, help="Require a PIN (printed; send it separately).")
@_shown("the offer")
@handle_errors
def offers_create_cmd(
    credential_id: str, home: Path | None, tx_code: bool, as_json: bool, no_qr: bool
) -> None:
    """Make a single-use OpenID4VCI pre-authorized offer for CREDENTIAL_ID.

    Prints the openid-credential-offer:// URI (by reference) and a QR code of it on stderr.
    The server (vc-issuer serve) must be reachable at the home's base URL.
    """
    offer = _run(
        home, lambda issuer: OID4VCIService(issuer).create_offer(credential_id, tx_code=tx_code)
    )
    data = offer.to_dict()
    lines = [("offer URI", offer.offer_ref_uri), ("offer URL", offer.offer_url)]
    if offer.tx_code is not None:
        lines.append(("PIN", f"{offer.tx_code} (send it on another channel)"))
    lines.append(("expires", data["expires"]))
    qr = ("Scan with an OpenID4VCI wallet:", offer.offer_ref_uri)
    _show(data, lines, qr, as_json=as_json, no_qr=no_qr)


def register(main: click.Group) -> None:
    """Add ``exchanges``, ``claims`` and ``offers`` to the main CLI group."""
    main.add_command(exchanges_group)
    main.add_command(claims_group)
    main.add_command(offers_group)


__all__ = ["register"]
