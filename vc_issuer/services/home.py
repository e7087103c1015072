"""The issuer home: one folder with the config, the issuer key and the embedded store.

Layout::

    config.toml        issuer DID, base URL, store URL, status-list settings (mode 0600)
    issuer-key.json    the first (primary) key: Ed25519, P-256 or P-384, Multikey JSON (0600)
    issuer-key-N.json  more keys, one per key type, did:web only (``keys generate``; 0600);
                       config.toml lists them in ``issuer.extra_key_files``
    did.json           the DID document to host (did:web issuers only)
    store.sqlite3      the embedded store, unless the config names a postgresql:// URL (0600)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import tomli_w

from vc_issuer.core.status import BSL_MIN_BITS, MESSAGE, StatusMessages
from vc_issuer.errors import (
    ConfigError,
    DidKeySingleKeyError,
    HomeExistsError,
    HomeNotFoundError,
    InvalidDIDWebError,
    InvalidKeyError,
    KeyTypeExistsError,
    MalformedInputError,
)
from vc_issuer.services.jsonview import camel_fields
from vc_issuer.services.limits import LimitsConfig, limits_from_toml

if TYPE_CHECKING:
    from did_methods.multikey import KeyType
    from vc_issuer.core.keys import SigningKey
    from vc_issuer.services.issuer import Issuer

ENV_HOME = "VC_ISSUER_HOME"
ENV_DATABASE_URL = "VC_ISSUER_DATABASE_URL"
DEFAULT_HOME = "vc-issuer-data"
CONFIG_FILE = "config.toml"
KEY_FILE = "issuer-key.json"
DID_FILE = "did.json"
STORE_FILE = "store.sqlite3"


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
    vc11_status: bool = False
    """Give VC 1.1 credentials StatusList2021 entries by default (``[status] vc11``)."""
    status_messages: StatusMessages | None = None
    """Multi-bit ``message`` status (``[status.message]``: size, messages, reference)."""
    extra_key_files: list[Path] = field(default_factory=list)
    """Keys added with ``keys generate`` (``issuer.extra_key_files``), after ``key_file``."""
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    """``[limits]``: per-client rate limits of anonymous routes, purge interval, nonce TTL."""

    @property
    def key_files(self) -> list[Path]:
        """Every key file, the primary key's first."""
        return [self.key_file, *self.extra_key_files]

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
            vc11_status=_flag(status.get("vc11", False), "status.vc11"),
            status_messages=_status_messages(home, status.get("message")),
            extra_key_files=[home / str(f) for f in issuer.get("extra_key_files", [])],
            limits=limits_from_toml(raw.get("limits", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{home / 'config.toml'}: missing or bad setting {exc}") from None
    if cfg.list_size < BSL_MIN_BITS:
        raise ConfigError(f"status list_size must be at least {BSL_MIN_BITS} (herd privacy)")
    known = {"revocation", "suspension"} | ({MESSAGE} if cfg.status_messages else set())
    bad = set(cfg.status_purposes) - known
    if bad:
        hint = " (message needs a [status.message] table)" if MESSAGE in bad else ""
        raise ConfigError(f"unknown status purposes: {sorted(bad)}{hint}")
    return cfg


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def _status_messages(home: Path, raw: object) -> StatusMessages | None:
    """``[status.message]``: ``size`` bits, ``messages`` (one per value, value 0 first) and an
    optional ``reference`` URL (or list of URLs)."""
    if raw is None:
        return None
    where = f"{home / 'config.toml'}: [status.message]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    reference = raw.get("reference", [])
    references = [reference] if isinstance(reference, str) else reference
    size, messages = raw.get("size"), raw.get("messages")
    if not isinstance(size, int) or not isinstance(messages, list):
        raise ConfigError(f"{where} needs size = N (bits) and messages = [...] (2**N of them)")
    if not isinstance(references, list):
        raise ConfigError(f"{where}: reference must be a URL or a list of URLs")
    try:
        return StatusMessages(size, tuple(messages), tuple(references))
    except MalformedInputError as exc:
        raise ConfigError(f"{where}: {exc.detail}") from None


def init_home(
    home: Path | None = None,
    *,
    did_web: str | None = None,
    base_url: str | None = None,
    database_url: str | None = None,
    issuer_name: str | None = None,
    passphrase: bytes | None = None,
    passphrase_env: str | None = None,
    prepare: Callable[[HomeConfig], None] | None = None,
    key_type: str = "ed25519",
) -> HomeConfig:
    """Create the home: config, key, DID document for did:web, store file. Refuses to overwrite.

    All or nothing: the home is built in a hidden folder next to it (inside it when the folder
    already exists) and moved into place last, ``config.toml`` (what makes a folder a home)
    after everything else. ``prepare`` runs on the staged home before that (the CLI creates the
    store's tables and the first admin token there), so when it or anything else fails, nothing
    is left behind and the same ``init`` can simply be run again.

    Files holding secrets are created 0600: the key, ``config.toml`` (it may hold a database
    password) and the SQLite store (SQLite gives its -wal and -shm files the store's mode).

    ``key_type`` (ed25519, p256, p384) is the first key's, and sets the default suite
    (eddsa-rdfc-2022 for Ed25519, ecdsa-rdfc-2019 for the NIST curves).
    """
    from did_methods.web import did_web_base_url
    from vc_issuer.core.keyring import DEFAULT_SUITES
    from vc_issuer.core.keyring import key_type as parse_key_type

    kind = parse_key_type(key_type)

    home = (home or default_home()).resolve()
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query:
            raise MalformedInputError(f"base URL must be an http(s) URL, got {base_url!r}")
    did = did_web_from_arg(did_web) if did_web else None
    if did is not None:
        base_url = base_url or did_web_base_url(did)
    if (home / CONFIG_FILE).exists():
        raise HomeExistsError(f"{home} already holds an issuer home")
    in_place = home.is_dir()
    if in_place:
        clash = sorted(n for n in (KEY_FILE, DID_FILE, STORE_FILE) if (home / n).exists())
        if clash:
            raise HomeExistsError(
                f"{home} has no config.toml but already holds {', '.join(clash)} (left by an"
                " interrupted init?); move them away or choose another --home"
            )
    raw: dict[str, Any] = {
        "issuer": {
            "did": did,
            "key_file": KEY_FILE,
            "base_url": (base_url or "http://127.0.0.1:8080").rstrip("/"),
            "suite": DEFAULT_SUITES[kind],
        },
        "store": {"url": database_url or STORE_FILE},
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

    parent = home if in_place else home.parent
    staging = parent / f".{home.name}.init-{secrets.token_hex(4)}"
    created_dirs: list[Path] = []
    outside_store: Path | None = None
    try:
        _make_parents(home.parent, created_dirs)
        staging.mkdir(mode=0o700)
        raw["issuer"]["did"] = _write_key_and_document(staging, did, passphrase, kind)
        staged = _parse(staging, raw)
        store_file = sqlite_path(staged.database_url)
        if store_file is not None and not store_file.exists():
            create_private_file(store_file)
            if not store_file.is_relative_to(staging):
                outside_store = store_file
        _write_private(staging / CONFIG_FILE, tomli_w.dumps(raw).encode("utf-8"))
        if prepare is not None:
            prepare(staged)
        _commit(staging, home, in_place)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if outside_store is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    os.unlink(f"{outside_store}{suffix}")
        for folder in reversed(created_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return _parse(home, raw)


def _make_parents(folder: Path, created: list[Path]) -> None:
    """``mkdir -p folder``, adding each folder it creates to ``created`` (outermost first) as
    it goes, so that a failure can remove them."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
        created.append(path)


def _write_key_and_document(
    staging: Path, did: str | None, passphrase: bytes | None, kind: KeyType = "Ed25519"
) -> str:
    """A new key (0600) and, for did:web, the DID document to host; the issuer DID."""
    from did_methods.key import DID_CONTEXT_V1, MULTIKEY_CONTEXT_V1, SIGNING_RELATIONSHIPS
    from vc_issuer.core.keyring import generate_key
    from vc_issuer.core.keys import save_key_file

    if did is None:
        key = generate_key(kind)
    else:
        vm_id = f"{did}#key-1"
        key = generate_key(kind, id=vm_id, controller=did)
        document: dict[str, Any] = {
            "@context": [DID_CONTEXT_V1, MULTIKEY_CONTEXT_V1],
            "id": did,
            "verificationMethod": [_verification_method(key, did)],
        }
        for relationship in SIGNING_RELATIONSHIPS:
            document[relationship] = [vm_id]
        (staging / DID_FILE).write_text(json.dumps(document, indent=2) + "\n", "utf-8")
    save_key_file(key, staging / KEY_FILE, passphrase=passphrase)
    return did or key.did


def _verification_method(key: SigningKey, did: str) -> dict[str, Any]:
    return {
        "id": key.verification_method,
        "type": "Multikey",
        "controller": did,
        "publicKeyMultibase": key.public_key_multibase,
    }


# --- more keys (did:web) -------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    """One key of a home, read without its secret (an encrypted file needs no passphrase)."""

    file: Path
    key_type: KeyType
    verification_method: str
    public_key_multibase: str
    primary: bool

    def to_json(self) -> dict[str, Any]:
        from vc_issuer.core.keyring import TYPE_NAMES

        return {
            "type": TYPE_NAMES[self.key_type],
            **camel_fields(self, "key_type", "verification_method", "public_key_multibase"),
            "file": str(self.file),
            "primary": self.primary,
        }


def list_keys(cfg: HomeConfig) -> list[KeyInfo]:
    """The home's keys, primary first, from the public half of each key file."""
    from did_methods.multikey import MultibaseError, decode_public_multikey

    out: list[KeyInfo] = []
    for i, path in enumerate(cfg.key_files):
        try:
            doc = json.loads(path.read_text("utf-8"))
            public = doc["publicKeyMultibase"]
            kind = decode_public_multikey(public).key_type
        except OSError as exc:
            raise ConfigError(f"cannot read key file {path}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError, MultibaseError):
            raise InvalidKeyError(f"key file {path} has no readable publicKeyMultibase") from None
        vm = doc.get("id") or f"did:key:{public}#{public}"
        out.append(KeyInfo(path, kind, str(vm), str(public), i == 0))
    return out


def add_key(cfg: HomeConfig, key_type: str, *, passphrase: bytes | None = None) -> SigningKey:
    """Add a key of ``key_type`` (ed25519, p256, p384) to a did:web home: its file (0600,
    encrypted like the first when the home has a passphrase), its verification method in the
    hosted DID document (``verificationMethod`` and ``assertionMethod``), its file name in
    config.toml. A did:key issuer is its one key (DID_KEY_SINGLE_KEY); one key per type
    (KEY_TYPE_EXISTS). The key file is written first and config.toml last, so an interrupted
    run leaves at most an unused file."""
    from vc_issuer.core.keyring import TYPE_NAMES, generate_key
    from vc_issuer.core.keyring import key_type as parse_key_type
    from vc_issuer.core.keys import save_key_file

    kind = parse_key_type(key_type)
    if not cfg.is_did_web:
        raise DidKeySingleKeyError(
            f"{cfg.did} is a did:key: the DID is its one key, so it cannot list another"
            f" ({kind}). Create a did:web issuer for several keys: vc-issuer init"
            f" --did-web HOST --key-type {TYPE_NAMES[kind]} --home DIR (then"
            " vc-issuer keys generate --type ... --home DIR for each further type)"
        )
    existing = list_keys(cfg)
    same = [k for k in existing if k.key_type == kind]
    if same:
        raise KeyTypeExistsError(
            f"the home already has a {kind} key ({same[0].verification_method}); one key per"
            " type signs. To replace it, rotate it (docs/deploy.md, key rotation)",
            verificationMethod=same[0].verification_method,
        )
    document = _read_did_document(cfg)
    taken = {str(vm.get("id", "")) for vm in document.get("verificationMethod", [])}
    taken |= {k.verification_method for k in existing}
    n = 2
    while f"{cfg.did}#key-{n}" in taken or (cfg.home / f"issuer-key-{n}.json").exists():
        n += 1
    key = generate_key(kind, id=f"{cfg.did}#key-{n}", controller=cfg.did)
    key_file = cfg.home / f"issuer-key-{n}.json"
    save_key_file(key, key_file, passphrase=_home_passphrase(cfg, passphrase))
    document.setdefault("verificationMethod", []).append(_verification_method(key, cfg.did))
    assertion = document.setdefault("assertionMethod", [])
    assertion.append(key.verification_method)
    _replace_private(
        cfg.did_document_file,
        (json.dumps(document, indent=2) + "\n").encode("utf-8"),
        mode=0o644,
    )
    _update_config(cfg.home, lambda raw: raw.setdefault("issuer", {}).setdefault(
        "extra_key_files", []).append(key_file.name))  # fmt: skip
    return key


def _home_passphrase(cfg: HomeConfig, passphrase: bytes | None) -> bytes | None:
    """The passphrase given, else the one in ``$passphrase_env`` of an encrypted home."""
    if passphrase is not None or not cfg.passphrase_env:
        return passphrase
    value = os.environ.get(cfg.passphrase_env)
    if value is None:
        raise ConfigError(
            f"the issuer key is encrypted: set ${cfg.passphrase_env} to its passphrase"
        )
    return value.encode("utf-8")


def _read_did_document(cfg: HomeConfig) -> dict[str, Any]:
    try:
        document = json.loads(cfg.did_document_file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {cfg.did_document_file}: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{cfg.did_document_file} is not a DID document")
    return document


def _replace_private(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` atomically (a temporary file, then rename), keeping its mode."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        _write_private(tmp, data)
        keep = stat.S_IMODE(path.stat().st_mode) if path.exists() else mode
        if keep is not None:
            os.chmod(tmp, keep)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _update_config(home: Path, change: Callable[[dict[str, Any]], None]) -> None:
    cfg_file = home.resolve() / CONFIG_FILE
    try:
        raw = tomllib.loads(cfg_file.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{cfg_file}: {exc}") from None
    change(raw)
    _replace_private(cfg_file, tomli_w.dumps(raw).encode("utf-8"))


def _commit(staging: Path, home: Path, in_place: bool) -> None:
    """Move the staged home into place: one rename when ``home`` does not exist yet; else file
    by file, never overwriting, ``config.toml`` last."""
    if not in_place:
        os.rename(staging, home)  # fails if something appeared at ``home`` meanwhile
        return
    moved: list[Path] = []
    try:
        for name in sorted(os.listdir(staging), key=lambda n: n == CONFIG_FILE):
            os.link(staging / name, home / name)  # fails rather than overwrite
            moved.append(home / name)
    except BaseException:
        for path in moved:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    os.chmod(home, 0o700)


def sqlite_path(database_url: str) -> Path | None:
    """The SQLite file of a store URL (as :func:`_parse` resolves it); None for PostgreSQL."""
    if database_url.startswith(("postgresql://", "postgres://")):
        return None
    return Path(database_url.removeprefix("sqlite:///"))


def create_private_file(path: Path) -> None:
    """Create an empty file readable by its owner only (SQLite takes an empty file as a new
    database, and gives the -wal and -shm files it makes later the same mode)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    os.close(os.open(path, flags, 0o600))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def secure_home(cfg: HomeConfig) -> list[Path]:
    """Take group and other access away from the home's secret files (homes made before they
    were created 0600); the files changed. Files of other owners are left alone."""
    candidates = [cfg.home / CONFIG_FILE, *cfg.key_files]
    store = sqlite_path(cfg.database_url)
    if store is not None:
        candidates += [store, Path(f"{store}-wal"), Path(f"{store}-shm")]
    changed: list[Path] = []
    for path in candidates:
        try:
            st = path.stat()
            if st.st_uid != os.getuid() or not st.st_mode & 0o077:
                continue
            os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
        except OSError:
            continue
        changed.append(path)
    return changed


def set_issuer_name(home: Path, name: str) -> None:
    """Write the profile's name into config.toml's ``issuer.name`` (what plain credentials and
    wallet displays use), so one name shows everywhere. Replaced atomically, mode kept."""
    try:
        current = load_home(home).issuer_name
    except ConfigError:
        current = None
    if current == name:
        return
    _update_config(home, lambda raw: raw.setdefault("issuer", {}).__setitem__("name", name))


async def open_issuer(
    cfg: HomeConfig, *, passphrase: bytes | None = None, **options: Any
) -> Issuer:
    """The issuer over a home: reads the passphrase from ``cfg.passphrase_env``, the key and the
    did:web document from the home, opens (and migrates) the store the issuer then owns. The
    environment and the files are read here, at the edge, never inside the Issuer."""
    from vc_issuer.core.jsonld import ContextLoader
    from vc_issuer.core.keys import load_signing_key_file
    from vc_issuer.core.related import PinnedResources
    from vc_issuer.services.issuer import Issuer
    from vc_issuer.store import open_store

    passphrase = _home_passphrase(cfg, passphrase)
    key, *extra_keys = [load_signing_key_file(f, passphrase=passphrase) for f in cfg.key_files]
    document: dict[str, Any] | None = None
    if cfg.is_did_web and cfg.did_document_file.is_file():
        try:
            document = json.loads(cfg.did_document_file.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {cfg.did_document_file}: {exc}") from None
    loader = ContextLoader(cfg.extra_context_dirs) if cfg.extra_context_dirs else None
    resources = PinnedResources(cfg.extra_context_dirs) if cfg.extra_context_dirs else None
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
            vc11_status=cfg.vc11_status,
            status_messages=cfg.status_messages,
            resources=resources,
            extra_keys=extra_keys,
            **options,
        )
    except BaseException:
        await store.close()
        raise
