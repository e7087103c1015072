"""Verification of callers' input in the worker pool, never on the event loop.

The routes (``POST /credentials/verify``, ``/presentations/verify``, the ``/verify`` page and
the credential pages, baked images) call :func:`verify` / :func:`verify_vp` here instead of the
verifier. Each worker builds, once, what the app would use (see :class:`VerifySpec`): a resolver
that knows our own DID document, a status checker, a fetcher, the context loader; our own status
lists are read through the parent (:func:`~vc_issuer.services.workpool.call_parent`), which has
the store. The arguments and the result are small and picklable.

An app built with an injected resolver or status checker (tests, embedders) has no spec: its
verification runs in-process, as before, because those objects live only in the parent.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from did_methods.fetch import SafeFetcher
from did_methods.registry import Resolver
from vc_issuer.badges.verify import verify_input
from vc_issuer.core import jsonld, work
from vc_issuer.core.jsonld import ContextLoader
from vc_issuer.core.related import ResourceBytes
from vc_issuer.core.resolver import StaticResolver
from vc_issuer.errors import WorkBudgetExceededError
from vc_issuer.http.public import etag_matches
from vc_issuer.http.state import VerifySeams, state_of
from vc_issuer.services.issuer import LIST_PATH, Issuer
from vc_issuer.services.status_check import (
    MAX_STATUS_ENTRIES,
    MAX_STATUS_LISTS,
    FetchResult,
    SafeFetch,
    StatusListChecker,
    credential_verifier,
)
from vc_issuer.services.verifier import VerificationResult, verify_presentation
from vc_issuer.services.workpool import PoolLimits, WorkPool, call_parent

__all__ = ["Offload", "VerifySpec", "make_offload", "settle", "verify", "verify_vp"]


@dataclass(frozen=True)
class VerifySpec:
    """What a worker needs to verify like the app does (picklable)."""

    did: str
    did_document: Mapping[str, Any] | None
    list_prefix: str
    allow_private: bool
    loader: ContextLoader | None
    resources: ResourceBytes


class _Env:
    """A worker's verifier edges, built on first use and kept (warm caches)."""

    def __init__(self, spec: VerifySpec) -> None:
        self.spec = spec
        network = Resolver(allow_private=spec.allow_private)
        self.resolver: Any = (
            StaticResolver({spec.did: dict(spec.did_document)}, fallback=network)
            if spec.did_document is not None
            else network
        )
        self.fetcher = SafeFetcher(allow_private=spec.allow_private)
        self.status_checker = StatusListChecker(
            fetch=_ParentFirstFetch(spec.list_prefix, SafeFetch(allow_private=spec.allow_private)),
            allow_private=spec.allow_private,
            verify_list=credential_verifier(self.resolver, loader=spec.loader),
        )


_SPEC: VerifySpec | None = None
_ENV: _Env | None = None


def _install(spec: VerifySpec) -> None:
    """The pool's initializer: each worker keeps the app's spec and warms its context caches
    (outside any request's budget: processing the pinned contexts costs ~0.5 s CPU once)."""
    global _SPEC
    _SPEC = spec
    settle(spec.loader)


def settle(loader: ContextLoader | None) -> None:
    """Warm the pinned-context caches, then hand everything alive to ``gc.freeze``.

    Why: a server process holds ~120,000 long-lived objects (modules, processed contexts);
    every full collection walked all of them, about 65 ms of CPU once every ~600 requests
    (~100 us a request, measured with gc callbacks). Frozen objects are never walked again,
    so a full collection only sees what requests left behind."""
    _warm(loader)
    gc.collect()
    gc.freeze()


_V1 = "https://www.w3.org/2018/credentials/v1"
_V2 = "https://www.w3.org/ns/credentials/v2"
_OB3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


def _warm(loader: ContextLoader | None) -> None:
    for contexts in ([_V2], [_V2, _OB3], [_V1]):
        doc = {
            "@context": contexts,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": "did:example:warm", "type": ["Profile"]},
            "credentialSubject": {"type": ["AchievementSubject"],
                                  "achievement": {"type": ["Achievement"], "name": "w"}},
        }  # fmt: skip
        try:
            jsonld.to_quads(doc, loader, safe=False)
        except Exception:  # a context set this home does not pin: nothing to warm
            continue


