"""Verify credentials and presentations into a result object, never an exception.

A verifier serves untrusted input, so every failure (bad JSON shape, unknown context, failed
signature, unreachable DID host, even a bug) becomes a failed check with a stable code, and
``verified`` is True only when every check passed.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from did_methods.protocol import DIDResolver
from vc_issuer.core.credentials import (
    embedded_credentials,
    holder_id,
    issuer_id,
    parse_json_document,
    validate_credential,
    validate_presentation,
    validity_period,
)
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.proofs import Clock, ProofCheck, check_challenge, check_domain, verify_proofs
from vc_issuer.core.purposes import ASSERTION_METHOD, AUTHENTICATION
from vc_issuer.core.resolver import default_resolver
from vc_issuer.errors import (
    EXIT_BAD_INPUT,
    EXIT_ENVIRONMENT,
    EXIT_NOT_VERIFIED,
    EXIT_OK,
    HolderMismatchError,
    InternalError,
    InvalidChallengeError,
    InvalidDomainError,
    IssuerMismatchError,
    ValidityPeriodError,
    VCIssuerError,
)

log = logging.getLogger(__name__)

INTERNAL_ERROR = InternalError.code
DEFAULT_CLOCK_SKEW = timedelta(seconds=300)


@dataclass
class Check:
    """One named check; ``code`` and ``detail`` say why it failed."""

    name: str
    passed: bool
    code: str | None = None
    detail: str | None = None
    exit_code: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "passed": self.passed}
        if self.code is not None:
            out["code"] = self.code
        if self.detail is not None:
            out["detail"] = self.detail
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verified": self.verified,
            "kind": self.kind,
            "checks": [c.to_dict() for c in self.checks],
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }
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
        self.checks.append(check)
        if not check.passed:
            self.errors.append(
                {"code": check.code or INTERNAL_ERROR, "detail": check.detail, "check": check.name}
            )

    def result(self) -> VerificationResult:
        verified = bool(self.checks) and all(c.passed for c in self.checks)
        return VerificationResult(
            verified, self.checks, self.errors, self.warnings, self.kind, self.credential_results
        )


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
    credential: Any,
    *,
    resolver: DIDResolver | None = None,
    loader: ContextLoader | None = None,
    now: Clock | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    status_checker: StatusChecker | None = None,
    allow_private_hosts: bool = False,
) -> VerificationResult:
    """Check structure, proofs, issuer = key controller, validity period and status.

    ``credential`` may be a dict or JSON text. Never raises on a bad credential.
    """
    rec = _Recorder("credential")
    own_resolver = None
    try:
        own_resolver = await _verify_credential(
            rec, credential, resolver, loader, now, clock_skew, status_checker, allow_private_hosts
        )
    except VCIssuerError as exc:
        rec.fail("credential", exc)
    except Exception as exc:
        rec.internal("credential", exc)
    finally:
        if own_resolver is not None:
            await _close(own_resolver)
    return rec.result()


async def _verify_credential(
    rec: _Recorder,
    credential: Any,
    resolver: DIDResolver | None,
    loader: ContextLoader | None,
    now: Clock | None,
    clock_skew: timedelta,
    status_checker: StatusChecker | None,
    allow_private_hosts: bool,
) -> DIDResolver | None:
    try:
        credential = _as_document(credential)
        version = validate_credential(credential)
    except VCIssuerError as exc:
        rec.fail("structure", exc)
        return None
    rec.ok("structure", f"VC {version}")
    moment = _clock(now)

    own = None
    if resolver is None:
        resolver = own = default_resolver(allow_private=allow_private_hosts)

    # proofs
    proof_checks: list[ProofCheck] = []
    try:
        proof_checks = await verify_proofs(
            credential, resolver=resolver, loader=loader,
            expected_purpose=ASSERTION_METHOD, now=lambda: moment,
        )  # fmt: skip
        _record_proofs(rec, proof_checks)
    except VCIssuerError as exc:
        rec.fail("proof", exc)

    # issuer = controller of every key that signed it
    issuer = issuer_id(credential)
    controllers = [pc.controller for pc in proof_checks if pc.controller is not None]
    if controllers:
        wrong = [c for c in controllers if c != issuer]
        if wrong:
            rec.fail(
                "issuer",
                IssuerMismatchError(
                    f"issuer {issuer} is not the controller {wrong[0]} of the signing key"
                ),
            )
        else:
            rec.ok("issuer", issuer)

    # validity period, with clock skew both ways
    _check_validity(rec, credential, version, moment, clock_skew)

    # status
    if status_checker is not None:
        try:
            for check in await status_checker.check(credential):
                rec.add(check)
        except VCIssuerError as exc:
            rec.fail("status", exc)
    elif credential.get("credentialStatus") is not None:
        rec.warn("STATUS_NOT_CHECKED", "the credential has credentialStatus; status not checked")
    return own


def _check_validity(
    rec: _Recorder,
    credential: Mapping[str, Any],
    version: Literal["1.1", "2.0"],
    moment: datetime,
    skew: timedelta,
) -> None:
    start, end = validity_period(credential, version)
    start_name, end_name = (
        ("validFrom", "validUntil") if version == "2.0" else ("issuanceDate", "expirationDate")
    )
    if start is not None and moment + skew < start:
        rec.fail(
            "validity",
            ValidityPeriodError(f"not yet valid: {start_name} is {credential[start_name]}"),
        )
    elif end is not None and moment - skew > end:
        rec.fail("validity", ValidityPeriodError(f"expired: {end_name} is {credential[end_name]}"))
    else:
        rec.ok("validity")


async def verify_presentation(
    presentation: Any,
    *,
    challenge: str | None = None,
    domain: str | None = None,
    resolver: DIDResolver | None = None,
    loader: ContextLoader | None = None,
    now: Clock | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    status_checker: StatusChecker | None = None,
    allow_private_hosts: bool = False,
) -> VerificationResult:
    """Check a presentation (signed with purpose authentication, or unsigned) and each
    credential in it. Never raises on a bad presentation."""
    rec = _Recorder("presentation")
    own = None
    try:
        vp = _as_document(presentation)
        try:
            validate_presentation(vp)
        except VCIssuerError as exc:
            rec.fail("structure", exc)
            return rec.result()
        rec.ok("structure")
        moment = _clock(now)
        if resolver is None:
            resolver = own = default_resolver(allow_private=allow_private_hosts)

        if "proof" in vp:
            await _verify_presentation_proof(rec, vp, challenge, domain, resolver, loader, moment)
        else:
            rec.warn("PRESENTATION_NOT_SIGNED", "the presentation has no proof")
            if challenge is not None:
                rec.fail(
                    "challenge", InvalidChallengeError("an unsigned presentation has no challenge")
                )
            if domain is not None:
                rec.fail("domain", InvalidDomainError("an unsigned presentation has no domain"))

        for i, vc in enumerate(embedded_credentials(vp)):
            result = await verify_credential(
                vc, resolver=resolver, loader=loader, now=lambda: moment,
                clock_skew=clock_skew, status_checker=status_checker,
            )  # fmt: skip
            rec.credential_results.append(result)
            label = vc.get("id") if isinstance(vc, Mapping) else None
            detail = f"verifiableCredential[{i}]" + (f" {label}" if label else "")
            if result.verified:
                rec.ok("credential", detail)
            else:
                code = (result.codes() or [INTERNAL_ERROR])[0]
                exit_code = result.exit_code()
                rec.add(Check("credential", False, code, detail, exit_code))
    except VCIssuerError as exc:
        rec.fail("presentation", exc)
    except Exception as exc:
        rec.internal("presentation", exc)
    finally:
        if own is not None:
            await _close(own)
    return rec.result()


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


__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "INTERNAL_ERROR",
    "Check",
    "StatusChecker",
    "VerificationResult",
    "verify_credential",
    "verify_presentation",
]
