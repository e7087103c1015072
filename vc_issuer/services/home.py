"""The issuer home: one folder with the config, the issuer key and the embedded store.

Layout::

    config.toml        issuer DID, base URL, store URL, status-list settings
    issuer-key.json    Ed25519 key, Multikey JSON, mode 0600
    did.json           the DID document to host (did:web issuers only)
    store.sqlite3      the embedded store (unless the config names a postgresql:// URL)
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import tomli_w

from vc_issuer.core.status import BSL_MIN_BITS
from vc_issuer.errors import (
    ConfigError,
    HomeExistsError,
    HomeNotFoundError,
    InvalidDIDWebError,
    MalformedInputError,
)

if TYPE_CHECKING:
    from vc_issuer.services.issuer import Issuer

ENV_HOME = "VC_ISSUER_HOME"
ENV_DATABASE_URL = "VC_ISSUER_DATABASE_URL"
DEFAULT_HOME = "vc-issuer-data"


def default_home() -> Path:
    return Path(os.environ.get(ENV_HOME) or DEFAULT_HOME)


@dataclass
class HomeConfig:
    """Parsed config.toml; paths are absolute."""

    home: Path
    did: str
    key_file: Path
    base_url: str
    database_url: str
    status_purposes: list[str] = field(default_factory=lambda: ["revocation", "suspension"])
    list_size: int = BSL_MIN_BITS
    list_ttl_ms: int = 300_000
    list_validity_days: int = 30
    default_suite: str = "eddsa-rdfc-2022"
    issuer_name: str | None = None
    extra_context_dirs: list[Path] = field(default_factory=list)
    passphrase_env: str | None = None

    @property
    def did_document_file(self) -> Path:
        return self.home / "did.json"

    @property
    def is_did_web(self) -> bool:
        return self.did.startswith("did:web:")


def did_web_from_arg(value: str) -> str:
    """``HOST[%3APORT][:path]`` -> ``did:web:...``, validated by did_methods' parser."""
    from did_methods.errors import InvalidDID
    from did_methods.web import parse_did_web

    value = value.strip().removeprefix("did:web:")
    did = "did:web:" + value
    try:
        _host, port, path = parse_did_web(did)
    except InvalidDID as exc:
        raise InvalidDIDWebError(f"--did-web expects HOST[%3APORT][:path]: {exc}") from None
    if port is None and path and path[0].isdigit():
        raise InvalidDIDWebError(
            f"--did-web {value!r}: {path[0]!r} looks like a port; encode it as"
            f" {value.split(':', 1)[0]}%3A{path[0]}",
        )
    return did