def _env() -> _Env:
    global _ENV
    if _ENV is None:
        assert _SPEC is not None, "the worker was started without a VerifySpec"
        _ENV = _Env(_SPEC)
    return _ENV


class _ParentFirstFetch:
    """Our own status lists from the parent's store (as LocalFirstFetch), others over HTTP.

    The parent sends our lists along with the request when it sees them named (``_PREFETCHED``,
    answered here as LocalFirstFetch would: 304 when the ETag matches); others are asked for
    (a round trip to the parent's event loop)."""

    def __init__(self, prefix: str, remote: Any) -> None:
        self.prefix = prefix
        self.remote = remote

    async def __call__(self, url: str, headers: Mapping[str, str]) -> FetchResult:
        if url.startswith(self.prefix):
            list_id = url[len(self.prefix) :].split("#", 1)[0]
            if list_id and "/" not in list_id and "?" not in list_id:
                sent = {k.lower(): v for k, v in headers.items()}.get("if-none-match")
                ready = _PREFETCHED.get(list_id)
                if ready is not None:
                    code, answer_headers, _ = ready
                    if code == 200 and etag_matches(sent, answer_headers.get("ETag", "")):
                        return 304, answer_headers, b""
                    return ready
                result: FetchResult = call_parent("own_list", list_id, dict(headers))
                return result
        fetched: FetchResult = await self.remote(url, headers)
        return fetched


_PREFETCHED: dict[str, FetchResult] = {}


async def _verify_in_worker(
    value: Any, kwargs: dict[str, Any], prefetched: dict[str, FetchResult], presentation: bool
) -> VerificationResult:
    """In a worker: ``verify_presentation`` or ``verify_input`` with this worker's edges."""
    env = _env()
    spec = env.spec
    _PREFETCHED.clear()
    _PREFETCHED.update(prefetched)
    seams = VerifySeams(
        resolver=env.resolver,
        loader=spec.loader,
        status_checker=env.status_checker,
        allow_private_hosts=spec.allow_private,
        fetcher=env.fetcher,
        resources=spec.resources,
    )
    return await _run_verifier(value, kwargs, presentation, seams)


async def _run_verifier(
    value: Any, kwargs: dict[str, Any], presentation: bool, seams: VerifySeams
) -> VerificationResult:
    """The verifier with these seams: in a worker, or in-process (the app's own)."""
    common: dict[str, Any] = dict(seams)
    fetcher = common.pop("fetcher")
    if presentation:
        return await verify_presentation(value, **common, **kwargs)
    return await verify_input(value, fetcher=fetcher, **common, **kwargs)


@dataclass
class Offload:
    """The app's work pool (``ServiceState.work``) and what its workers need to verify like the
    app does; ``spec`` is None for an app with injected edges, which verifies in-process."""

    pool: WorkPool
    spec: VerifySpec | None
    issuer: Issuer | None = None
    """Signs callers' credentials in the pool (``Issuer.offload``) while the app runs."""

    async def start(self, app: web.Application) -> None:
        if self.pool.limits.prestart:
            await self.pool.start()
        if self.issuer is not None:
            self.issuer.offload = self.pool.run

    async def close(self, app: web.Application) -> None:
        if self.issuer is not None and self.issuer.offload == self.pool.run:
            self.issuer.offload = None
        await self.pool.close()


def make_offload(
    issuer: Issuer, *, allow_private: bool, pooled: bool, limits: PoolLimits | None = None
) -> Offload:
    """The pool for an app over ``issuer`` (started with the app, stopped at cleanup).
    ``pooled`` is False when the app's verifier edges were injected: they live only in this
    process, so verification stays here."""
    spec = (
        VerifySpec(
            did=issuer.did,
            did_document=issuer.did_document(),
            list_prefix=issuer.base_url + LIST_PATH,
            allow_private=allow_private,
            loader=issuer.loader,
            resources=issuer.resources,
        )
        if pooled
        else None
    )
    pool = WorkPool(
        limits,
        initializer=_install if spec is not None else settle,
        initargs=(spec,) if spec is not None else (None,),
        preload=("vc_issuer.http.offload", "vc_issuer.badges.verify"),
    )
    return Offload(pool, spec, issuer if pooled else None)


def _callbacks(request: web.Request) -> dict[str, Any]:
    """What workers may ask the parent: our own status lists (the app's LocalFirstFetch)."""
    fetch = state_of(request).status_checker.fetch
    local = getattr(fetch, "_local", None)
    if local is None:
        return {}
    return {"own_list": local}


