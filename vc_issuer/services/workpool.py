"""A bounded pool of worker processes for the CPU-bound work done on callers' input.

Why processes (docs/limits.md has the figures): 8 concurrent canonicalizations of a large
credential blocked the event loop 2.8 s when run on it, delayed it up to 160-215 ms from 2-4
threads (the GIL: threads compete with the loop), and 16 ms from this pool's 2 processes. On
the loaded 2-core test machine the processes were not faster than threads (2.2 s vs 1.5-1.8 s
for the batch); they were chosen for the loop's latency and because a process can be killed
when it overruns and capped in memory (RLIMIT_AS), which a thread cannot.

Each call runs under a fresh :class:`~vc_issuer.core.work.WorkBudget` (CPU seconds of the
worker, checked cooperatively by the core algorithms: over budget is a clean
``WORK_BUDGET_EXCEEDED``). Hard backstops, for code that does not check the budget: RLIMIT_CPU
(the kernel kills a worker one second past its budget), a wall-clock limit (network waits
included) after which the worker is killed, and RLIMIT_AS (a MemoryError or a kill). A killed
worker is replaced. When every worker is busy and ``queue`` callers already wait, a call fails
at once with ``SERVER_BUSY`` (503, ``Retry-After``).

Workers are persistent (their JSON-LD loader, resolver and status-list caches stay warm),
started on first use or all at once (``prestart``, as the server does) from a preloaded
forkserver (a replacement costs a fork, not an interpreter start). The queue serves lighter
calls first (``weight``: the size of the caller's input; heavy calls after light ones, and
within each kind a delay of 1 s per MiB after arrival, so no call starves), and heavy ones
never hold the last worker.
A task is a picklable top-level function and picklable arguments; a coroutine function runs on
the worker's own event loop. A task may call back into the parent with :func:`call_parent`
(for what only the parent has, such as the issuer's store); the parent answers with the
``callbacks`` given to :meth:`WorkPool.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import logging
import math
import multiprocessing
import os
import resource
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from vc_issuer.core import work
from vc_issuer.errors import (
    ConfigError,
    InternalError,
    ServerBusyError,
    VCIssuerError,
    WorkBudgetExceededError,
)

log = logging.getLogger(__name__)

__all__ = ["PoolLimits", "WorkPool", "call_parent", "in_worker"]


@dataclass(frozen=True)
class PoolLimits:
    """The pool's bounds (docs/limits.md)."""

    workers: int = 2
    """Worker processes (default: the number of CPUs, at least 1, at most 8)."""
    queue: int = 64
    """Callers that may wait for a worker; one more is ``SERVER_BUSY``."""
    cpu_seconds: float = work.DEFAULT_CPU_SECONDS
    """CPU seconds per call (cooperative: ``WORK_BUDGET_EXCEEDED``; the kernel kills 1 s later)."""
    wall_seconds: float = 30.0
    """Wall seconds per call, network waits included; then the worker is killed."""
    memory_bytes: int = 1 << 30
    """RLIMIT_AS of each worker."""
    retry_after: int = 1
    """Seconds a busy server asks callers to wait (``Retry-After``)."""
    heavy_bytes: int = 64 * 1024
    """Calls weighing this much (the caller's input, in bytes) or more are heavy: they may
    hold all workers but one, so light calls always find one."""
    prestart: bool = False
    """Start (and warm) every worker when the app starts, not on first use (the server)."""

    @classmethod
    def default(cls, server_processes: int = 1, **changes: Any) -> PoolLimits:
        """About one worker per CPU in all (each of ``server_processes`` gets its share),
        then the environment (docs/limits.md), then ``changes``."""
        cpus = os.cpu_count() or 1
        values: dict[str, Any] = {"workers": max(1, min(8, cpus // max(1, server_processes)))}
        for name, (env, kind) in _ENV.items():
            raw = os.environ.get(env)
            if raw:
                try:
                    values[name] = kind(raw)
                except ValueError:
                    raise ConfigError(f"{env} must be a number, got {raw!r}") from None
        if "memory_bytes" in values:
            values["memory_bytes"] *= 1024 * 1024
        values.update(changes)
        return cls(**values)


_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "workers": ("VC_ISSUER_WORK_PROCESSES", int),
    "queue": ("VC_ISSUER_WORK_QUEUE", int),
    "cpu_seconds": ("VC_ISSUER_WORK_CPU_SECONDS", float),
    "wall_seconds": ("VC_ISSUER_WORK_WALL_SECONDS", float),
    "memory_bytes": ("VC_ISSUER_WORK_MEMORY_MIB", int),
}
"""Environment variables that override the pool's defaults (docs/limits.md)."""


WORKER_NICENESS = int(os.environ.get("VC_ISSUER_WORK_NICE", "3"))
"""Workers run at a lower CPU priority than the server's event loop (``VC_ISSUER_WORK_NICE``)."""


# --- the worker side -------------------------------------------------------------------------

_PARENT: Connection | None = None
_LOOP: asyncio.AbstractEventLoop | None = None


def in_worker() -> bool:
    """True inside a pool worker."""
    return _PARENT is not None


def call_parent(name: str, *args: Any) -> Any:
    """Run the parent's callback ``name`` (given to WorkPool.run) and return its result."""
    if _PARENT is None:
        raise InternalError(f"call_parent({name!r}) outside a pool worker")
    _PARENT.send(("call", name, args))
    kind, value = _PARENT.recv()
    if kind == "err":
        raise value
    return value


def _set_cpu_limit(seconds: float) -> None:
    """The kernel's backstop: SIGXCPU (which terminates) one second past this call's budget.
    Only the soft limit moves: an unprivileged process cannot raise a lowered hard limit."""
    used = time.process_time()
    soft = math.ceil(used + seconds) + 1
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


def _portable(exc: BaseException) -> BaseException:
    """An exception the parent can unpickle: ours as they are, anything else as internal."""
    if isinstance(exc, VCIssuerError):
        return exc
    return InternalError(f"internal error in a worker: {type(exc).__name__}")


def _worker_main(
    conn: Connection,
    memory_bytes: int,
    initializer: Callable[..., Any] | None,
    initargs: tuple[Any, ...],
) -> None:
    global _PARENT, _LOOP
    _PARENT = conn
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)  # the event loop (and /healthz) wins the CPU when contended
    _LOOP = asyncio.new_event_loop()
    asyncio.set_event_loop(_LOOP)
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        fn, args, cpu_seconds = msg
        _set_cpu_limit(cpu_seconds)
        try:
            with work.budget(work.WorkBudget(cpu_seconds, clock=time.process_time)):
                out = fn(*args)
                if inspect.isawaitable(out):
                    out = _LOOP.run_until_complete(out)
            reply: tuple[str, Any] = ("ok", out)
        except MemoryError:
            reply = ("dead", WorkBudgetExceededError("the request needs too much memory",
                                                     limit="memory"))  # fmt: skip
        except BaseException as exc:  # report every failure; the worker lives on
            if not isinstance(exc, (VCIssuerError, Exception)):
                return
            reply = ("err", _portable(exc))
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("dead", WorkBudgetExceededError("the result is too large", limit="memory")))
            return
        except Exception as exc:  # an unpicklable result
            conn.send(("err", InternalError(f"result could not be sent: {type(exc).__name__}")))
        if reply[0] == "dead":
            return  # a worker that ran out of memory starts afresh


