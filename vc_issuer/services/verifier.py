"""Verify credentials and presentations into a result object, never an exception.

A verifier serves untrusted input, so every failure (bad JSON shape, unknown context, failed
signature, unreachable DID host, even a bug) becomes a failed check with a stable code, and
``verified`` is True only when every check that ran passed. ``errors`` holds one RFC 9457
problem object per failed check (plus the check's name), whatever the check.

Which checks run on a Data Integrity document is the caller's choice (the VC API's
``options.checks``): ``proof``, ``issuer``, ``validity``, ``credentialStatus`` and
``relatedResource``; all of them when not chosen. The structure check always runs, and the
report lists exactly the checks that ran.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

from did_methods.protocol import DIDResolver
from vc_issuer.core import jose
from vc_issuer.core.credentials import (
    embedded_credentials,
    format_datetime,
    holder_id,
    is_presentation,
    issuer_id,
    parse_json_document,
    validate_credential,
    validate_presentation,
    validity_period,
)
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.proofs import Clock, ProofCheck, check_challenge, check_domain, verify_proofs
from vc_issuer.core.purposes import ASSERTION_METHOD, AUTHENTICATION
from vc_issuer.core.related import ResourceBytes, check_related_digests, pinned_resources
from vc_issuer.core.resolver import default_resolver
from vc_issuer.core.status import is_status_list_entry
from vc_issuer.errors import (
    EXIT_BAD_INPUT,
    EXIT_ENVIRONMENT,
    EXIT_NOT_VERIFIED,
    EXIT_OK,
    HolderMismatchError,
    InternalError,
    InvalidChallengeError,
    InvalidDomainError,
    IssuerKeyNotBoundError,
    IssuerMismatchError,
    MalformedInputError,
    ProofError,
    UnsupportedFormatError,
    ValidityPeriodError,
    VCIssuerError,
    error_class,
)
from vc_issuer.services.issuer_keys import Fetcher, IssuerKeys, KeySearch

log = logging.getLogger(__name__)

INTERNAL_ERROR = InternalError.code
DEFAULT_CLOCK_SKEW = timedelta(seconds=300)

PROOF: Final = "proof"
ISSUER: Final = "issuer"
VALIDITY: Final = "validity"
STATUS: Final = "credentialStatus"
RELATED: Final = "relatedResource"
CHECKS: Final[tuple[str, ...]] = (PROOF, ISSUER, VALIDITY, STATUS, RELATED)
"""The checks a caller may choose (``options.checks``); ``structure`` always runs."""


def check_names(checks: Collection[str] | None) -> frozenset[str]:
    """The checks to run: all when ``checks`` is None, else exactly the named ones (an unknown
    name is refused: we would otherwise report a check we never ran)."""
    if checks is None:
        return frozenset(CHECKS)
    if isinstance(checks, str) or not all(isinstance(c, str) for c in checks):
        raise MalformedInputError("checks must be a list of check names", field="checks")
    unknown = sorted(set(checks) - set(CHECKS) - {"structure"})
    if unknown:
        raise MalformedInputError(
            f"unknown check(s) {unknown}; the checks are {list(CHECKS)}", field="checks"
        )
    return frozenset(checks) & frozenset(CHECKS)


@dataclass(frozen=True)
class VerifyOptions:
    """What one verification is asked to check, and with what: built once at the edge (CLI,
    HTTP, library call) and passed whole to every check below it."""

    checks: Collection[str] | None = None
    """The checks for Data Integrity credentials (:func:`check_names`); None: all of them."""
    challenge: str | None = None
    """A presentation's proof ``challenge`` (a JWT presentation's ``nonce``) must be this."""
    domain: str | None = None
    """A presentation's proof ``domain`` (a JWT presentation's ``aud``) must name this."""
    resolver: DIDResolver | None = None
    """Resolves verification methods; None: a default resolver, closed after use."""
    loader: ContextLoader | None = None
    now: Clock | None = None
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    status_checker: StatusChecker | None = None
    """Checks credentialStatus; None: status is reported as not checked."""
    allow_private_hosts: bool = False
    fetcher: Fetcher | None = None
    trusted_keys: Sequence[Mapping[str, Any]] = ()
    """JWKs trusted for JWS credentials whose issuer publishes none."""
    resources: ResourceBytes | None = None
    """The related resources we hold (default: the pinned contexts)."""
    recipient_email: str | None = None
    """Also check the credential was awarded to this address (badges.verify)."""

    @classmethod
    def of(cls, options: VerifyOptions | None, overrides: Mapping[str, Any]) -> VerifyOptions:
        """``options`` (or the defaults) with keyword arguments on top: the keyword form of the
        entry points (``verify(doc, resolver=r)``) stays a thin layer over this one object."""
        return (options or _DEFAULT_OPTIONS).with_(**overrides)

    def with_(self, **changes: Any) -> VerifyOptions:
        """``dataclasses.replace``, written out because a verification runs it three times:
        ``replace`` reads every field and re-runs ``__init__`` (2.7 us; 40 Python calls), a
        copy of the fields with ``changes`` on top costs 1.1 us. Unknown names are refused
        as ``replace`` refuses them."""
        if not changes:
            return self
        unknown = changes.keys() - _OPTION_FIELDS
        if unknown:
            raise TypeError(f"VerifyOptions has no field(s) {sorted(unknown)}")
        new = object.__new__(VerifyOptions)
        new.__dict__.update(self.__dict__, **changes)
        return new


_OPTION_FIELDS = frozenset(f.name for f in fields(VerifyOptions))
_DEFAULT_OPTIONS = VerifyOptions()


#: Format names a result reports (``format``), and how people call them (``formatName``).
FORMATS: dict[str, str] = {
    "data-integrity": "W3C Verifiable Credential with a Data Integrity proof",
    "vc-jwt": "VC-JWT (VC 1.1 in a JWT vc claim, Open Badges 3.0 JWT)",
    "vc-jose": "VC 2.0 secured with JOSE (vc+jwt)",
    "ob2-hosted": "Open Badges 2.0 hosted assertion",
    "ob2-signed": "Open Badges 2.0 signed assertion",
}


@dataclass
class Check:
    """One named check; ``code`` and ``detail`` say why it failed."""

    name: str
    passed: bool
    code: str | None = None
    detail: str | None = None
    exit_code: int | None = field(default=None, compare=False)
    data: dict[str, Any] = field(default_factory=dict, compare=False)
    """Check-specific facts for the report (e.g. a multi-bit ``status`` value and message)."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "passed": self.passed}
        if self.code is not None:
            out["code"] = self.code
        if self.detail is not None:
            out["detail"] = self.detail
        out.update(self.data)
        return out


