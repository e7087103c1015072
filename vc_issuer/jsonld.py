"""JSON-LD adapter: the strict pinned-context document loader, safe-mode expansion, and
RDFC-1.0 canonicalization (PROVISIONAL stub: the jsonld owner replaces the internals,
keeping these signatures)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped]

from vc_issuer.errors import UnknownContextError


def contexts_dir() -> Path:
    """The pinned contexts: inside the wheel, or the repo's top-level ``contexts/``."""
    here = Path(__file__).resolve().parent
    packaged = here / "_contexts"
    if (packaged / "index.json").is_file():
        return packaged
    return here.parent / "contexts"


class ContextLoader:
    """A pyld document loader that serves only pinned contexts; anything else fails."""

    def __init__(
        self,
        extra_dirs: Iterable[Path] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._docs: dict[str, Any] = {}
        self._load_index(contexts_dir())
        for d in extra_dirs:
            self._load_index(Path(d))
        for url, doc in (extra or {}).items():
            self._docs[url] = doc

    def _load_index(self, folder: Path) -> None:
        index = json.loads((folder / "index.json").read_text("utf-8"))
        for url, entry in index["contexts"].items():
            raw = (folder / entry["file"]).read_bytes()
            if "sha256" in entry and hashlib.sha256(raw).hexdigest() != entry["sha256"]:
                raise UnknownContextError(f"pinned context {url} does not match its sha256")
            self._docs[url] = json.loads(raw)

    @property
    def urls(self) -> frozenset[str]:
        return frozenset(self._docs)

    def get(self, url: str) -> Any:
        try:
            return self._docs[url]
        except KeyError:
            raise UnknownContextError(
                f"context {url} is not pinned; remote contexts are never fetched", url=url
            ) from None

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        return {"contextUrl": None, "documentUrl": url, "document": self.get(url)}


_DEFAULT: ContextLoader | None = None


def default_loader() -> ContextLoader:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ContextLoader()
    return _DEFAULT


def canonicalize(
    document: Mapping[str, Any], loader: ContextLoader | None = None, *, safe: bool = True
) -> str:
    """RDFC-1.0 N-Quads of ``document`` (safe mode: refuse anything expansion would drop)."""
    loader = loader or default_loader()
    out: str = jsonld.normalize(
        dict(document),
        {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader},
    )
    return out
