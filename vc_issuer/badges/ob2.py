"""Open Badges 2.0: verify hosted and signed assertions (OB 2.0 "Verification").

The fetch chain is Assertion -> BadgeClass -> Issuer Profile (-> CryptographicKey, RevocationList).
Everything is fetched with the injected SafeFetcher (https only, no private addresses unless
allowed, capped, redirects re-checked), so a badge cannot make the verifier reach its intranet.

Hosted assertions (``verification.type: hosted``): the URL is the source of truth. We fetch the
assertion's ``id``; the document served there must carry that same ``id``, and the redirect chain
must stay on the host; embedded copies of the BadgeClass and Profile are replaced by the fetched
ones. The Profile's ``verification`` policy (``allowedOrigins``, ``startsWith``; default: the
Profile's own host) must cover the assertion URL. ``410 Gone`` or ``revoked: true`` mean revoked.

Signed assertions (``verification.type: signed``): a JWS whose payload is the assertion. The key
must be one the Profile (fetched from its id) links in ``publicKey``; ``verification.creator``
must be one of those; the CryptographicKey's ``owner`` must be the Profile. Then the Profile's
``revocationList`` decides revocation.

What OB 2.0 cannot prove (said in every report): a hosted badge is only as trustworthy as its
host's HTTPS and DNS at the moment of checking, since nothing is signed; the issuer is known by
its web address, not by a key it controls; the recipient is a (salted) email hash, which proves
nothing about who presents the badge.

Follows the reference validators where the spec is silent: a BadgeClass or Profile whose ``id``
differs from the URL it came from is a warning (openbadges-validator-core); the Profile's
``revocationList`` is honoured for hosted assertions too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from did_methods import errors as did_errors
from vc_issuer.core import jose
from vc_issuer.core.credentials import parse_xml_datetime
from vc_issuer.core.jsonparse import FETCHED_LIMITS, parse_json_text
from vc_issuer.errors import (
    CredentialRevokedError,
    ForbiddenAddressError,
    InputTooLargeError,
    MalformedInputError,
    OB2CrossOriginRedirectError,
    OB2FetchError,
    OB2IdMismatchError,
    OB2InvalidAssertionError,
    OB2KeyNotTrustedError,
    OB2VerificationScopeError,
    ParsingError,
    ProofError,
    ValidityPeriodError,
    VCIssuerError,
)
from vc_issuer.services.issuer_keys import Fetcher
from vc_issuer.services.verifier import DEFAULT_CLOCK_SKEW, Recorder, VerificationResult

OB2_CONTEXTS: Final = frozenset(
    {
        "https://w3id.org/openbadges/v2",
        "https://openbadgespec.org/v2/context.json",
        "https://purl.imsglobal.org/spec/ob/v2p0/context/context.json",
    }
)
ACCEPT: Final = "application/ld+json, application/json;q=0.9"
LIMITATIONS: Final = (
    "Open Badges 2.0: a hosted badge is only as trustworthy as its host's HTTPS and DNS at "
    "the moment of checking; nothing in it is signed.",
    "Open Badges 2.0 names the issuer by a web address, not by a key it controls: whoever "
    "runs that site can issue, change or delete its badges.",
    "The recipient is an email address (often salted and hashed); it says nothing about who "
    "is presenting the badge.",
)
SIGNED_LIMITATIONS: Final = (
    "Open Badges 2.0 signed: the signature is checked with a key the issuer's website links "
    "to; the issuer is still known by its web address, which is only as safe as its HTTPS.",
    LIMITATIONS[2],
)

Kind = Literal["hosted", "signed"]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _contexts(document: Mapping[str, Any]) -> list[Any]:
    return _as_list(document.get("@context"))


def is_ob2(document: Any) -> bool:
    """An OB 2.0 document: its ``@context`` names the Open Badges v2 context, or it is shaped
    like an Assertion (so a wrong context is reported as such, not as a malformed VC)."""
    if not isinstance(document, Mapping):
        return False
    if any(isinstance(c, str) and c in OB2_CONTEXTS for c in _contexts(document)):
        return True
    shaped = "badge" in document and "recipient" in document and "verification" in document
    return shaped and "VerifiableCredential" not in _types(document)


def _types(document: Mapping[str, Any]) -> list[str]:
    return [t for t in _as_list(document.get("type")) if isinstance(t, str)]


def _verification(document: Mapping[str, Any]) -> Mapping[str, Any]:
    value = document.get("verification", document.get("verify"))  # verify is an alias
    return value if isinstance(value, Mapping) else {}


def verification_kind(document: Mapping[str, Any]) -> Kind | None:
    kind = _verification(document).get("type")
    if kind in ("hosted", "HostedBadge"):
        return "hosted"
    if kind in ("signed", "SignedBadge"):
        return "signed"
    return None


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _is_http(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("https://", "http://"))


# --- fetching ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    url: str
    document: dict[str, Any]
    final_url: str
    redirects: tuple[str, ...]


class Chain:
    """Fetches the documents of one assertion, each URL at most once."""

    def __init__(self, fetcher: Fetcher, rec: Recorder) -> None:
        self.fetcher = fetcher
        self.rec = rec
        self._cache: dict[str, Fetched] = {}

    async def get(self, url: Any, what: str, *, same_host: bool = False) -> Fetched:
        """GET ``url`` as JSON; refuses a redirect to another host when ``same_host``."""
        if not _is_http(url):
            raise OB2InvalidAssertionError(f"the {what} must be an http(s) URL, got {url!r}")
        if url in self._cache:
            return self._cache[url]
        try:
            result = await self.fetcher.fetch(url, accept=ACCEPT)
        except did_errors.Gone:
            raise
        except did_errors.ForbiddenAddress as exc:
            raise ForbiddenAddressError(f"the {what} {url}: {exc.message}", url=url) from None
        except did_errors.DIDError as exc:
            detail = f"the {what} {url} could not be fetched: {exc.message}"
            raise OB2FetchError(detail, url=url) from None
        if _host(result.url) != _host(url):
            error = OB2CrossOriginRedirectError(
                f"fetching the {what} {url} redirected to another host: {result.url}", url=url
            )
            if same_host:
                raise error
            self.rec.warn(error.code, error.detail)
        try:
            document = parse_json_text(result.body, FETCHED_LIMITS, what=f"the {what} at {url}")
        except (ParsingError, InputTooLargeError) as exc:
            if type(exc) is ParsingError:
                raise OB2FetchError(f"the {what} at {url} is not JSON", url=url) from None
            raise OB2InvalidAssertionError(exc.detail) from None  # NaN, NUL, too deep, ...
        if not isinstance(document, dict):
            raise OB2InvalidAssertionError(f"the {what} at {url} is not a JSON object")
        fetched = Fetched(url, document, result.url, tuple(result.redirects))
        self._cache[url] = fetched
        return fetched

    async def node(self, value: Any, what: str, expected_type: str) -> dict[str, Any]:
        """A linked document (by URL, or embedded with an http id, which is then re-fetched:
        only the hosted copy counts). Its ``id`` should be the URL it came from."""
        url = value.get("id") if isinstance(value, Mapping) else value
        if not _is_http(url):
            if isinstance(value, Mapping):  # embedded without a fetchable id: take it as is
                self.rec.warn(
                    "OB2_EMBEDDED_DOCUMENT",
                    f"the {what} is embedded with id {url!r}; it could not be re-fetched",
                )
                document = dict(value)
                _check_type(document, expected_type, what)
                return document
            raise OB2InvalidAssertionError(f"the {what} must be a URL, got {url!r}")
        fetched = await self.get(url, what)
        document = fetched.document
        if document.get("id") != url:
            self.rec.warn(
                OB2IdMismatchError.code,
                f"the {what} fetched from {url} declares the id {document.get('id')!r}",
            )
        _check_type(document, expected_type, what)
        return document


def _check_type(document: Mapping[str, Any], expected: str, what: str) -> None:
    allowed = {expected, "Profile"} if expected == "Issuer" else {expected}
    if not allowed & set(_types(document)):
        raise OB2InvalidAssertionError(
            f"the {what} has type {document.get('type')!r}, not {expected}"
        )


# --- checks --------------------------------------------------------------------------------------


def check_assertion(assertion: Mapping[str, Any]) -> Kind:
    """Shape checks of an Assertion (context, type, badge, recipient, verification, image)."""
    if not any(isinstance(c, str) and c in OB2_CONTEXTS for c in _contexts(assertion)):
        raise OB2InvalidAssertionError(
            f"@context {assertion.get('@context')!r} is not the Open Badges 2.0 context"
        )
    if "Assertion" not in _types(assertion):
        raise OB2InvalidAssertionError(f"type {assertion.get('type')!r} is not Assertion")
    for member in ("id", "recipient", "badge", "issuedOn"):
        if member not in assertion:
            raise OB2InvalidAssertionError(f"the Assertion has no {member}", member=member)
    image = assertion.get("image")
    image_url = image.get("id") if isinstance(image, Mapping) else image
    if isinstance(image_url, str) and image_url.startswith("data:"):
        raise OB2InvalidAssertionError(
            "an Assertion image must be a URL; data: URIs are only allowed in a BadgeClass"
        )
    kind = verification_kind(assertion)
    if kind is None:
        raise OB2InvalidAssertionError(
            f"verification type {_verification(assertion).get('type')!r} is neither hosted "
            "nor signed"
        )
    return kind


def _date(value: Any, name: str) -> datetime:
    try:
        return parse_xml_datetime(value, name, require_timezone=False)
    except MalformedInputError as exc:
        raise OB2InvalidAssertionError(exc.detail) from None


def check_dates(assertion: Mapping[str, Any], moment: datetime, skew: timedelta) -> str:
    """``issuedOn`` not in the future, ``expires`` not past and not before ``issuedOn``."""
    issued = _date(assertion.get("issuedOn"), "issuedOn")
    expires = _date(assertion["expires"], "expires") if "expires" in assertion else None
    if expires is not None and expires < issued:
        raise ValidityPeriodError(
            f"expires {assertion['expires']} is before issuedOn {assertion['issuedOn']}"
        )
    if issued > moment + skew:
        raise ValidityPeriodError(f"not yet valid: issuedOn is {assertion['issuedOn']}")
    if expires is not None and expires < moment - skew:
        raise ValidityPeriodError(f"expired: expires is {assertion['expires']}")
    return f"issued {assertion['issuedOn']}" + (
        f", expires {assertion['expires']}" if expires else ", does not expire"
    )


def check_scope(assertion_id: str, profile: Mapping[str, Any]) -> str | None:
    """The hosted assertion's URL against the Profile's verification policy.

    Returns a warning when the check cannot apply (non-http issuer id); raises when the URL is
    outside ``startsWith`` or ``allowedOrigins`` (default: the Profile's own host).
    """
    policy = _verification(profile)
    starts = [s for s in _as_list(policy.get("startsWith")) if isinstance(s, str)]
    if starts and not any(assertion_id.startswith(s) for s in starts):
        raise OB2VerificationScopeError(
            f"the assertion {assertion_id} does not start with any of {starts}"
        )
    origins = [o.lower() for o in _as_list(policy.get("allowedOrigins")) if isinstance(o, str)]
    if not origins:
        issuer_id = profile.get("id")
        if not _is_http(issuer_id):
            return f"the issuer id {issuer_id!r} is not an http(s) URL: its host cannot be checked"
        origins = [_host(str(issuer_id))]
    if _host(assertion_id) not in origins:
        raise OB2VerificationScopeError(
            f"the assertion host {_host(assertion_id)} is not among the issuer's allowed "
            f"origins {origins}"
        )
    return None


def revocation_entry(revocation_list: Mapping[str, Any], assertion: Mapping[str, Any]) -> Any:
    """The ``revokedAssertions`` entry naming this assertion (its id, or legacy uid), or None."""
    names = {v for v in (assertion.get("id"), assertion.get("uid")) if isinstance(v, str)}
    for entry in _as_list(revocation_list.get("revokedAssertions")):
        target = entry.get("id", entry.get("uid")) if isinstance(entry, Mapping) else entry
        if isinstance(target, str) and target in names:
            return entry
    return None


# --- verification --------------------------------------------------------------------------------


async def verify_ob2(
    source: str | Mapping[str, Any],
    *,
    fetcher: Fetcher,
    now: datetime,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerificationResult:
    """Verify an OB 2.0 assertion given as its URL, its JSON, or a signed JWS.

    Never raises: every problem is a failed check with a code.
    """
    rec = Recorder("credential")
    chain = Chain(fetcher, rec)
    try:
        if isinstance(source, Mapping):
            kind = verification_kind(source)
            if kind == "signed":
                raise OB2InvalidAssertionError(
                    "a signed assertion is verified from its JWS, not from the JSON inside it"
                )
            url = source.get("id")
            await _hosted(rec, chain, url, now, clock_skew)
        elif jose.looks_like_jws(source):
            await _signed(rec, chain, source, now, clock_skew)
        else:
            await _hosted(rec, chain, source.strip(), now, clock_skew)
    except VCIssuerError as exc:
        rec.fail("assertion", exc)
    except Exception as exc:
        rec.internal("assertion", exc)
    return rec.result()


async def _hosted(rec: Recorder, chain: Chain, url: Any, now: datetime, skew: timedelta) -> None:
    rec.format = "ob2-hosted"
    rec.notes = list(LIMITATIONS)
    if not _is_http(url):
        raise OB2InvalidAssertionError(f"a hosted assertion's id must be its URL, got {url!r}")
    # 1. the assertion, from its URL (the only copy that counts)
    try:
        fetched = await chain.get(url, "assertion", same_host=True)
    except did_errors.Gone:
        rec.fail("assertion", CredentialRevokedError(f"{url} answered 410 Gone: revoked"))
        return
    assertion = fetched.document
    rec.document = assertion
    if assertion.get("revoked") is True and assertion.get("id") == url:
        # OB 2.0: a host may replace a revoked assertion by {id, revoked, revocationReason}
        reason = assertion.get("revocationReason")
        rec.fail(
            "revocation",
            CredentialRevokedError(
                "the host marks the assertion revoked" + (f": {reason}" if reason else ""),
                revocationReason=reason,
            ),
        )
        return
    try:
        kind = check_assertion(assertion)
        if kind != "hosted":
            raise OB2InvalidAssertionError(f"the assertion at {url} is {kind}, not hosted")
    except OB2InvalidAssertionError as exc:
        rec.fail("structure", exc)
        return
    if assertion.get("id") != url:
        rec.fail(
            "assertion",
            OB2IdMismatchError(
                f"the assertion fetched from {url} declares the id {assertion.get('id')!r}"
            ),
        )
        return
    rec.ok("structure", "Open Badges 2.0 Assertion (hosted)")
    detail = f"fetched from {url}" + (" after redirects" if fetched.redirects else "")
    rec.ok("assertion", detail)
    # 2. BadgeClass and Profile
    profile = await _badge_and_issuer(rec, chain, assertion)
    if profile is None:
        return
    # 3. the issuer's verification policy
    try:
        warning = check_scope(url, profile)
    except OB2VerificationScopeError as exc:
        rec.fail("scope", exc)
    else:
        if warning is not None:
            rec.warn("OB2_SCOPE_NOT_CHECKED", warning)
        else:
            rec.ok("scope", f"{_host(url)} is allowed by the issuer's verification policy")
    await _tail(rec, chain, assertion, profile, now, skew)


async def _signed(
    rec: Recorder, chain: Chain, token_text: str, now: datetime, skew: timedelta
) -> None:
    rec.format = "ob2-signed"
    rec.notes = list(SIGNED_LIMITATIONS)
    try:
        token = jose.parse_jws(token_text)
        assertion = token.payload
        rec.document = assertion
        if check_assertion(assertion) != "signed":
            raise OB2InvalidAssertionError("the JWS holds an assertion that is not signed")
    except VCIssuerError as exc:
        rec.fail("structure", exc)
        return
    rec.ok("structure", f"Open Badges 2.0 Assertion (signed, JWS {token.alg})")
    profile = await _badge_and_issuer(rec, chain, assertion)
    if profile is None:
        return
    try:
        key_id = await _check_signature(chain, token, assertion, profile)
    except VCIssuerError as exc:
        rec.fail("proof", exc)
    else:
        rec.ok("proof", f"{token.alg} signature verified with {key_id}, linked by the issuer")
    await _tail(rec, chain, assertion, profile, now, skew)


async def _badge_and_issuer(
    rec: Recorder, chain: Chain, assertion: Mapping[str, Any]
) -> dict[str, Any] | None:
    try:
        badge = await chain.node(assertion.get("badge"), "BadgeClass", "BadgeClass")
    except VCIssuerError as exc:
        rec.fail("badge", exc)
        return None
    rec.ok("badge", str(badge.get("name") or badge.get("id")))
    try:
        profile = await chain.node(badge.get("issuer"), "Issuer", "Issuer")
    except VCIssuerError as exc:
        rec.fail("issuer", exc)
        return None
    issuer_ref = badge.get("issuer")
    issuer_url = issuer_ref.get("id") if isinstance(issuer_ref, Mapping) else issuer_ref
    rec.ok("issuer", f"{profile.get('name') or profile.get('id')} ({issuer_url})")
    # for display: the assertion with the documents that were fetched for it
    rec.document = {**assertion, "badge": {**badge, "issuer": profile}}
    return profile


async def _check_signature(
    chain: Chain, token: jose.Jws, assertion: Mapping[str, Any], profile: Mapping[str, Any]
) -> str:
    """The key the Profile links (and ``creator`` names) verifies the JWS; returns its id."""
    refs = [
        k.get("id") if isinstance(k, Mapping) else k for k in _as_list(profile.get("publicKey"))
    ]
    linked = [k for k in refs if isinstance(k, str)]
    creator = _verification(assertion).get("creator")
    if creator is not None:
        if creator not in linked:
            raise OB2KeyNotTrustedError(
                f"the signing key {creator} is not one of the issuer's publicKey {linked}"
            )
        candidates = [creator]
    else:
        candidates = linked
    if not candidates:
        raise OB2KeyNotTrustedError("the issuer Profile links no publicKey: it cannot sign")
    for key_id in candidates:
        fetched = await chain.get(key_id, "CryptographicKey", same_host=True)
        key_doc = fetched.document
        if "CryptographicKey" not in _types(key_doc):
            raise OB2KeyNotTrustedError(f"{key_id} is not a CryptographicKey")
        if key_doc.get("owner") != profile.get("id"):
            raise OB2KeyNotTrustedError(
                f"the key {key_id} is owned by {key_doc.get('owner')!r}, not the issuer "
                f"{profile.get('id')!r}"
            )
        pem = key_doc.get("publicKeyPem")
        if not isinstance(pem, str):
            raise OB2KeyNotTrustedError(f"the key {key_id} has no publicKeyPem")
        if jose.verify_signature(token, jose.import_public_pem(pem)):
            return str(key_id)
    raise ProofError("the JWS signature does not verify with the issuer's key")


async def _tail(
    rec: Recorder,
    chain: Chain,
    assertion: Mapping[str, Any],
    profile: Mapping[str, Any],
    now: datetime,
    skew: timedelta,
) -> None:
    """Checks both kinds share: BadgeClass issuer, revocation list, dates."""
    try:
        rec.ok("validity", check_dates(assertion, now, skew))
    except VCIssuerError as exc:
        rec.fail("validity", exc)
    list_url = profile.get("revocationList")
    if list_url is None:
        if verification_kind(assertion) == "signed":
            rec.ok("revocation", "the issuer publishes no revocation list")
        return
    try:
        fetched = await chain.get(list_url, "RevocationList")
        entry = revocation_entry(fetched.document, assertion)
    except VCIssuerError as exc:
        rec.fail("revocation", exc)
        return
    if entry is None:
        rec.ok("revocation", f"not in the issuer's revocation list {list_url}")
        return
    reason = entry.get("revocationReason") if isinstance(entry, Mapping) else None
    rec.fail(
        "revocation",
        CredentialRevokedError(
            "the issuer's revocation list revokes this assertion"
            + (f": {reason}" if isinstance(reason, str) else ""),
            revocationReason=reason,
        ),
    )


__all__ = [
    "LIMITATIONS",
    "OB2_CONTEXTS",
    "check_assertion",
    "check_dates",
    "check_scope",
    "is_ob2",
    "revocation_entry",
    "verification_kind",
    "verify_ob2",
]