def load_home(home: Path | None = None) -> HomeConfig:
    home = (home or default_home()).resolve()
    cfg_file = home / "config.toml"
    if not cfg_file.is_file():
        raise HomeNotFoundError(
            f"no issuer home at {home} (run `vc-issuer init --home {home}` first)",
        )
    try:
        raw = tomllib.loads(cfg_file.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{cfg_file}: {exc}") from None
    return _parse(home, raw)


def _parse(home: Path, raw: dict[str, Any]) -> HomeConfig:
    try:
        issuer = raw["issuer"]
        store = raw.get("store", {})
        status = raw.get("status", {})
        db = os.environ.get(ENV_DATABASE_URL) or store.get("url") or "store.sqlite3"
        if not db.startswith(("postgresql://", "postgres://")):
            db_path = Path(db.removeprefix("sqlite:///"))
            db = str(db_path if db_path.is_absolute() else home / db_path)
        cfg = HomeConfig(
            home=home,
            did=str(issuer["did"]),
            key_file=home / str(issuer.get("key_file", "issuer-key.json")),
            base_url=str(issuer.get("base_url", "http://127.0.0.1:8080")).rstrip("/"),
            database_url=db,
            status_purposes=list(status.get("purposes", ["revocation", "suspension"])),
            list_size=int(status.get("list_size", BSL_MIN_BITS)),
            list_ttl_ms=int(status.get("ttl_ms", 300_000)),
            list_validity_days=int(status.get("validity_days", 30)),
            default_suite=str(issuer.get("suite", "eddsa-rdfc-2022")),
            issuer_name=issuer.get("name"),
            extra_context_dirs=[home / p for p in raw.get("contexts", {}).get("extra_dirs", [])],
            passphrase_env=issuer.get("passphrase_env"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{home / 'config.toml'}: missing or bad setting {exc}") from None
    if cfg.list_size < BSL_MIN_BITS:
        raise ConfigError(f"status list_size must be at least {BSL_MIN_BITS} (herd privacy)")
    bad = set(cfg.status_purposes) - {"revocation", "suspension"}
    if bad:
        raise ConfigError(f"unknown status purposes: {sorted(bad)}")
    return cfg


def init_home(
    home: Path | None = None,
    *,
    did_web: str | None = None,
    base_url: str | None = None,
    database_url: str | None = None,
    issuer_name: str | None = None,
    passphrase: bytes | None = None,
    passphrase_env: str | None = None,
) -> HomeConfig:
    """Create the home: config, key (0600), DID document for did:web. Refuses to overwrite."""
    from did_methods.web import build_did_web_document, did_web_base_url
    from vc_issuer.core.keys import Ed25519Key, save_key_file

    home = (home or default_home()).resolve()
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query:
            raise MalformedInputError(f"base URL must be an http(s) URL, got {base_url!r}")
    if (home / "config.toml").exists():
        raise HomeExistsError(f"{home} already holds an issuer home")
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    key = Ed25519Key.generate()
    if did_web:
        did = did_web_from_arg(did_web)
        vm_id = f"{did}#key-1"
        key = Ed25519Key.from_seed(key.seed, id=vm_id, controller=did)
        document = build_did_web_document(did, key.public_key_multibase)
        _set_vm_id(document, key.public_key_multibase, vm_id)
        (home / "did.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        base_url = base_url or did_web_base_url(did)
    else:
        did = key.did
    save_key_file(key, home / "issuer-key.json", passphrase=passphrase)
    raw: dict[str, Any] = {
        "issuer": {
            "did": did,
            "key_file": "issuer-key.json",
            "base_url": (base_url or "http://127.0.0.1:8080").rstrip("/"),
            "suite": "eddsa-rdfc-2022",
        },
        "store": {"url": database_url or "store.sqlite3"},
        "status": {
            "purposes": ["revocation", "suspension"],
            "list_size": BSL_MIN_BITS,
            "ttl_ms": 300_000,
            "validity_days": 30,
        },
        "contexts": {"extra_dirs": []},
    }
    if issuer_name:
        raw["issuer"]["name"] = issuer_name
    if passphrase_env:
        raw["issuer"]["passphrase_env"] = passphrase_env
    (home / "config.toml").write_text(tomli_w.dumps(raw), "utf-8")
    return _parse(home, raw)


def _set_vm_id(document: dict[str, Any], multibase: str, vm_id: str) -> None:
    """Give the hosted document a stable ``#key-1`` fragment for our key."""
    old_ids = {
        vm["id"]
        for vm in document.get("verificationMethod", [])
        if vm.get("publicKeyMultibase") == multibase
    }
    for vm in document.get("verificationMethod", []):
        if vm.get("id") in old_ids:
            vm["id"] = vm_id
    for rel in (
        "authentication",
        "assertionMethod",
        "capabilityInvocation",
        "capabilityDelegation",
    ):
        if rel in document:
            document[rel] = [vm_id if r in old_ids else r for r in document[rel]]


async def open_issuer(
    cfg: HomeConfig, *, passphrase: bytes | None = None, **options: Any
) -> Issuer:
    """The issuer over a home: reads the passphrase from ``cfg.passphrase_env``, the key and the
    did:web document from the home, opens (and migrates) the store the issuer then owns. The
    environment and the files are read here, at the edge, never inside the Issuer."""
    from vc_issuer.core.jsonld import ContextLoader
    from vc_issuer.core.keys import load_key_file
    from vc_issuer.services.issuer import Issuer
    from vc_issuer.store import open_store

    if passphrase is None and cfg.passphrase_env:
        value = os.environ.get(cfg.passphrase_env)
        if value is None:
            raise ConfigError(
                f"the issuer key is encrypted: set ${cfg.passphrase_env} to its passphrase"
            )
        passphrase = value.encode("utf-8")
    key = load_key_file(cfg.key_file, passphrase=passphrase)
    document: dict[str, Any] | None = None
    if cfg.is_did_web and cfg.did_document_file.is_file():
        try:
            document = json.loads(cfg.did_document_file.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {cfg.did_document_file}: {exc}") from None
    loader = ContextLoader(cfg.extra_context_dirs) if cfg.extra_context_dirs else None
    store = await open_store(cfg.database_url)
    try:
        return Issuer(
            key=key,
            did=cfg.did,
            store=store,
            base_url=cfg.base_url,
            status_purposes=cfg.status_purposes,
            list_size=cfg.list_size,
            list_ttl_ms=cfg.list_ttl_ms,
            list_validity=timedelta(days=cfg.list_validity_days),
            default_suite=cfg.default_suite,
            loader=loader,
            did_document=document,
            issuer_name=cfg.issuer_name,
            owns_store=True,
            **options,
        )
    except BaseException:
        await store.close()
        raise