# --- the parent side -------------------------------------------------------------------------


QUEUE_SECONDS_PER_BYTE = 1e-6
"""A waiting call's place among calls of its kind (light or heavy, light ones always first):
its arrival time plus this much per byte of input (64 KiB: 65 ms, 1 MiB: ~1 s). Ordering by
exact size starved a request a few bytes longer than the others (p99 0.5-1.7 s under 16
honest clients); this still serves a smaller document first unless it came much later, and
every call is served eventually."""


def _queue_key(weight: int, heavy: bool) -> tuple[bool, float]:
    return heavy, time.monotonic() + max(0, weight) * QUEUE_SECONDS_PER_BYTE


_Waiter = tuple[tuple[bool, float], int, bool, "asyncio.Future[_Worker | None]"]


class _Worker:
    def __init__(
        self,
        ctx: Any,
        memory_bytes: int,
        initializer: Callable[..., Any] | None,
        initargs: tuple[Any, ...],
    ) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn: Connection = parent
        self.process = ctx.Process(
            target=_worker_main,
            args=(child, memory_bytes, initializer, initargs),
            daemon=True,
            name="vc-issuer-work",
        )
        self.process.start()
        child.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.conn.close()

    def reap(self) -> None:
        with contextlib.suppress(Exception):
            self.process.join(timeout=5)


