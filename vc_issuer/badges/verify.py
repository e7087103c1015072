"""One entry point for every badge and credential format an employer may receive.

``verify_input`` takes what a person has: JSON text or an object, a compact JWS, a baked PNG or
SVG, or the URL of a hosted Open Badges 2.0 assertion, and routes it:

- Open Badges 2.0 (hosted JSON or URL, signed JWS, baked ``openbadges`` image) -> badges.ob2;
- everything else (Data Integrity, VC-JWT, VC 2.0 JOSE, enveloped credentials, presentations,
  OB 3.0 baked images) -> the verifier's own format dispatch (services.verifier.verify).

With ``recipient_email`` it also answers "was this awarded to this address?" from the salted
identity hash (badges.recipient), as one more check in the same report.

The CLI (``vc-issuer verify``), ``POST /credentials/verify`` and the ``/verify`` page all call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from did_methods import errors as did_errors
from did_methods.fetch import SafeFetcher
from vc_issuer.badges import ob2
from vc_issuer.badges.baking import baked_payload, looks_like_image
from vc_issuer.badges.recipient import check_recipient
from vc_issuer.core import jose
from vc_issuer.core.credentials import parse_json_document
from vc_issuer.errors import (
    FetchFailedError,
    ForbiddenAddressError,
    ParsingError,
    VCIssuerError,
)
from vc_issuer.services.issuer_keys import Fetcher
from vc_issuer.services.verifier import (
    JWT_MEDIA_TYPES,
    Check,
    Recorder,
    VerificationResult,
    VerifyOptions,
    input_text,
    verify,
)

#: What a URL given to the verifier may serve: a credential (JSON or JWS) or a badge image.
URL_ACCEPT = (
    "application/vc+ld+json, application/ld+json, application/json, application/vc+jwt,"
    " application/jwt;q=0.9, image/png, image/svg+xml;q=0.8, text/plain;q=0.5"
)


def _is_url(text: str) -> bool:
    return text.startswith(("https://", "http://")) and not any(c.isspace() for c in text)


async def verify_input(
    data: bytes | str | Mapping[str, Any],
    options: VerifyOptions | None = None,
    /,
    *,
    media_type: str | None = None,
    **overrides: Any,
) -> VerificationResult:
    """Verify ``data`` whatever its format (``options``, and keyword arguments over its
    fields: see services.verifier.verify; ``recipient_email`` adds the recipient check).

    Raises a VCIssuerError only when ``data`` cannot be read at all (not JSON, not a JWS, not
    a badge image, a URL that cannot be fetched); a credential that does not verify gives a
    report with ``verified: false`` and the failed checks.
    """
    opts = VerifyOptions.of(options, overrides)
    fetcher = opts.fetcher
    own = None
    if fetcher is None:
        fetcher = own = SafeFetcher(allow_private=opts.allow_private_hosts)
    clock = opts.now or (lambda: datetime.now(UTC))
    try:
        try:
            value, is_ob2 = await _read(data, media_type, fetcher)
        except VCIssuerError:
            raise
        except Exception as exc:  # a bug must not become a 500 or a traceback: report it
            rec = Recorder("credential")
            rec.internal("structure", exc)
            return rec.result()
        if is_ob2:
            assert isinstance(value, (str, Mapping))
            result = await ob2.verify_ob2(
                value, fetcher=fetcher, now=clock(), clock_skew=opts.clock_skew
            )
        else:
            result = await verify(
                value, opts.with_(now=clock, fetcher=fetcher), media_type=media_type
            )
        if opts.recipient_email is not None:
            add_recipient_check(result, opts.recipient_email)
        return result
    finally:
        if own is not None:
            await own.close()


async def _read(
    data: bytes | str | Mapping[str, Any], media_type: str | None, fetcher: Fetcher
) -> tuple[Any, bool]:
    """``(value, is_ob2)``: what to verify and whether it is an Open Badges 2.0 assertion."""
    if isinstance(data, Mapping):
        return data, ob2.is_ob2(data)
    is_image = (media_type or "").startswith("image/")
    if isinstance(data, (bytes, bytearray)) and (is_image or looks_like_image(bytes(data))):
        baked = baked_payload(bytes(data))
        if baked.version == "ob2":
            return _ob2_text(baked.text), True
        if jose.looks_like_jws(baked.text.strip().split("~", 1)[0]):
            return baked.text, False
        # a baked credential obeys the caps of a JSON body, however small the image was
        return parse_json_document(baked.text, what="the credential baked in the image"), False
    text = input_text(data, _not_text).strip()
    if _is_url(text):
        return await _from_url(text, fetcher)
    if media_type in JWT_MEDIA_TYPES or jose.looks_like_jws(text.split("~", 1)[0]):
        return text, jose.looks_like_jws(text) and ob2.is_ob2(jose.peek_payload(text))
    document = parse_json_document(text)  # not a JWS: JSON or nothing we read
    return document, ob2.is_ob2(document)


def _ob2_text(text: str) -> Any:
    """An OB 2.0 baked payload: hosted JSON, a signed JWS, or a bare URL."""
    if text.startswith("{"):
        return parse_json_document(text)
    return text


async def _from_url(url: str, fetcher: Fetcher) -> tuple[Any, bool]:
    """A URL: an OB 2.0 hosted assertion (verified from its URL), or a credential or badge
    image served there."""
    try:
        result = await fetcher.fetch(url, accept=URL_ACCEPT)
    except did_errors.Gone:
        return url, True  # 410: how an OB 2.0 host revokes; the OB 2.0 check reports it
    except did_errors.ForbiddenAddress as exc:
        raise ForbiddenAddressError(f"{url}: {exc.message}", url=url) from None
    except did_errors.DIDError as exc:
        raise FetchFailedError(f"{url} could not be fetched: {exc.message}", url=url) from None
    if looks_like_image(result.body):
        return await _read(result.body, None, fetcher)
    text = input_text(result.body, _not_text).strip()
    if text.startswith("{"):
        document = parse_json_document(text)
        if ob2.is_ob2(document):
            return url, True  # the URL is the source of truth for a hosted assertion
        return document, False
    return await _read(text, None, fetcher)


def _not_text(raw: bytes) -> NoReturn:
    """Neither text nor an image: say what the verifier reads."""
    raise ParsingError(
        "the input is neither UTF-8 text (JSON, a JWT, a URL) nor a PNG or SVG badge"
    ) from None


def add_recipient_check(result: VerificationResult, email: str) -> None:
    """Append the ``recipient`` check (matched or not) to ``result``."""
    document = result.document
    if not isinstance(document, Mapping):
        return
    try:
        detail = check_recipient(document, email)
    except VCIssuerError as exc:
        result.checks.append(Check("recipient", False, exc.code, exc.detail, exc.exit_code))
        result.errors.append({**exc.to_problem(), "check": "recipient"})
        result.verified = False
    else:
        result.checks.append(Check("recipient", True, detail=detail))


__all__ = ["add_recipient_check", "verify_input"]
