"""Run the service: one process, or N worker processes sharing the port with SO_REUSEPORT.

Each worker opens its own issuer and store (so PostgreSQL or SQLite arbitrates index allocation
across processes), binds the same address with SO_REUSEPORT and lets the kernel spread
connections. SIGTERM or SIGINT stops accepting, lets requests in flight finish (up to
``shutdown_timeout``), then closes the store. TLS is served directly from a certificate chain and
key in PEM files.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import logging
import multiprocessing
import multiprocessing.process
import os
import select
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import connection as mp_connection
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiohttp import web

from vc_issuer.errors import (
    BindError,
    ConfigError,
    NoAuthRefusedError,
    TLSConfigError,
)
from vc_issuer.http.app import create_app
from vc_issuer.http.middlewares import DEFAULT_MAX_BODY, JsonAccessLogger
from vc_issuer.http.offload import settle
from vc_issuer.http.ratelimit import install_limits
from vc_issuer.http.services import open_services
from vc_issuer.http.state import STATE_KEY
from vc_issuer.services.home import load_home
from vc_issuer.services.limits import LimitsConfig
from vc_issuer.services.workpool import PoolLimits

log = logging.getLogger("vc_issuer.http.server")

LOOPBACK_NAMES = ("localhost",)
LISTEN_BACKLOG = 1024
# A connection accepted before a stop but with no request yet gets this long to send one (Go's
# http.Server gives new connections 5 s); requests in flight get ``shutdown_timeout``.
NEW_CONNECTION_GRACE = 2.0
DRAIN_POLL = 0.02
RESTART_POLL = 0.5
RESTART_DELAY_MAX = 30.0
RESTART_GIVE_UP = 5


@dataclass(frozen=True)
class ServeOptions:
    """Everything a worker needs (picklable: workers are spawned processes)."""

    home: str
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    workers: int = 1
    auth: bool = True
    allow_private: bool = False
    shutdown_timeout: float = 30.0
    max_body: int = DEFAULT_MAX_BODY
    log_level: str = "INFO"
    rate_limit: float | None = None
    """Overrides ``[limits] rate`` (requests per second per client on anonymous routes)."""
    rate_burst: int | None = None
    trust_forwarded: bool | None = None
    purge_interval: float | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


def is_loopback_host(host: str) -> bool:
    """True only for addresses that cannot be reached from another machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context (TLS 1.2+) from PEM files; errors name the file at fault."""
    for path, what in ((cert, "--tls-cert"), (key, "--tls-key")):
        if not Path(path).is_file():
            raise TLSConfigError(f"{what} {path}: no such file")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise TLSConfigError(f"cannot load the TLS certificate {cert} / key {key}: {exc}") from None
    return ctx


def check_options(opts: ServeOptions) -> None:
    if bool(opts.tls_cert) != bool(opts.tls_key):
        raise TLSConfigError("--tls-cert and --tls-key go together")
    if opts.tls_cert and opts.tls_key:
        make_ssl_context(opts.tls_cert, opts.tls_key)
    if opts.workers < 1 or opts.workers > 64:
        raise ConfigError("--workers must be between 1 and 64")
    if not 0 <= opts.port <= 65535:
        raise ConfigError("--port must be between 0 and 65535")
    if not opts.auth and not is_loopback_host(opts.host):
        raise NoAuthRefusedError(
            f"--no-auth is refused on {opts.host}: bind to 127.0.0.1 or ::1 only",
        )


class JsonLogFormatter(logging.Formatter):
    """Service lines as JSON objects, like the access lines: one log, one format to parse.

    ``extra={"event": "...", "fields": {...}}`` names the event and adds fields; an exception
    goes into ``exc`` as text.
    """

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "event": getattr(record, "event", "log"),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"), default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr: access lines (``vc_issuer.http.access``) and service lines."""
    root = logging.getLogger()
    if not any(getattr(h, "_vc_issuer", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
        handler._vc_issuer = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(level)
        access = logging.getLogger("vc_issuer.http.access")
        access_handler = logging.StreamHandler(sys.stderr)
        access_handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(access_handler)
        access.propagate = False


def _event(level: int, event: str, message: str, *args: object, **fields: Any) -> None:
    log.log(level, message, *args, extra={"event": event, "fields": fields})


async def _build_app(opts: ServeOptions) -> web.Application:
    services = await open_services(
        Path(opts.home),
        base_url=opts.base_url,
        auth=opts.auth,
        allow_private=opts.allow_private,
        work_limits=PoolLimits.default(opts.workers, prestart=True),
    )
    try:
        app = create_app(services, max_body=opts.max_body)
        install_limits(app, serve_limits(load_home(Path(opts.home)).limits, opts))
        return app
    except BaseException:
        await services.issuer.close()
        raise


def serve_limits(limits: LimitsConfig, opts: ServeOptions) -> LimitsConfig:
    """``[limits]`` from config.toml with the ``serve`` flags that were given on top."""
    flags: dict[str, Any] = {
        "rate": opts.rate_limit,
        "burst": opts.rate_burst,
        "trust_forwarded": opts.trust_forwarded,
        "purge_interval": opts.purge_interval,
    }
    return dataclasses.replace(limits, **{k: v for k, v in flags.items() if v is not None})


def _listen(host: str, port: int, *, reuse_port: bool) -> list[socket.socket]:
    """Listening sockets for ``host`` (one per address it resolves to), owned by us so that a
    graceful stop can first take over the connections the kernel has already accepted."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise BindError(f"cannot bind {host}:{port}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise BindError(
            f"cannot bind {host}:{port}: {(exc.strerror or str(exc)).lower()}"
            " (another server on this port? choose another with --port)"
        ) from None
    return sockets


@dataclass
class _Drain:
    """Whether the server is stopping: every response from then on says ``Connection: close``."""

    active: bool = False


DRAIN_KEY = web.AppKey("vc_issuer_drain", _Drain)


async def _close_when_draining(request: web.Request, response: web.StreamResponse) -> None:
    """Tell the client not to reuse the connection (the header is set explicitly: aiohttp has
    already written its own Connection header when this signal runs)."""
    if request.app[DRAIN_KEY].active:
        response.force_close()
        response.headers["Connection"] = "close"


def _awaiting_request(conn: Any) -> bool:
    """The connection's handler is parked waiting for the client's next request (aiohttp's own
    idle test); a parsed request not yet handed to its task does not count as waiting."""
    waiter = getattr(conn, "_waiter", None)
    return waiter is not None and not waiter.done() and not getattr(conn, "_messages", ())


def _requests_seen(conn: Any) -> int:
    return int(getattr(conn, "_request_count", 1))


def _has_unread_bytes(conn: Any) -> bool:
    """The client has already sent something the server has not read yet."""
    transport = getattr(conn, "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


async def _drain(
    runner: web.AppRunner,
    listeners: list[socket.socket],
    ssl_ctx: ssl.SSLContext | None,
    grace: float,
) -> None:
    """Stop accepting without dropping a connection a client has already been given.

    1. Take every connection still waiting in the kernel's accept queue (closing a listening
       socket resets them), then close the listening sockets.
    2. Keep-alive connections between requests are closed (RFC 9112 9.6 lets clients retry on
       those), unless the client's next request is already in the socket.
    3. Connections that have not sent their first request get ``grace`` seconds to send it.
    Requests in flight then finish within the runner's ``shutdown_timeout``
    (:meth:`AppRunner.cleanup`); every response from now on carries ``Connection: close``.
    """
    loop = asyncio.get_running_loop()
    server = runner.server
    assert server is not None
    claimed: list[socket.socket] = []
    for sock in listeners:
        while True:
            try:
                accepted, _address = sock.accept()
            except OSError:  # BlockingIOError: the queue is empty
                break
            claimed.append(accepted)
    for site in list(runner.sites):
        await site.stop()  # no await point before this: nothing is accepted in between
    if claimed:
        results = await asyncio.gather(
            *(
                loop.connect_accepted_socket(
                    server,
                    conn,
                    ssl=ssl_ctx,
                    ssl_handshake_timeout=max(grace, 1.0) if ssl_ctx else None,
                )
                for conn in claimed
            ),
            return_exceptions=True,
        )
        for conn, result in zip(claimed, results, strict=True):
            if isinstance(result, BaseException):
                conn.close()
    seen: dict[Any, int] = {}
    for handler in server.connections:
        count = seen[handler] = _requests_seen(handler)
        if count and _awaiting_request(handler) and not _has_unread_bytes(handler):
            handler.force_close()

    def waiting() -> int:
        """Connections still waiting for the request they are owed."""
        return sum(
            1
            for handler in server.connections
            if _awaiting_request(handler) and _requests_seen(handler) == seen.get(handler, 0)
        )

    deadline = loop.time() + grace
    await asyncio.sleep(DRAIN_POLL)  # let connections accepted just before the stop register
    while waiting() and loop.time() < deadline:
        await asyncio.sleep(DRAIN_POLL)


async def serve(
    opts: ServeOptions,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[list[Any]], None] | None = None,
    reuse_port: bool = False,
) -> None:
    """Serve until ``stop`` is set or SIGTERM/SIGINT arrives, then shut down gracefully: every
    connection accepted so far gets its answer (see :func:`_drain`)."""
    ssl_ctx = (
        make_ssl_context(opts.tls_cert, opts.tls_key) if opts.tls_cert and opts.tls_key else None
    )
    listeners = _listen(opts.host, opts.port, reuse_port=reuse_port)
    try:
        app = await _build_app(opts)
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    drain = _Drain()
    app[DRAIN_KEY] = drain
    app.on_response_prepare.append(_close_when_draining)
    runner = web.AppRunner(
        app,
        access_log_class=JsonAccessLogger,
        access_log=logging.getLogger("vc_issuer.http.access"),
        shutdown_timeout=opts.shutdown_timeout,
        handle_signals=False,
    )
    await runner.setup()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        for sock in listeners:
            site = web.SockSite(
                runner,
                sock,
                ssl_context=ssl_ctx,
                shutdown_timeout=opts.shutdown_timeout,
                backlog=LISTEN_BACKLOG,
            )
            await site.start()
        settle(app[STATE_KEY].issuer.loader)
        if on_ready is not None:
            on_ready(list(runner.addresses))
        await stop.wait()
        server = runner.server
        _event(
            logging.INFO,
            "server.stopping",
            "shutting down: finishing requests in flight (up to %ss)",
            opts.shutdown_timeout,
            connections=len(server.connections) if server is not None else 0,
        )
        drain.active = True
        await _drain(runner, listeners, ssl_ctx, min(NEW_CONNECTION_GRACE, opts.shutdown_timeout))
    finally:
        try:
            await runner.cleanup()  # a second signal meanwhile changes nothing
        finally:
            for sock in listeners:
                sock.close()
            for sig in installed:
                loop.remove_signal_handler(sig)
    _event(logging.INFO, "server.stopped", "stopped")


def _worker_main(opts: ServeOptions, conn: Connection, index: int) -> None:
    """Entry point of a spawned worker process: reports ``ready`` (or its start-up error) on
    its own pipe, so a worker killed at any moment cannot wedge the others' reports."""
    configure_logging(opts.log_level)

    def report(addresses: list[Any]) -> None:
        conn.send(("ready", os.getpid()))

    try:
        asyncio.run(serve(opts, on_ready=report, reuse_port=True))
    except Exception as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise SystemExit(3) from None


def _reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) with SO_REUSEPORT: fixes the port for ``--port 0``, fails fast when the
    address is taken by a process outside the group, and keeps the port ours while a dead
    worker is being replaced (a bound socket that does not listen receives no connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BindError(
            f"cannot bind {host}:{port}: {(exc.strerror or str(exc)).lower()}"
            " (another server on this port? choose another with --port)"
        ) from None
    return sock


@dataclass
class _Worker:
    index: int
    process: multiprocessing.process.BaseProcess
    reports: Connection
    ready: bool = False


def _exit_description(code: int | None) -> dict[str, Any]:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return {"signal": signal.Signals(-code).name}
    return {"exitcode": code}


class _Supervisor:
    """Runs ``opts.workers`` processes on one port and keeps that many running.

    A worker that dies after start-up is replaced at once while the others keep serving; one
    that keeps dying before it is ready is retried with a growing delay (up to
    ``RESTART_DELAY_MAX``), and the service gives up only when no worker is left alive. A worker
    failing during the first start stops everything: that is a configuration error.
    """

    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.ctx = multiprocessing.get_context("spawn")
        self.workers: dict[int, _Worker] = {}
        self.failures: dict[int, int] = {}
        self.respawn_at: dict[int, float] = {}
        self.stopping = False
        self.failed = False
        self.wakeup: socket.socket | None = None  # readable when a signal arrived

    def spawn(self, index: int) -> None:
        reports, child_end = self.ctx.Pipe(duplex=False)
        process = self.ctx.Process(
            target=_worker_main, args=(self.opts, child_end, index), name=f"vc-issuer-{index}"
        )
        process.start()
        child_end.close()
        self.workers[index] = _Worker(index, process, reports)
        _event(logging.INFO, "worker.started", "worker %s started", index,
               worker=index, worker_pid=process.pid)  # fmt: skip

    def read_reports(self, worker: _Worker) -> None:
        with contextlib.suppress(EOFError, OSError):
            while worker.reports.poll():
                kind, info = worker.reports.recv()
                if kind == "ready":
                    worker.ready = True
                    self.failures[worker.index] = 0
                    _event(logging.INFO, "worker.ready", "worker %s ready", worker.index,
                           worker=worker.index, worker_pid=info)  # fmt: skip
                else:
                    _event(logging.ERROR, "worker.failed", "worker %s failed: %s",
                           worker.index, info, worker=worker.index)  # fmt: skip

    def alive(self) -> list[_Worker]:
        return [w for w in self.workers.values() if w.process.is_alive()]

    def run(self, on_started: Callable[[], None]) -> None:
        for i in range(self.opts.workers):
            self.spawn(i)
        started = False
        while not self.stopping:
            waitables: list[Any] = [self.wakeup] if self.wakeup is not None else []
            for w in self.workers.values():
                waitables += [w.reports, w.process.sentinel]
            timeout = RESTART_POLL
            if self.respawn_at:
                timeout = min(timeout, max(0.0, min(self.respawn_at.values()) - time.monotonic()))
            mp_connection.wait(waitables, timeout)
            if self.wakeup is not None:
                with contextlib.suppress(OSError):
                    while self.wakeup.recv(512):
                        pass
            for w in list(self.workers.values()):
                self.read_reports(w)
            if self.stopping:
                break
            for w in list(self.workers.values()):
                if w.process.is_alive():
                    continue
                w.process.join()
                w.reports.close()
                del self.workers[w.index]
                _event(logging.WARNING, "worker.exited", "worker %s (pid %s) exited",
                       w.index, w.process.pid, worker=w.index, worker_pid=w.process.pid,
                       **_exit_description(w.process.exitcode))  # fmt: skip
                if not started:
                    _event(logging.ERROR, "server.failed", "a worker exited during start-up")
                    self.failed = True
                    return
                failures = self.failures.get(w.index, 0) + (0 if w.ready else 1)
                self.failures[w.index] = failures
                if failures >= RESTART_GIVE_UP and not self.alive():
                    _event(logging.ERROR, "server.failed",
                           "no worker is left and worker %s failed to start %s times in a row",
                           w.index, failures)  # fmt: skip
                    self.failed = True
                    return
                delay = 0.0 if failures == 0 else min(RESTART_DELAY_MAX, 0.5 * 2 ** (failures - 1))
                self.respawn_at[w.index] = time.monotonic() + delay
            now = time.monotonic()
            for index, when in list(self.respawn_at.items()):
                if when <= now:
                    del self.respawn_at[index]
                    _event(logging.WARNING, "worker.replaced", "replacing worker %s", index,
                           worker=index)  # fmt: skip
                    self.spawn(index)
            if not started and all(w.ready for w in self.workers.values()):
                started = True
                on_started()

    def stop(self) -> None:
        """SIGTERM to every worker (each drains its connections), then wait for them."""
        for w in self.workers.values():
            if w.process.is_alive() and w.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.opts.shutdown_timeout + NEW_CONNECTION_GRACE + 5
        for w in self.workers.values():
            w.process.join(max(0.1, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.reports.close()
            if w.process.exitcode not in (0, -signal.SIGTERM):
                self.failed = True


def run_workers(opts: ServeOptions, on_ready: Callable[[str, int], None] | None = None) -> int:
    """Start ``opts.workers`` processes on one port, replace any that dies, forward
    SIGTERM/SIGINT; the exit code."""
    reserved = _reserve_port(opts.host, opts.port)
    port = int(reserved.getsockname()[1])
    opts = dataclasses.replace(opts, port=port)
    supervisor = _Supervisor(opts)

    def _stop(signum: int, _frame: object) -> None:
        supervisor.stopping = True

    def started() -> None:
        if on_ready is not None:
            on_ready(opts.host, port)

    old = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    # A signal also writes a byte here, so the supervisor's wait ends at once (not at its next
    # poll) and the workers start draining without delay.
    wake_read, wake_write = socket.socketpair()
    wake_read.setblocking(False)
    wake_write.setblocking(False)
    old_wakeup = signal.set_wakeup_fd(wake_write.fileno())
    supervisor.wakeup = wake_read
    try:
        supervisor.run(started)
        if supervisor.stopping:
            _event(logging.INFO, "server.stopping",
                   "shutting down: stopping %s workers (up to %ss)",
                   len(supervisor.alive()), opts.shutdown_timeout)  # fmt: skip
    finally:
        try:
            supervisor.stop()
        finally:
            reserved.close()
            signal.set_wakeup_fd(old_wakeup)
            wake_read.close()
            wake_write.close()
            for s, handler in old.items():
                signal.signal(s, handler)
    _event(logging.INFO, "server.stopped", "stopped")
    return 3 if supervisor.failed else 0


def run(opts: ServeOptions, on_ready: Callable[[str, int], None] | None = None) -> int:
    """Blocking entry point used by ``vc-issuer serve``."""
    check_options(opts)
    configure_logging(opts.log_level)
    # Files the service creates from now on (the SQLite store's -wal and -shm among them) are
    # readable by their owner only.
    os.umask(os.umask(0o077) | 0o077)
    if opts.workers > 1:
        return run_workers(opts, on_ready)

    def ready(addresses: list[Any]) -> None:
        if on_ready is not None:
            port = int(addresses[0][1]) if addresses else opts.port
            on_ready(opts.host, port)

    asyncio.run(serve(opts, on_ready=ready))
    return 0


__all__ = [
    "JsonLogFormatter",
    "ServeOptions",
    "check_options",
    "configure_logging",
    "is_loopback_host",
    "make_ssl_context",
    "run",
    "run_workers",
    "serve",
]
