"""Verification as the CLI does it: read the input, build the one HTTP client and hand it to
DID resolution, status checking and the one entry point (badges.verify.verify_input).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from did_methods.fetch import SafeFetcher
from did_methods.registry import Resolver
from vc_issuer.badges.verify import verify_input
from vc_issuer.services.home import default_home, load_home
from vc_issuer.services.status_check import StatusListChecker, credential_verifier
from vc_issuer.services.verifier import VerificationResult, VerifyOptions

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
    options: VerifyOptions,
    *,
    check_status: bool = True,
    trusted_origins: Sequence[str] = (),
) -> VerificationResult:
    """Any format (JSON, JWT, baked PNG/SVG, the URL of a hosted OB 2.0 assertion); input that
    cannot be read raises; a bad credential gives ``verified: false`` with the failed checks.

    ``options`` says what to check; this adds the network parts. ``trusted_origins`` (see
    :func:`home_origins`) may be reached on private addresses; any other private address is
    refused with a message naming ``--allow-private-hosts``.
    """
    # The edge builds the one HTTP client; DID resolution and status checking receive it.
    private = options.allow_private_hosts
    fetcher = SafeFetcher(
        allow_private=private, allow_origins=trusted_origins, refusal_hint=PRIVATE_HOSTS_HINT
    )
    resolver = Resolver(fetcher=fetcher)
    checker = (
        StatusListChecker(
            fetcher=fetcher,
            verify_list=credential_verifier(resolver, loader=options.loader, allow_private=private),
            allow_private=private,
        )
        if check_status
        else None
    )
    try:
        return await verify_input(
            data, replace(options, resolver=resolver, status_checker=checker, fetcher=fetcher)
        )
    finally:
        if checker is not None:
            await checker.close()
        await resolver.close()
        await fetcher.close()
