"""The camelCase JSON view helper the dataclasses' ``to_dict`` methods share."""

from __future__ import annotations

from dataclasses import dataclass

from vc_issuer.services.jsonview import camel_case, camel_fields


@dataclass(frozen=True)
class _Offer:
    offer_id: str
    offer_uri: str
    tx_code: str | None = None


def test_camel_case() -> None:
    assert camel_case("credential_id") == "credentialId"
    assert camel_case("qr_svg_url") == "qrSvgUrl"
    assert camel_case("purpose") == "purpose"


def test_camel_fields_keeps_order_and_qualifies_with_a_prefix() -> None:
    offer = _Offer("o1", "openid-credential-offer://x")
    assert list(camel_fields(offer, "offer_uri", "offer_id")) == ["offerUri", "offerId"]
    assert camel_fields(offer, "offer_uri", prefix="credential") == {
        "credentialOfferUri": "openid-credential-offer://x"
    }


def test_camel_fields_drops_none_only_when_asked() -> None:
    offer = _Offer("o1", "u")
    assert camel_fields(offer, "tx_code") == {"txCode": None}
    assert camel_fields(offer, "tx_code", drop_none=True) == {}
    assert camel_fields(_Offer("o1", "u", "1234"), "tx_code", drop_none=True) == {"txCode": "1234"}
