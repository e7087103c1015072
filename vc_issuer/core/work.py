"""A per-request work budget that the expensive core algorithms check cooperatively.

Why: one anonymous request must not be able to hold a CPU for seconds. JSON-LD expansion and
node-map building, RDFC-1.0, schema validation and status-bitstring decoding each call
:func:`charge` as they go; when the active budget (a deadline on the CPU clock plus a step
counter) is spent, :class:`~vc_issuer.errors.WorkBudgetExceededError` is raised, which callers
report with its stable code. With no active budget, :func:`charge` only counts nothing and
returns: the CLI and library users are unbounded unless they ask.

Pure: the clock is injected (CPU time of the calling thread by default; the worker pool gives
every request its own budget, see vc_issuer.services.workpool). Nesting is bounded too:
:func:`nested` guards recursive walks so that a deep structure fails with the same code, never
with ``RecursionError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from vc_issuer.errors import WorkBudgetExceededError

__all__ = [
    "DEFAULT_CPU_SECONDS",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_STEPS",
    "INLINE_STEPS",
    "WorkBudget",
    "active",
    "active_budget",
    "budget",
    "charge",
    "nested",
]

DEFAULT_CPU_SECONDS = 0.8
"""CPU seconds one request may spend in the expensive algorithms."""
DEFAULT_MAX_STEPS = 20_000_000
"""Steps (nodes expanded, values mapped, quads hashed, bytes decoded / 1 KiB...)."""
DEFAULT_MAX_DEPTH = 200
"""Nesting of recursive walks (RDFC's hash N-degree recursion, JSON-LD node walks)."""

INLINE_STEPS = 1_000
"""Steps of a caller's work the server's event loop may run for one request before the worker
pool takes it over (vc_issuer.http.offload): about 5 ms of CPU at the measured 4-5 us a step,
where an honest Open Badge takes ~200 steps. Counted in steps, not on the CPU clock: on the
event loop the thread's CPU clock also runs while other requests' tasks do."""

_CLOCK_EVERY = 512  # steps between clock reads: the clock costs ~100 ns, a step ~1 us


@dataclass
class WorkBudget:
    """A deadline on ``clock`` plus a step counter; :meth:`charge` raises when either is spent."""

    seconds: float = DEFAULT_CPU_SECONDS
    max_steps: int = DEFAULT_MAX_STEPS
    max_depth: int = DEFAULT_MAX_DEPTH
    clock: Callable[[], float] = time.thread_time
    steps: int = 0
    depth: int = 0
    deadline: float = field(init=False)
    _next_check: int = field(init=False, default=_CLOCK_EVERY)
    spent: bool = field(init=False, default=False)
    """True once the steps or the time ran out (not the nesting limit, which is the same
    everywhere): the inline attempt's signal to hand the request to the pool."""

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.seconds

    def charge(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps >= self._next_check:
            self._next_check = self.steps + _CLOCK_EVERY
            if self.steps > self.max_steps:
                self.spent = True
                raise WorkBudgetExceededError(
                    f"the request needs more than {self.max_steps} processing steps",
                    limit="steps",
                    value=self.max_steps,
                )
            self.check_time()

    def check_time(self) -> None:
        if self.clock() > self.deadline:
            self.spent = True
            raise WorkBudgetExceededError(
                f"the request needs more than {self.seconds:g} s of processing",
                limit="cpu",
                value=self.seconds,
            )

    def enter(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            self.depth = 0  # the error unwinds every level; leave the budget reusable
            raise WorkBudgetExceededError(
                f"the document nests more than {self.max_depth} levels deep "
                "(blank-node chains and cycles count)",
                limit="depth",
                value=self.max_depth,
            )

    def leave(self) -> None:
        if self.depth > 0:
            self.depth -= 1

    def step_in(self) -> None:
        """:meth:`charge` one step and :meth:`enter` one level: what every node of a recursive
        walk does, in one call (the walks call it per node; measured, the two calls cost
        more than the checks)."""
        self.steps += 1
        if self.steps >= self._next_check:
            self.steps -= 1
            self.charge()
        self.depth += 1
        if self.depth > self.max_depth:
            self.depth -= 1
            self.enter()


_ACTIVE: ContextVar[WorkBudget | None] = ContextVar("vc_issuer_work_budget", default=None)


def active() -> WorkBudget | None:
    """The budget of the current request, if one is active."""
    return _ACTIVE.get()


active_budget = _ACTIVE.get
""":func:`active` without the wrapper, for the per-node hooks of the walks."""


def charge(steps: int = 1) -> None:
    """Count ``steps`` against the active budget (no-op when none is active)."""
    b = _ACTIVE.get()
    if b is not None:
        b.charge(steps)


@contextmanager
def nested() -> Iterator[None]:
    """One level of a recursive walk: past the budget's ``max_depth`` it raises the work-limit
    error. Without an active budget, the default depth still applies (never RecursionError)."""
    b = _ACTIVE.get()
    if b is None:
        b = WorkBudget(seconds=float("inf"), max_steps=2**62)
        token = _ACTIVE.set(b)
        try:
            b.enter()
            try:
                yield
            finally:
                b.leave()
        finally:
            _ACTIVE.reset(token)
        return
    b.enter()
    try:
        yield
    finally:
        b.leave()


@contextmanager
def budget(limit: WorkBudget | None = None) -> Iterator[WorkBudget]:
    """Run the block under ``limit`` (a fresh default budget when None)."""
    b = limit if limit is not None else WorkBudget()
    token = _ACTIVE.set(b)
    try:
        yield b
    finally:
        _ACTIVE.reset(token)
