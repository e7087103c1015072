"""Verification as the CLI does it: read the input, build the one HTTP client and hand it to
DID resolution, status checking and the one entry point (badges.verify.verify_input).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from did_methods.fetch import SafeFetcher
from did_methods.registry import Resolver
from vc_issuer.badges.verify import verify_input
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.services.home import default_home, load_home
from vc_issuer.services.status_check import StatusListChecker, credential_verifier
from vc_issuer.services.verifier import VerificationResult

PRIVATE_HOSTS_HINT = "vc-issuer verify --allow-private-hosts allows it"


def home_origins(home: Path | None) -> tuple[str, ...]:
    """The base URL of the issuer home ``home`` (default: $VC_ISSUER_HOME or ./vc-issuer-data,
    when one is there): one's own server, whose status lists and did:web document may be
    fetched from a private or loopback address without ``--allow-private-hosts``.

    A home named explicitly must exist; the default one is used only if present.
    """
    if home is None:
        home = default_home()
        if not (home / "config.toml").is_file():
            return ()
    return (load_home(home).base_url,)


async def verify_document(
    data: bytes | str | dict[str, Any],
    *,
    challenge: str | None = None,
    domain: str | None = None,
    allow_private_hosts: bool = False,
    check_status: bool = True,
    loader: ContextLoader | None = None,
    recipient_email: str | None = None,
    trusted_keys: Sequence[Mapping[str, Any]] = (),
    trusted_origins: Sequence[str] = (),
) -> VerificationResult:
    """Any format (JSON, JWT, baked PNG/SVG, the URL of a hosted OB 2.0 assertion); input that
    cannot be read raises; a bad credential gives ``verified: false`` with the failed checks.

    ``trusted_origins`` (see :func:`home_origins`) may be reached on private addresses; any
    other private address is refused with a message naming ``--allow-private-hosts``.
    """
    # The edge builds the one HTTP client; DID resolution and status checking receive it.
    fetcher = SafeFetcher(
        allow_private=allow_private_hosts,
        allow_origins=trusted_origins,
        refusal_hint=PRIVATE_HOSTS_HINT,
    )
    resolver = Resolver(fetcher=fetcher)
    checker = (
        StatusListChecker(
            fetcher=fetcher,
            verify_list=credential_verifier(
                resolver, loader=loader, allow_private=allow_private_hosts
            ),
            allow_private=allow_private_hosts,
        )
        if check_status
        else None
    )
    try:
        return await verify_input(
            data,
            challenge=challenge,
            domain=domain,
            resolver=resolver,
            loader=loader,
            status_checker=checker,
            allow_private_hosts=allow_private_hosts,
            fetcher=fetcher,
            recipient_email=recipient_email,
            trusted_keys=trusted_keys,
        )
    finally:
        if checker is not None:
            await checker.close()
        await resolver.close()
        await fetcher.close()