async def _prefetch(callbacks: Mapping[str, Any], value: Any, prefix: str) -> dict[str, Any]:
    """Our own status lists a credential names (at most MAX_STATUS_LISTS, read shallowly):
    sent with the request so the worker needs no round trip for them."""
    own = callbacks.get("own_list")
    status = value.get("credentialStatus") if isinstance(value, Mapping) else None
    if own is None or status is None:
        return {}
    entries = status if isinstance(status, list) else [status]
    ids: list[str] = []
    for entry in entries[:MAX_STATUS_ENTRIES]:
        url = entry.get("statusListCredential") if isinstance(entry, Mapping) else None
        if isinstance(url, str) and url.startswith(prefix):
            list_id = url[len(prefix) :].split("#", 1)[0]
            if list_id and "/" not in list_id and "?" not in list_id and list_id not in ids:
                ids.append(list_id)
    ids = ids[:MAX_STATUS_LISTS]
    # Read together: the store's thread sleeps and wakes less often (4.9 -> 3.3 context
    # switches per verification; throughput unchanged within the noise).
    return dict(zip(ids, await asyncio.gather(*(own(i, {}) for i in ids)), strict=True))


def _weight(request: web.Request) -> int:
    """Queue order: the size of what the caller sent (small, honest documents go first).
    A baked image counts as heavy whatever its size: its credential may be compressed."""
    size = request.content_length or 0
    if request.content_type.startswith("image/"):
        return max(size, HEAVY_IMAGE)
    return size


INLINE_MAX_BYTES = 16 * 1024
"""Input up to this size is tried on the event loop first (an Open Badge is 3-6 kB); larger
input, and any image, goes straight to the pool."""

HEAVY_IMAGE = 1 << 30  # above any PoolLimits.heavy_bytes


async def verify(
    request: web.Request,
    value: Any,
    *,
    media_type: str | None = None,
    recipient_email: str | None = None,
    checks: Collection[str] | None = None,
) -> VerificationResult:
    """``badges.verify.verify_input`` over what the route read, in the pool."""
    kwargs: dict[str, Any] = {"media_type": media_type, "recipient_email": recipient_email}
    return await _verify(request, value, kwargs, checks, presentation=False)


async def verify_vp(
    request: web.Request,
    vp: Any,
    *,
    challenge: str | None = None,
    domain: str | None = None,
    checks: Collection[str] | None = None,
) -> VerificationResult:
    """``services.verifier.verify_presentation`` in the pool."""
    kwargs: dict[str, Any] = {"challenge": challenge, "domain": domain}
    return await _verify(request, vp, kwargs, checks, presentation=True)


async def _verify(
    request: web.Request,
    value: Any,
    kwargs: dict[str, Any],
    checks: Collection[str] | None,
    *,
    presentation: bool,
) -> VerificationResult:
    if checks is not None:
        kwargs["checks"] = frozenset(checks)
    offload = state_of(request).work
    spec = offload.spec if isinstance(offload, Offload) else None
    if not isinstance(offload, Offload) or spec is None:
        return await _in_process(request, value, kwargs, presentation=presentation)
    weight = _weight(request)
    if weight <= INLINE_MAX_BYTES:
        # Small input first on the event loop, within work.INLINE_STEPS (~5 ms of CPU; an
        # honest credential takes ~1 ms): a round trip to the pool costs an honest request
        # more than its own work (docs/limits.md). Whatever needs more goes to the pool.
        budget = work.WorkBudget(max_steps=work.INLINE_STEPS)
        try:
            with work.budget(budget):
                result = await _in_process(request, value, kwargs, presentation=presentation)
        except WorkBudgetExceededError:
            if not budget.spent:  # the nesting limit: the pool would say the same
                raise
        else:
            if not budget.spent:
                return result
    callbacks = _callbacks(request)
    prefetched = {} if presentation else await _prefetch(callbacks, value, spec.list_prefix)
    pooled: VerificationResult = await offload.pool.run(
        _verify_in_worker,
        value,
        kwargs,
        prefetched,
        presentation,
        callbacks=callbacks,
        weight=weight,
    )
    return pooled


async def _in_process(
    request: web.Request, value: Any, kwargs: dict[str, Any], *, presentation: bool
) -> VerificationResult:
    return await _run_verifier(value, kwargs, presentation, state_of(request).verify_seams())
