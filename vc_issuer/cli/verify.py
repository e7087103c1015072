"""Verification as the CLI (and later the verify page) does it: parse, pick credential or
presentation, wire the default resolver and status checker, return the report as JSON."""

from __future__ import annotations

from typing import Any

from did_methods.fetch import SafeFetcher
from did_methods.registry import Resolver
from vc_issuer.badges.baking import looks_like_image, unbake
from vc_issuer.core.credentials import is_presentation, parse_json_document
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.services.status_check import StatusListChecker, credential_verifier
from vc_issuer.services.verifier import VerificationResult, verify_credential, verify_presentation


async def verify_document(
    data: bytes | str | dict[str, Any],
    *,
    challenge: str | None = None,
    domain: str | None = None,
    allow_private_hosts: bool = False,
    check_status: bool = True,
    loader: ContextLoader | None = None,
) -> VerificationResult:
    """Bad input (not JSON, not an object) raises; a bad credential gives ``verified: false``.

    A baked badge (PNG or SVG) is unbaked first, so ``vc-issuer verify badge.png`` works.
    """
    if isinstance(data, bytes) and looks_like_image(data):
        data = unbake(data)
    document = data if isinstance(data, dict) else parse_json_document(data)
    # The edge builds the one HTTP client; DID resolution and status checking receive it.
    fetcher = SafeFetcher(allow_private=allow_private_hosts)
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
        if is_presentation(document):
            result = await verify_presentation(
                document,
                challenge=challenge,
                domain=domain,
                resolver=resolver,
                loader=loader,
                status_checker=checker,
                allow_private_hosts=allow_private_hosts,
            )
        else:
            result = await verify_credential(
                document,
                resolver=resolver,
                loader=loader,
                status_checker=checker,
                allow_private_hosts=allow_private_hosts,
            )
    finally:
        if checker is not None:
            await checker.close()
        await resolver.close()
        await fetcher.close()
    return result