Callback = Callable[..., Awaitable[Any]]


class WorkPool:
    """``await pool.run(fn, *args)``: ``fn(*args)`` in a worker process, within the limits."""

    def __init__(
        self,
        limits: PoolLimits | None = None,
        *,
        initializer: Callable[..., Any] | None = None,
        initargs: tuple[Any, ...] = (),
        preload: tuple[str, ...] = (),
    ) -> None:
        """``initializer(*initargs)`` runs once in each worker as it starts (picklable);
        ``preload``: modules the forkserver imports once, so a new worker starts warm."""
        self.limits = limits or PoolLimits.default()
        self._ctx = multiprocessing.get_context("forkserver")
        if preload:
            self._ctx.set_forkserver_preload(["vc_issuer.services.workpool", *preload])
        self._init = initializer
        self._initargs = initargs
        self._idle: list[_Worker] = []
        self._started = 0
        self._waiting: list[_Waiter] = []
        self._seq = 0
        self._heavy = 0  # workers running heavy calls
        self._closed = False
        self.replaced = 0
        """Workers killed and replaced (over budget, out of memory, crashed)."""

    def _eligible(self, heavy: bool) -> bool:
        return not heavy or self._heavy < max(1, self.limits.workers - 1)

    async def _acquire(self, weight: int) -> _Worker:
        """An idle worker, a new one, or a place in the queue: lighter calls first (a
        verifier's small credential does not wait behind an attacker's 1 MiB documents, see
        QUEUE_SECONDS_PER_BYTE; calls of about the same size keep their arrival order), and
        heavy calls (``heavy_bytes`` and more) never hold the last worker."""
        heavy = weight >= self.limits.heavy_bytes
        if self._eligible(heavy) and self._idle:
            self._heavy += heavy
            return self._idle.pop()
        if self._eligible(heavy) and self._started < self.limits.workers:
            self._heavy += heavy
            self._started += 1
        else:
            if len(self._waiting) >= self.limits.queue:
                raise ServerBusyError(
                    "every verification worker is busy; retry shortly",
                    retryAfter=self.limits.retry_after,
                )
            fut: asyncio.Future[_Worker | None] = asyncio.get_running_loop().create_future()
            self._seq += 1
            entry = (_queue_key(weight, heavy), self._seq, heavy, fut)
            heapq.heappush(self._waiting, entry)
            try:
                granted = await fut  # _release counted it (heavy, started)
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._release(fut.result(), heavy)  # granted just as we were cancelled
                elif entry in self._waiting:
                    self._waiting.remove(entry)
                    heapq.heapify(self._waiting)
                raise
            if granted is not None:
                return granted
        try:
            return await asyncio.to_thread(
                _Worker, self._ctx, self.limits.memory_bytes, self._init, self._initargs
            )
        except BaseException:
            self._release(None, heavy)
            raise

    def _release(self, worker: _Worker | None, heavy: bool = False) -> None:
        """Hand ``worker`` to the lightest eligible waiter (or keep it idle); None: a worker
        was discarded, so its slot goes to a waiter (which starts a new worker) or is freed."""
        self._heavy -= heavy
        if worker is not None and self._closed:
            worker.kill()
            worker = None
        if worker is None:
            self._started -= 1
        while self._waiting:
            _, _, waiter_heavy, fut = self._waiting[0]
            if fut.done():
                heapq.heappop(self._waiting)
                continue
            if not self._eligible(waiter_heavy):
                break  # the lightest waiter is heavy, and heavy calls hold enough workers
            heapq.heappop(self._waiting)
            self._heavy += waiter_heavy
            if worker is None:
                self._started += 1
            fut.set_result(worker)
            return
        if worker is not None:
            self._idle.append(worker)

    async def _discard(self, worker: _Worker, heavy: bool = False) -> None:
        worker.kill()
        self.replaced += 1
        await asyncio.to_thread(worker.reap)
        self._release(None, heavy)

    async def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        callbacks: Mapping[str, Callback] | None = None,
        cpu_seconds: float | None = None,
        weight: int = 0,
    ) -> Any:
        """``fn(*args)`` in a worker. ``weight`` orders the queue (lighter first: the size
        of the caller's input); ``callbacks`` answer the worker's call_parent."""
        if self._closed:
            raise ServerBusyError("the server is shutting down", retryAfter=self.limits.retry_after)
        worker = await self._acquire(weight)
        heavy = weight >= self.limits.heavy_bytes
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.wall_seconds
        cpu = cpu_seconds if cpu_seconds is not None else self.limits.cpu_seconds
        try:
            worker.conn.send((fn, args, cpu))
            while True:
                kind, *rest = await self._recv(worker, deadline - loop.time())
                if kind == "call":
                    name, call_args = rest
                    worker.conn.send(await self._callback(callbacks, name, call_args))
                    continue
                break
        except TimeoutError:
            await self._discard(worker, heavy)
            raise WorkBudgetExceededError(
                f"the request took more than {self.limits.wall_seconds:g} s",
                limit="wall",
                value=self.limits.wall_seconds,
            ) from None
        except (EOFError, OSError, ConnectionError):
            await self._discard(worker, heavy)
            raise WorkBudgetExceededError(
                "the request exhausted its worker's CPU or memory budget", limit="worker"
            ) from None
        except BaseException:  # cancelled, or an unpicklable argument: never reuse mid-task
            await self._discard(worker, heavy)
            raise
        (value,) = rest
        if kind == "dead":
            await self._discard(worker, heavy)
        else:
            self._release(worker, heavy)
        if kind == "ok":
            return value
        raise value

    @staticmethod
    async def _callback(
        callbacks: Mapping[str, Callback] | None, name: str, args: tuple[Any, ...]
    ) -> tuple[str, Any]:
        fn = (callbacks or {}).get(name)
        if fn is None:
            return "err", InternalError(f"no parent callback {name!r}")
        try:
            return "ok", await fn(*args)
        except VCIssuerError as exc:
            return "err", exc
        except Exception as exc:
            log.exception("pool callback %s failed", name)
            return "err", InternalError(f"callback {name} failed: {type(exc).__name__}")

    @staticmethod
    async def _recv(worker: _Worker, timeout: float) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        if timeout <= 0:
            raise TimeoutError
        ready: asyncio.Future[None] = loop.create_future()
        fd = worker.conn.fileno()

        def on_ready() -> None:
            if not ready.done():
                ready.set_result(None)

        if not worker.conn.poll():
            loop.add_reader(fd, on_ready)
            try:
                await asyncio.wait_for(ready, timeout)
            finally:
                loop.remove_reader(fd)
        msg = worker.conn.recv()
        assert isinstance(msg, tuple)
        return msg

    async def start(self) -> None:
        """Start every worker now (each runs the initializer, warming its caches)."""
        while self._started < self.limits.workers and not self._closed:
            self._started += 1
            try:
                worker = await asyncio.to_thread(
                    _Worker, self._ctx, self.limits.memory_bytes, self._init, self._initargs
                )
            except BaseException:
                self._release(None)
                raise
            self._release(worker)

    async def close(self) -> None:
        """Stop every idle worker (busy ones are killed when their call ends)."""
        self._closed = True
        idle, self._idle = self._idle, []
        for w in idle:
            w.kill()
        for w in idle:
            await asyncio.to_thread(w.reap)

    @property
    def size(self) -> int:
        """Workers started (idle or busy)."""
        return self._started

    def pids(self) -> list[int]:
        """Process ids of the idle workers (tests, RSS measurements)."""
        return [w.process.pid for w in self._idle if w.process.pid is not None]