class StatusChecker(Protocol):
    """The seam for credential status (Bitstring Status List, StatusList2021)."""

    async def check(self, credential: Mapping[str, Any]) -> list[Check]: ...


@dataclass
class VerificationResult:
    verified: bool
    checks: list[Check]
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    kind: Literal["credential", "presentation"] = "credential"
    credential_results: list[VerificationResult] = field(default_factory=list)
    format: str | None = None
    """What was verified: see :data:`FORMATS` (None when the input was not understood)."""
    notes: list[str] = field(default_factory=list)
    """What this format cannot prove, said once per result (e.g. for Open Badges 2.0)."""
    document: Any = field(default=None, compare=False, repr=False)
    """The credential as read (a JWT's payload, a fetched assertion), for display."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verified": self.verified,
            "kind": self.kind,
            "checks": [c.to_dict() for c in self.checks],
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }
        if self.format is not None:
            out["format"] = self.format
            out["formatName"] = FORMATS.get(self.format, self.format)
        if self.notes:
            out["notes"] = list(self.notes)
        if self.kind == "presentation":
            out["credentialResults"] = [r.to_dict() for r in self.credential_results]
        return out

    def exit_code(self) -> int:
        """CLI exit status: 0 verified; 2 when the input is not a credential or presentation;
        3 when only the environment failed (DID host, status list unreachable); else 1."""
        if self.verified:
            return EXIT_OK
        failed = [c for c in self.checks if not c.passed]
        if any(c.name == "structure" for c in failed):
            return EXIT_BAD_INPUT
        if failed and all(c.exit_code == EXIT_ENVIRONMENT for c in failed):
            return EXIT_ENVIRONMENT
        return EXIT_NOT_VERIFIED

    def codes(self) -> list[str]:
        """Codes of the failed checks, in order (handy for callers and tests)."""
        return [c.code for c in self.checks if not c.passed and c.code is not None]


class _Recorder:
    def __init__(self, kind: Literal["credential", "presentation"]) -> None:
        self.kind: Literal["credential", "presentation"] = kind
        self.checks: list[Check] = []
        self.errors: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self.credential_results: list[VerificationResult] = []
        self.format: str | None = None
        self.notes: list[str] = []
        self.document: Any = None
        self.owned: list[DIDResolver] = []
        """Resolvers opened for this verification, closed when it ends."""

    def own(self, resolver: DIDResolver) -> DIDResolver:
        self.owned.append(resolver)
        return resolver

    async def run(self, name: str, work: Awaitable[None]) -> VerificationResult:
        """The result of ``work``, never an exception: an error fails the check ``name`` (a
        bug: INTERNAL_ERROR); the resolvers it opened are closed."""
        try:
            await work
        except VCIssuerError as exc:
            self.fail(name, exc)
        except Exception as exc:
            self.internal(name, exc)
        finally:
            for resolver in self.owned:
                await _close(resolver)
        return self.result()

    def ok(self, name: str, detail: str | None = None) -> None:
        self.checks.append(Check(name, True, detail=detail))

    def fail(self, name: str, exc: VCIssuerError) -> None:
        self.checks.append(Check(name, False, exc.code, exc.detail, exc.exit_code))
        problem = exc.to_problem()
        problem["check"] = name
        self.errors.append(problem)

    def internal(self, name: str, exc: BaseException) -> None:
        log.exception("unexpected error during %s check", name, exc_info=exc)
        detail = f"internal error: {type(exc).__name__}"
        self.checks.append(Check(name, False, INTERNAL_ERROR, detail))
        self.errors.append({**InternalError(detail).to_problem(), "check": name})

    def warn(self, code: str, detail: str) -> None:
        self.warnings.append({"code": code, "detail": detail})

    def add(self, check: Check) -> None:
        """Record a check built elsewhere (status, an embedded credential's outcome)."""
        self.checks.append(check)
        if not check.passed:
            problem = error_for(check.code, check.detail or "check failed").to_problem()
            self.errors.append({**problem, "check": check.name})

    def result(self) -> VerificationResult:
        verified = bool(self.checks) and all(c.passed for c in self.checks)
        return VerificationResult(
            verified,
            self.checks,
            self.errors,
            self.warnings,
            self.kind,
            self.credential_results,
            self.format,
            self.notes,
            self.document,
        )


def error_for(code: str | None, detail: str) -> VCIssuerError:
    """The library error a failed check's code stands for (its title, status, type URL)."""
    return error_class(code or INTERNAL_ERROR, InternalError)(detail)


def _clock(now: Clock | None) -> datetime:
    moment = now() if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("the clock must return timezone-aware datetimes")
    return moment


def _record_proofs(rec: _Recorder, proof_checks: list[ProofCheck]) -> None:
    for pc in proof_checks:
        if pc.verified:
            rec.ok("proof", f"verified with {pc.verification_method}")
        else:
            assert pc.error is not None
            rec.fail("proof", pc.error)


async def _close(resolver: Any) -> None:
    for name in ("aclose", "close"):
        closer = getattr(resolver, name, None)
        if callable(closer):
            out = closer()
            if inspect.isawaitable(out):
                await out
            return


def _as_document(value: Any) -> Any:
    if isinstance(value, (str, bytes, bytearray)):
        return parse_json_document(value)
    return value


async def verify_credential(
    credential: Any, options: VerifyOptions | None = None, /, **overrides: Any
) -> VerificationResult:
    """Check structure, then proofs, issuer, validity period, status and related resources
    (``options.checks`` chooses among those; see :func:`check_names`). Keyword arguments
    override fields of ``options`` (:class:`VerifyOptions`).

    ``credential`` may be a dict or JSON text. Never raises on a bad credential; an unknown
    check name is a caller's error (MalformedInputError).
    """
    opts = VerifyOptions.of(options, overrides)
    opts = opts.with_(checks=check_names(opts.checks))
    rec = _Recorder("credential")
    return await rec.run("credential", _verify_credential(rec, credential, opts))


async def _verify_credential(rec: _Recorder, credential: Any, options: VerifyOptions) -> None:
    checks = check_names(options.checks)
    resolver, loader, resources = options.resolver, options.loader, options.resources
    try:
        credential = _as_document(credential)
        version = validate_credential(credential)
    except VCIssuerError as exc:
        rec.fail("structure", exc)
        return
    rec.ok("structure", f"VC {version}")
    rec.format, rec.document = "data-integrity", credential
    moment = _clock(options.now)

    if resolver is None and (PROOF in checks or ISSUER in checks):
        resolver = rec.own(default_resolver(allow_private=options.allow_private_hosts))

    # proofs (every proof must verify, for assertionMethod)
    proof_checks: list[ProofCheck] = []
    if resolver is not None and (PROOF in checks or ISSUER in checks):
        try:
            proof_checks = await verify_proofs(
                credential, resolver=resolver, loader=loader,
                expected_purpose=ASSERTION_METHOD, now=lambda: moment,
            )  # fmt: skip
            if PROOF in checks:
                _record_proofs(rec, proof_checks)
        except VCIssuerError as exc:
            if PROOF in checks:
                rec.fail("proof", exc)

    if ISSUER in checks:
        _check_issuer(rec, issuer_id(credential), proof_checks, PROOF in checks)
    if VALIDITY in checks:  # validity period, with clock skew both ways
        _check_validity(rec, credential, version, moment, options.clock_skew)
    if STATUS in checks:
        await _check_status(rec, credential, options)
    if RELATED in checks and "relatedResource" in credential:
        try:
            unchecked = check_related_digests(
                credential, resources if resources is not None else pinned_resources()
            )
        except VCIssuerError as exc:
            rec.fail("relatedResource", exc)
        else:
            rec.ok("relatedResource")
            if unchecked:
                rec.warn(
                    "RELATED_RESOURCE_NOT_CHECKED",
                    f"not held here, so not compared (nothing is fetched): {', '.join(unchecked)}",
                )
    not_run = [c for c in CHECKS if c not in checks]
    if not_run:
        rec.warn("CHECKS_NOT_RUN", f"not asked for: {', '.join(not_run)}")


def _check_issuer(
    rec: _Recorder, issuer: str, proof_checks: list[ProofCheck], proofs_reported: bool
) -> None:
    """At least one proof for assertionMethod must be by the issuer (its key's controller);
    proofs by others (a proof chain's co-signers) verify on their own terms and are named.

    A proof counts when its controller was resolved; when the proof check is not reported, only
    proofs that verified count (else a forged issuer proof would pass unnoticed).
    """
    signers = [
        pc.controller
        for pc in proof_checks
        if pc.controller is not None and (pc.verified or proofs_reported)
    ]
    if not signers:
        if not proofs_reported:
            rec.fail("issuer", IssuerMismatchError(f"no verified proof by the issuer {issuer}"))
        return  # the proof check already failed
    others = sorted({c for c in signers if c != issuer})
    if issuer not in signers:
        rec.fail(
            "issuer",
            IssuerMismatchError(
                f"issuer {issuer} is not the controller of any signing key"
                f" (signed by {', '.join(others)})"
            ),
        )
    else:
        rec.ok("issuer", issuer + (f"; also signed by {', '.join(others)}" if others else ""))


def _check_validity(
    rec: _Recorder,
    credential: Mapping[str, Any],
    version: Literal["1.1", "2.0"],
    moment: datetime,
    skew: timedelta,
    token: tuple[datetime | None, datetime | None] = (None, None),
) -> None:
    """The credential's period, and a JWT's own ``nbf``/``exp`` (``token``) when it has them."""
    start, end = validity_period(credential, version)
    start_name, end_name = (
        ("validFrom", "validUntil") if version == "2.0" else ("issuanceDate", "expirationDate")
    )
    token_start, token_end = token
    if start is not None and moment + skew < start:
        rec.fail(
            "validity",
            ValidityPeriodError(f"not yet valid: {start_name} is {credential[start_name]}"),
        )
    elif end is not None and moment - skew > end:
        rec.fail("validity", ValidityPeriodError(f"expired: {end_name} is {credential[end_name]}"))
    elif token_start is not None and moment + skew < token_start:
        when = format_datetime(token_start)
        rec.fail("validity", ValidityPeriodError(f"not yet valid: the JWT nbf is {when}"))
    elif token_end is not None and moment - skew > token_end:
        when = format_datetime(token_end)
        rec.fail("validity", ValidityPeriodError(f"expired: the JWT exp is {when}"))
    else:
        rec.ok("validity")


async def verify_presentation(
    presentation: Any, options: VerifyOptions | None = None, /, **overrides: Any
) -> VerificationResult:
    """Check a presentation (signed with purpose authentication, or unsigned) and each
    credential in it (Data Integrity, or enveloped JOSE), its Data Integrity credentials with
    the same ``checks``. Keyword arguments override fields of ``options``. Never raises on a
    bad presentation."""
    rec = _Recorder("presentation")
    opts = VerifyOptions.of(options, overrides)
    return await rec.run("presentation", _verify_presentation(rec, presentation, opts))


async def _verify_presentation(rec: _Recorder, presentation: Any, opts: VerifyOptions) -> None:
    challenge, domain, resolver = opts.challenge, opts.domain, opts.resolver
    wanted = check_names(opts.checks)
    vp = _as_document(presentation)
    try:
        validate_presentation(vp)
    except VCIssuerError as exc:
        rec.fail("structure", exc)
        return
    rec.ok("structure")
    moment = _clock(opts.now)
    if resolver is None:
        resolver = rec.own(default_resolver(allow_private=opts.allow_private_hosts))

    if "proof" in vp and PROOF in wanted:
        await _verify_presentation_proof(rec, vp, challenge, domain, resolver, opts.loader, moment)
    elif "proof" in vp:
        rec.warn("CHECKS_NOT_RUN", "the presentation's proof was not asked to be checked")
    else:
        rec.warn("PRESENTATION_NOT_SIGNED", "the presentation has no proof")
        if challenge is not None:
            rec.fail(
                "challenge", InvalidChallengeError("an unsigned presentation has no challenge")
            )
        if domain is not None:
            rec.fail("domain", InvalidDomainError("an unsigned presentation has no domain"))

    rec.format, rec.document = "data-integrity", vp
    # the credentials inside: the same clock and checks; challenge and domain are the
    # presentation's alone
    embedded = replace(
        opts, resolver=resolver, now=lambda: moment, checks=wanted, challenge=None, domain=None
    )
    await _verify_embedded(rec, embedded_credentials(vp), embedded)


async def _verify_presentation_proof(
    rec: _Recorder,
    vp: Mapping[str, Any],
    challenge: str | None,
    domain: str | None,
    resolver: DIDResolver,
    loader: ContextLoader | None,
    moment: datetime,
) -> None:
    try:
        proof_checks = await verify_proofs(
            vp, resolver=resolver, loader=loader, expected_purpose=AUTHENTICATION,
            now=lambda: moment,
        )  # fmt: skip
    except VCIssuerError as exc:
        rec.fail("proof", exc)
        return
    _record_proofs(rec, proof_checks)
    for name, expected, checker in (
        ("challenge", challenge, check_challenge),
        ("domain", domain, check_domain),
    ):
        if expected is None:
            continue
        try:
            for pc in proof_checks:
                checker(pc.proof, expected)
        except VCIssuerError as exc:
            rec.fail(name, exc)
        else:
            rec.ok(name)
    holder = holder_id(vp)
    controllers = [pc.controller for pc in proof_checks if pc.controller is not None]
    if holder is not None and controllers:
        wrong = [c for c in controllers if c != holder]
        if wrong:
            rec.fail(
                "holder",
                HolderMismatchError(f"holder {holder} is not the controller {wrong[0]} of the key"),
            )
        else:
            rec.ok("holder", holder)


# --- JOSE: VC-JWT and VC 2.0 secured with JOSE ----------------------------------------------------


async def _verify_embedded(rec: _Recorder, items: list[Any], options: VerifyOptions) -> None:
    """Each credential of a presentation: a Data Integrity object, an enveloped JOSE credential,
    or (VC-JWT 1.1 presentations) a compact JWS string."""
    for i, vc in enumerate(items):
        if isinstance(vc, str) or jose.is_enveloped(vc):
            result = await _verify_token_value(vc, options, expect="credential")
        else:
            result = await verify_credential(vc, options)
        rec.credential_results.append(result)
        label = result.document.get("id") if isinstance(result.document, Mapping) else None
        detail = f"verifiableCredential[{i}]" + (f" {label}" if label else "")
        if result.verified:
            rec.ok("credential", detail)
        else:
            code = (result.codes() or [INTERNAL_ERROR])[0]
            rec.add(Check("credential", False, code, detail, result.exit_code()))


async def _verify_token_value(
    value: Any,
    options: VerifyOptions,
    *,
    expect: Literal["credential", "presentation"] | None = None,
) -> VerificationResult:
    """A JWS string, or an Enveloped* object around one."""
    rec = _Recorder(expect or "credential")
    try:
        token = jose.enveloped_token(value) if isinstance(value, Mapping) else str(value)
    except VCIssuerError as exc:
        rec.fail("structure", exc)
        return rec.result()
    return await _verify_jwt(token, options, expect=expect)


async def _verify_jwt(
    token_text: str, options: VerifyOptions, *, expect: Literal["credential", "presentation"] | None
) -> VerificationResult:
    rec = _Recorder(expect or "credential")
    try:
        await _verify_jwt_checks(rec, token_text, options, expect)
    except VCIssuerError as exc:
        rec.fail("credential" if rec.kind == "credential" else "presentation", exc)
    except Exception as exc:
        rec.internal("jwt", exc)
    return rec.result()


def _structure_error(exc: VCIssuerError) -> bool:
    return isinstance(exc, MalformedInputError) and not isinstance(exc, UnsupportedFormatError)


async def _verify_jwt_checks(
    rec: _Recorder,
    token_text: str,
    options: VerifyOptions,
    expect: Literal["credential", "presentation"] | None,
) -> None:
    # 1. the JWS and the document in it
    try:
        token = jose.parse_jws(token_text)
        doc = jose.decode_document(token)
    except VCIssuerError as exc:
        rec.fail("structure" if _structure_error(exc) else "format", exc)
        return
    rec.kind, rec.format, rec.document = doc.kind, doc.form, doc.document
    if expect is not None and doc.kind != expect:
        rec.fail(
            "format", MalformedInputError(f"expected a {expect}, the token holds a {doc.kind}")
        )
        return
    jose.apply_claims(doc)  # first: VC 1.1 decoding fills fields the structure check needs
    try:
        if doc.kind == "credential":
            version = validate_credential(doc.document)
        else:
            doc.document["verifiableCredential"] = _enveloped_items(doc.document)
            version = validate_presentation(doc.document)
    except VCIssuerError as exc:
        rec.fail("structure", exc)
        return
    rec.ok("structure", f"JWS {token.alg}, VC {version} {doc.kind}")
    rec.ok("format", _describe_form(doc))

    # 2. registered claims against the document
    if doc.claim_errors:
        rec.fail("claims", doc.claim_errors[0])
    else:
        rec.ok("claims", ", ".join(f"{c.claim} {c.outcome}" for c in doc.claim_checks))
        for c in doc.claim_checks:
            if c.outcome == "missing":
                rec.warn("JWT_CLAIM_MISSING", f"the token has no {c.claim} claim")

    # 3. the key and the signature
    moment = _clock(options.now)
    who = issuer_id(doc.document) if doc.kind == "credential" else holder_id(doc.document)
    relationship = ASSERTION_METHOD if doc.kind == "credential" else AUTHENTICATION
    found = await _check_jws_signature(rec, token, who, options, relationship)

    # 4. the key belongs to the issuer (or holder)
    role = "issuer" if doc.kind == "credential" else "holder"
    if found is not None:
        _check_key_owner(rec, role, who, found)

    # 5. dates, status, and a presentation's credentials
    window = jose.token_window(doc.claims)
    if doc.kind == "credential":
        _check_validity(rec, doc.document, version, moment, options.clock_skew, window)
        await _check_status(rec, doc.document, options)
    else:
        _check_token_window(rec, window, moment, options.clock_skew)
        _check_token_binding(rec, token.payload, options)
        await _verify_embedded(rec, embedded_credentials(doc.document), options)


def _check_token_binding(
    rec: _Recorder, payload: Mapping[str, Any], options: VerifyOptions
) -> None:
    """A JWT presentation's ``nonce`` / ``aud`` against the expected challenge / domain."""
    if options.challenge is not None:
        if payload.get("nonce") == options.challenge:
            rec.ok("challenge")
        else:
            rec.fail("challenge", InvalidChallengeError("the JWT nonce is not the challenge"))
    if options.domain is not None:
        aud = payload.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if options.domain in audiences:
            rec.ok("domain")
        else:
            rec.fail("domain", InvalidDomainError(f"the JWT aud {aud!r} is not the domain"))


def _enveloped_items(vp: Mapping[str, Any]) -> list[Any]:
    """A VC-JWT 1.1 presentation lists credentials as JWS strings; wrap them so the
    presentation's shape checks see objects (the tokens are verified one by one later)."""
    items = embedded_credentials(vp)
    return [jose.envelope(v, jose.MEDIA_JWT) if isinstance(v, str) else v for v in items]


def _describe_form(doc: jose.JwtDocument) -> str:
    typ = doc.token.header.get("typ")
    if doc.form == "vc-jwt":
        return (
            f"VC-JWT: VC 1.1 {doc.kind} in the {'vc' if doc.kind == 'credential' else 'vp'} claim"
        )
    return f"VC 2.0 {doc.kind} secured with JOSE (typ {typ or 'absent'})"


async def _check_jws_signature(
    rec: _Recorder, token: jose.Jws, who: str | None, options: VerifyOptions, relationship: str
) -> KeySearch | None:
    """The ``proof`` check: find the key (issuer_keys) and verify the signature with it.

    Returns the search narrowed to the key that verified, or None when none did.
    """
    assert options.resolver is not None  # verify() and verify_presentation() set one
    try:
        search = await IssuerKeys(
            options.resolver, options.fetcher, trusted=options.trusted_keys
        ).candidates(token, who, relationship)
        for found in search.keys:
            if jose.verify_signature(token, found.key):
                where = found.method or found.source
                rec.ok("proof", f"{token.alg} signature verified with {where} ({found.source})")
                return KeySearch([found], search.unavailable)
        raise ProofError("the JWS signature does not match the token")
    except VCIssuerError as exc:
        rec.fail("proof", exc)
        return None


def _check_key_owner(rec: _Recorder, role: str, who: str | None, search: KeySearch) -> None:
    """The ``issuer`` (or ``holder``) check: the key that verified belongs to ``who``."""
    found = search.keys[0]
    if found.owner is None:
        rec.fail(
            role,
            search.unavailable
            or IssuerKeyNotBoundError(
                f"the key came from the token's {found.source}; nothing published by {who} "
                "lists it, so anyone could have signed"
            ),
        )
    elif found.owner != who:
        error = IssuerMismatchError if role == "issuer" else HolderMismatchError
        rec.fail(role, error(f"{role} {who} is not {found.owner}, which owns the signing key"))
    else:
        rec.ok(role, f"{who} ({found.source})")


def _check_token_window(
    rec: _Recorder,
    window: tuple[datetime | None, datetime | None],
    moment: datetime,
    skew: timedelta,
) -> None:
    start, end = window
    if start is not None and moment + skew < start:
        rec.fail("validity", ValidityPeriodError(f"not yet valid: nbf is {format_datetime(start)}"))
    elif end is not None and moment - skew > end:
        rec.fail("validity", ValidityPeriodError(f"expired: exp is {format_datetime(end)}"))
    else:
        rec.ok("validity")


async def _check_status(
    rec: _Recorder, credential: Mapping[str, Any], options: VerifyOptions
) -> None:
    """The status checks; entries of types we do not manage are named in a warning."""
    checker = options.status_checker
    status = credential.get("credentialStatus")
    if status is None:
        return
    entries = status if isinstance(status, list) else [status]
    foreign = sorted(
        {str(e.get("type")) for e in entries if isinstance(e, Mapping)}
        - {str(e.get("type")) for e in entries if is_status_list_entry(e)}
    )
    if foreign:
        rec.warn("STATUS_NOT_CHECKED", f"status of type {', '.join(foreign)} is not checked here")
    if checker is None:
        rec.warn("STATUS_NOT_CHECKED", "the credential has credentialStatus; status not checked")
        return
    try:
        for check in await checker.check(credential):
            rec.add(check)
    except VCIssuerError as exc:
        rec.fail("status", exc)


# --- one entry point -----------------------------------------------------------------------------

#: Media types that announce a compact JWS body (VC-JOSE-COSE §6, RFC 7519 §10.3.1).
JWT_MEDIA_TYPES = frozenset({jose.MEDIA_VC_JWT, jose.MEDIA_VP_JWT, jose.MEDIA_JWT})


async def verify(
    value: Any,
    options: VerifyOptions | None = None,
    /,
    *,
    media_type: str | None = None,
    **overrides: Any,
) -> VerificationResult:
    """Verify whatever verifiable-credential format ``value`` is, and say which it was.

    ``value``: a JSON object (Data Integrity credential or presentation, or an
    EnvelopedVerifiableCredential), JSON text, or a compact JWS (VC-JWT, VC 2.0 JOSE; its
    presentation forms too). ``media_type`` may name ``application/vc+jwt`` and friends.
    ``options.checks`` chooses the checks of Data Integrity documents (see
    :func:`check_names`); keyword arguments override fields of ``options``.
    Never raises on bad input: the result says what failed.
    """
    opts = VerifyOptions.of(options, overrides)
    wanted = check_names(opts.checks)
    own = None
    resolver = opts.resolver
    if resolver is None:
        resolver = own = default_resolver(allow_private=opts.allow_private_hosts)
    try:
        opts = opts.with_(resolver=resolver, checks=wanted)
        document: Any = value
        if isinstance(value, (bytes, bytearray, str)):
            text = input_text(value, _latin1)
            stripped = text.strip()
            first = stripped.split("~", 1)[0]  # an SD-JWT starts with its issuer JWS
            is_token = media_type in JWT_MEDIA_TYPES or jose.looks_like_jws(first)
            if is_token:
                return await _verify_jwt(stripped, opts, expect=None)
            try:
                document = parse_json_document(text)
            except VCIssuerError as exc:
                rec = _Recorder("credential")
                rec.fail("structure", exc)
                return rec.result()
        if jose.is_enveloped(document):
            return await _verify_token_value(document, opts)
        if is_presentation(document):
            return await verify_presentation(document, opts)
        return await verify_credential(document, opts)
    finally:
        if own is not None:
            await _close(own)


def input_text(value: bytes | bytearray | str, not_utf8: Callable[[bytes], str]) -> str:
    """An input as text: a str as it is, bytes as UTF-8 (a byte order mark dropped), else what
    ``not_utf8`` makes of them (each caller reports such bytes its own way)."""
    if isinstance(value, str):
        return value
    raw = bytes(value)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return not_utf8(raw)


def _latin1(raw: bytes) -> str:
    """Not UTF-8: read anyway, so that parsing reports precisely what is wrong."""
    return raw.decode("latin-1")


Recorder = _Recorder
"""Builds a VerificationResult check by check (shared with the Open Badges 2.0 verifier)."""

__all__ = [
    "CHECKS",
    "DEFAULT_CLOCK_SKEW",
    "FORMATS",
    "INTERNAL_ERROR",
    "JWT_MEDIA_TYPES",
    "Check",
    "Recorder",
    "StatusChecker",
    "VerificationResult",
    "VerifyOptions",
    "check_names",
    "error_for",
    "input_text",
    "verify",
    "verify_credential",
    "verify_presentation",
]
