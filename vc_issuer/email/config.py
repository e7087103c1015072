"""SMTP settings: the ``[email]`` table of the home's ``config.toml``.

The password is never in the config file (and never in a log or an error): it comes from an
environment variable (``password_env``) or from a file readable by its owner only
(``password_file``, mode 0600), read when a connection is opened.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Final, Literal

from vc_issuer.errors import EmailConfigError, EmailNotConfiguredError

Security = Literal["starttls", "tls", "none"]
SECURITY: Final = ("starttls", "tls", "none")
DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
DEFAULT_MAX_ATTEMPTS: Final = 8


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. ``security``: ``tls`` (implicit TLS, port 465), ``starttls``
    (upgrade a plain connection, port 587) or ``none`` (loopback relays only)."""

    host: str
    sender: str
    port: int = 587
    security: Security = "starttls"
    user: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    reply_to: str | None = None
    per_minute: int = 0
    """At most this many messages a minute (0: no limit)."""
    timeout: float = 30.0
    ca_file: Path | None = None
    """Trust this CA (PEM) for the server's certificate, e.g. a private relay's own."""
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def password(self) -> str | None:
        """The password, read now; an unreadable or too-open file is a config error."""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if not value:
                raise EmailConfigError(
                    f"[email] password_env names {self.password_env}, which is not set"
                )
            return value
        if self.password_file is not None:
            try:
                mode = self.password_file.stat().st_mode
                if mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise EmailConfigError(
                        f"{self.password_file} must be readable by its owner only (chmod 600)"
                    )
                return self.password_file.read_text("utf-8").strip()
            except OSError as exc:
                raise EmailConfigError(
                    f"[email] password_file {self.password_file}: {exc.strerror}"
                ) from None
        return None

    @property
    def sender_domain(self) -> str:
        """The domain of the sender address (for Message-ID)."""
        return parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"


def _address(value: Any, name: str) -> str:
    if not isinstance(value, str) or "@" not in parseaddr(value)[1]:
        raise EmailConfigError(f"[email] {name} must be an email address, got {value!r}")
    display, addr = parseaddr(value)
    try:
        Address(display_name=display, addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise EmailConfigError(f"[email] {name} {value!r} is not an address: {exc}") from None
    return value


def parse_settings(home: Path, raw: dict[str, Any]) -> SmtpSettings:
    """``[email]`` as settings; relative file paths are relative to the home."""
    if "password" in raw:
        raise EmailConfigError(
            "[email] password is not read from config.toml: use password_env (an environment"
            " variable) or password_file (a 0600 file)"
        )
    host = raw.get("host")
    if not isinstance(host, str) or not host:
        raise EmailConfigError("[email] needs host")
    security = raw.get("security", "starttls")
    if security not in SECURITY:
        raise EmailConfigError(f"[email] security is one of {', '.join(SECURITY)}")
    try:
        port = int(raw.get("port", DEFAULT_PORTS[security]))
        per_minute = int(raw.get("per_minute", 0))
        timeout = float(raw.get("timeout", 30.0))
        max_attempts = int(raw.get("max_attempts", DEFAULT_MAX_ATTEMPTS))
    except (TypeError, ValueError) as exc:
        raise EmailConfigError(f"[email] {exc}") from None
    if not 0 < port < 65536 or per_minute < 0 or timeout <= 0 or max_attempts < 1:
        raise EmailConfigError(
            "[email] port is 1-65535, per_minute >= 0, timeout > 0, max_attempts >= 1"
        )

    def path(key: str) -> Path | None:
        value = raw.get(key)
        if value is None:
            return None
        p = Path(str(value))
        return p if p.is_absolute() else home / p

    user = raw.get("user")
    reply_to = raw.get("reply_to")
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        user=str(user) if user else None,
        password_env=raw.get("password_env") or None,
        password_file=path("password_file"),
        sender=_address(raw.get("sender"), "sender"),
        reply_to=_address(reply_to, "reply_to") if reply_to else None,
        per_minute=per_minute,
        timeout=timeout,
        ca_file=path("ca_file"),
        max_attempts=max_attempts,
    )


def load_settings(home: Path) -> SmtpSettings | None:
    """The home's ``[email]`` settings, or None when the home sends no email."""
    cfg = home / "config.toml"
    try:
        raw = tomllib.loads(cfg.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EmailConfigError(f"{cfg}: {exc}") from None
    table = raw.get("email")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise EmailConfigError("[email] must be a table")
    return parse_settings(home, table)


def require_settings(home: Path) -> SmtpSettings:
    settings = load_settings(home)
    if settings is None:
        raise EmailNotConfiguredError(
            f"no [email] table in {home / 'config.toml'}: see docs/email.md"
        )
    return settings


__all__ = ["SmtpSettings", "load_settings", "parse_settings", "require_settings"]
