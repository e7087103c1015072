"""The three ways an award is handed to a wallet (claim links, VC API exchanges, OpenID4VCI
offers) take it the same way: one lookup of the stored award and one deliverability check
(``IssuerService.stored_award`` / ``check_deliverable``), on a real home and SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from vc_issuer.badges.claims import ClaimService
from vc_issuer.errors import (
    CredentialNotDeliverableError,
    CredentialRequestDeniedError,
    MalformedInputError,
    NotFoundError,
)
from vc_issuer.services.home import load_home, open_issuer
from vc_issuer.services.issuer import Issuer
from vc_issuer.wallets.exchanges import ExchangeService
from vc_issuer.wallets.oid4vci import OID4VCIService

Start = Callable[[Issuer, Any], Awaitable[object]]

STARTS: dict[str, Start] = {
    "claim link": lambda issuer, cid: ClaimService(issuer).create(cid),
    "exchange": lambda issuer, cid: ExchangeService(issuer).create(credential_id=cid),
    "offer": lambda issuer, cid: OID4VCIService(issuer).create_offer(cid),
}


@pytest.fixture
async def issuer(home: str) -> AsyncIterator[Issuer]:
    opened = await open_issuer(load_home(Path(home)))
    try:
        yield opened
    finally:
        await opened.close()


# (An exchange without a credentialId is one of a template: no None case for it.)
BAD_IDS = [
    (name, bad)
    for name in STARTS
    for bad in ("", 5, None)
    if not (name == "exchange" and bad is None)
]


@pytest.mark.parametrize(("name", "credential_id"), BAD_IDS)
async def test_a_credential_id_that_is_no_string_is_refused_alike(
    issuer: Issuer, name: str, credential_id: Any
) -> None:
    with pytest.raises(MalformedInputError) as caught:
        await STARTS[name](issuer, credential_id)
    assert caught.value.code == "MALFORMED_VALUE_ERROR"
    assert caught.value.extra == {"field": "credentialId"}


@pytest.mark.parametrize("start", STARTS.values(), ids=list(STARTS))
async def test_an_award_not_issued_here_is_not_found_alike(issuer: Issuer, start: Start) -> None:
    with pytest.raises(NotFoundError) as caught:
        await start(issuer, "urn:uuid:00000000-0000-4000-8000-000000000000")
    assert caught.value.code == "NOT_FOUND"
    assert "was issued here" in caught.value.detail


async def test_a_revoked_award_is_not_delivered_by_any_way(issuer: Issuer, award_id: str) -> None:
    claims = ClaimService(issuer)
    claim = await claims.create(award_id)
    await issuer.revoke(award_id)

    for refused in (
        claims.wallet_links(claim.token),
        ExchangeService(issuer).create(credential_id=award_id),
    ):
        with pytest.raises(CredentialNotDeliverableError) as caught:
            await refused
        assert caught.value.code == "CREDENTIAL_NOT_DELIVERABLE"
        assert caught.value.detail.startswith("the issuer revoked this credential")

    # OpenID4VCI answers in its own OAuth error, naming what was done.
    with pytest.raises(CredentialRequestDeniedError) as denied:
        await OID4VCIService(issuer).create_offer(award_id)
    assert denied.value.code == "credential_request_denied"
    assert denied.value.detail == "the offered credential is revoked"


async def test_a_suspended_award_is_named_suspended(issuer: Issuer, award_id: str) -> None:
    await issuer.suspend(award_id)
    service = ExchangeService(issuer)
    assert await service.withdrawn(award_id) == ["suspended"]
    await issuer.reinstate(award_id)
    assert await service.withdrawn(award_id) == []
    _, links = await service.create(credential_id=award_id)
    assert links.exchange_url.startswith(issuer.base_url + "/exchanges/")
