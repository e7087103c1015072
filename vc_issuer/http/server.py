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
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from vc_issuer.errors import (
    BindError,
    ConfigError,
    NoAuthRefusedError,
    TLSConfigError,
)
from vc_issuer.http.middlewares import DEFAULT_MAX_BODY, JsonAccessLogger

log = logging.getLogger("vc_issuer.http.server")

LOOPBACK_NAMES = ("localhost",)


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

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


def is_loopback_host(host: str) -> bool:
    """True only for addresses that cannot be reached from another machine."""
    import ipaddress

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


def configure_logging(level: str = "INFO") -> None:
    """JSON access lines and plain service lines, both on stderr."""
    root = logging.getLogger()
    if not any(getattr(h, "_vc_issuer", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._vc_issuer = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(level)
        access = logging.getLogger("vc_issuer.http.access")
        access_handler = logging.StreamHandler(sys.stderr)
        access_handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(access_handler)
        access.propagate = False


async def _build_app(opts: ServeOptions) -> web.Application:
    from vc_issuer.http.app import create_app
    from vc_issuer.services.home import load_home, open_issuer

    cfg = load_home(Path(opts.home))
    if opts.base_url:
        cfg = dataclasses.replace(cfg, base_url=opts.base_url.rstrip("/"))
    issuer = await open_issuer(cfg)
    try:
        return create_app(
            issuer,
            auth=opts.auth,
            allow_private=opts.allow_private,
            max_body=opts.max_body,
            close_issuer=True,
        )
    except BaseException:
        await issuer.close()
        raise


async def serve(
    opts: ServeOptions,
    *,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[list[Any]], None] | None = None,
    reuse_port: bool = False,
) -> None:
    """Serve until ``stop`` is set or SIGTERM/SIGINT arrives, then shut down gracefully."""
    ssl_ctx = (
        make_ssl_context(opts.tls_cert, opts.tls_key) if opts.tls_cert and opts.tls_key else None
    )
    app = await _build_app(opts)
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
        site = web.TCPSite(
            runner,
            opts.host,
            opts.port,
            ssl_context=ssl_ctx,
            shutdown_timeout=opts.shutdown_timeout,
            reuse_port=reuse_port or None,
            backlog=1024,
        )
        await site.start()
        if on_ready is not None:
            on_ready(list(runner.addresses))
        await stop.wait()
        log.info("shutting down: finishing requests in flight (up to %ss)", opts.shutdown_timeout)
    finally:
        try:
            await runner.cleanup()  # a second signal meanwhile changes nothing
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
    log.info("stopped")


def _worker_main(opts: ServeOptions, ready: Any, index: int) -> None:
    """Entry point of a spawned worker process."""
    configure_logging(opts.log_level)

    def report(addresses: list[Any]) -> None:
        ready.put(("ready", index, os.getpid()))

    try:
        asyncio.run(serve(opts, on_ready=report, reuse_port=True))
    except Exception as exc:
        ready.put(("error", index, f"{type(exc).__name__}: {exc}"))
        raise SystemExit(3) from None


def _reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) with SO_REUSEPORT: fixes the port for ``--port 0`` and fails fast
    when the address is taken by a process outside the group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot bind {host}:{port}: {exc.strerror}") from None
    return sock


def run_workers(opts: ServeOptions, on_ready: Callable[[str, int], None] | None = None) -> int:
    """Start ``opts.workers`` processes on one port; forward SIGTERM/SIGINT; exit code."""
    reserved = _reserve_port(opts.host, opts.port)
    port = int(reserved.getsockname()[1])
    opts = dataclasses.replace(opts, port=port)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    procs: list[Any] = []
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    old = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for i in range(opts.workers):
            p = ctx.Process(target=_worker_main, args=(opts, ready, i), name=f"vc-issuer-{i}")
            p.start()
            procs.append(p)
        up = 0
        while up < opts.workers and not stopping:
            try:
                kind, _i, info = ready.get(timeout=0.2)
            except Exception:  # queue.Empty
                if any(not p.is_alive() for p in procs):
                    log.error("a worker exited during start-up")
                    stopping = True
                continue
            if kind == "ready":
                up += 1
            else:
                log.error("worker %s failed: %s", _i, info)
                stopping = True
        reserved.close()
        if up == opts.workers and on_ready is not None:
            on_ready(opts.host, port)
        while not stopping:
            if any(not p.is_alive() for p in procs):
                log.error("a worker exited; stopping the others")
                break
            time.sleep(0.2)
    finally:
        reserved.close()
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + opts.shutdown_timeout + 5
        for p in procs:
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        for s, handler in old.items():
            signal.signal(s, handler)
    failed = [p for p in procs if p.exitcode not in (0, -signal.SIGTERM)]
    return 3 if failed else 0


def run(opts: ServeOptions, on_ready: Callable[[str, int], None] | None = None) -> int:
    """Blocking entry point used by ``vc-issuer serve``."""
    check_options(opts)
    configure_logging(opts.log_level)
    if opts.workers > 1:
        return run_workers(opts, on_ready)

    def ready(addresses: list[Any]) -> None:
        if on_ready is not None:
            port = int(addresses[0][1]) if addresses else opts.port
            on_ready(opts.host, port)

    asyncio.run(serve(opts, on_ready=ready))
    return 0


__all__ = [
    "ServeOptions",
    "check_options",
    "configure_logging",
    "is_loopback_host",
    "make_ssl_context",
    "run",
    "run_workers",
    "serve",
]
