"""JSON-LD adapter: the strict pinned-context document loader, safe-mode expansion, and
RDFC-1.0 canonicalization of JSON-LD documents.

Contexts are pinned (URL -> file -> sha256) so that what a signature covers can never change
under us because a server changed a file; nothing is fetched at run time. Safe mode refuses
documents whose expansion silently drops or mangles data (undefined terms, relative IRIs),
because a signature over the remaining graph would not cover what the holder was shown.

Speed: pyld re-resolves and re-processes every context of every document (JCS-hashing the
contexts to build its cache keys). We memoize processed active contexts per loader, keyed by
the parent context and the local context, so documents sharing an ``@context`` skip context
processing entirely; RDFC-1.0 is our own (vc_issuer.core.rdfc).

Bounded: only pinned contexts (URLs, and the scoped contexts inside pinned documents) are
cached, in caches bounded by bytes; a caller's inline ``@context`` is processed every time and
never retained (hostile 400 kB inline contexts used to pin ~5 MiB each). The node map is built
in linear time (pyld's is quadratic in the values of one property), and expansion, node-map
building and RDFC charge the active work budget (vc_issuer.core.work).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cachetools import LRUCache
from pyld import jsonld
from pyld.context_resolver import ContextResolver
from pyld.identifier_issuer import IdentifierIssuer
from pyld.jsonld import canonicalize as _jcs

from vc_issuer.core import rdfc, work
from vc_issuer.errors import (
    ConfigError,
    DataLossError,
    JsonLdError,
    MalformedInputError,
    UnknownContextError,
    VCIssuerError,
)

__all__ = [
    "ContextLoader",
    "canonicalize",
    "compact",
    "contexts_dir",
    "default_loader",
    "expand",
    "to_quads",
]

MAX_PROCESSED_BYTES = 64 * 1024 * 1024
"""Processed pinned contexts kept per loader (estimated bytes, see _processed_size)."""
MAX_RESOLVED_BYTES = 32 * 1024 * 1024
"""Resolved pinned context documents kept per loader (bytes of their JSON)."""


def contexts_dir() -> Path:
    """The pinned contexts: inside the wheel, or the repo's top-level ``contexts/``."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "_contexts"
    if (packaged / "index.json").is_file():
        return packaged
    return package.parent / "contexts"


def _resolved_size(value: Any) -> int:
    # pyld stores {tag: ResolvedContext}; a resolved context's size is its document's
    total = 0
    for resolved in value.values() if isinstance(value, dict) else (value,):
        doc = getattr(resolved, "document", None)
        total += len(json.dumps(doc)) if doc is not None else 1024
    return max(total, 1)


class _LockedLRU(LRUCache[str, Any]):
    """pyld's resolved-context cache, safe to share between threads, bounded by bytes, and
    admitting only pinned contexts (``admit``): a caller's inline context is never kept."""

    def __init__(self, maxsize: int, admit: Any = None) -> None:
        super().__init__(maxsize=maxsize, getsizeof=_resolved_size)
        self._lock = threading.RLock()
        self._admit = admit

    def __getitem__(self, key: str) -> Any:
        with self._lock:
            return super().__getitem__(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if self._admit is not None and not self._admit(key):
            return
        # larger than the whole cache: not kept
        with self._lock, contextlib.suppress(ValueError):
            super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        with self._lock:
            super().__delitem__(key)


class ContextLoader:
    """A pyld document loader that serves only pinned contexts; anything else fails.

    ``extra_dirs`` are folders laid out like ``contexts/`` (an ``index.json`` mapping URL ->
    {file, sha256}); ``extra`` maps URLs to already-parsed context documents. Each loader keeps
    its own cache of processed contexts, so two loaders never see each other's definitions.
    """

    def __init__(
        self,
        extra_dirs: Iterable[Path | str] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._docs: dict[str, Any] = {}
        dirs = tuple(str(d) for d in extra_dirs)
        self._args = (dirs, dict(extra) if extra else None)
        self._load_index(contexts_dir())
        for d in dirs:
            self._load_index(Path(d))
        for url, doc in (extra or {}).items():
            if not isinstance(doc, Mapping):
                raise ConfigError(f"context {url} must be a JSON object")
            self._docs[url] = copy.deepcopy(dict(doc))
        self._lock = threading.Lock()
        self._scoped_json: set[str] = set()
        self._scoped_jcs: set[str] = set()
        for doc in self._docs.values():
            _collect_scoped(doc, self._scoped_json, self._scoped_jcs)
        self._resolved = _LockedLRU(MAX_RESOLVED_BYTES, admit=self._pinned_key)
        self._processed: LRUCache[tuple[Any, ...], Any] = LRUCache(
            maxsize=MAX_PROCESSED_BYTES, getsizeof=_processed_size
        )
        self._processors: dict[bool, _Processor] = {}
        self._pinned_uids: set[str] = set()
        self._scoped_keys: dict[int, tuple[Any, str]] = {}

    def _pinned_key(self, key: str) -> bool:
        """pyld's cache key (a URL, or a context's JCS) names a pinned context."""
        return key in self._docs or key in self._scoped_jcs

    def _load_index(self, folder: Path) -> None:
        index_file = folder / "index.json"
        try:
            index = json.loads(index_file.read_text("utf-8"))
            entries = index["contexts"].items()
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise ConfigError(f"cannot read context index {index_file}: {exc}") from exc
        for url, entry in entries:
            path = folder / entry["file"]
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise ConfigError(f"pinned context {url}: cannot read {path}: {exc}") from exc
            digest = hashlib.sha256(raw).hexdigest()
            if digest != entry.get("sha256"):
                raise ConfigError(
                    f"pinned context {url}: {path.name} has sha256 {digest}, "
                    f"index says {entry.get('sha256')}"
                )
            self._docs[url] = json.loads(raw)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its arguments: a worker process builds it once and keeps it.
        return (_loader_from_args, self._args)

    @property
    def urls(self) -> frozenset[str]:
        return frozenset(self._docs)

    def get(self, url: str) -> Any:
        """The pinned context document for ``url`` (do not mutate it)."""
        try:
            return self._docs[url]
        except KeyError:
            raise UnknownContextError(
                f"context {url} is not pinned; remote contexts are never fetched", url=url
            ) from None

    def __call__(self, url: str, options: Any = None) -> dict[str, Any]:
        # pyld may rewrite relative URLs inside what it is given: hand out a copy. The
        # "static" tag lets pyld keep the resolved context in this loader's shared cache.
        document = copy.deepcopy(self.get(url))
        self._own_scoped(document)
        return {"contextUrl": None, "documentUrl": url, "document": document, "tag": "static"}

    def _own_scoped(self, document: Any) -> None:
        """Remember the cache key of each scoped context in a copy we hand to pyld, by the
        object's identity: pyld keeps these objects in its term definitions and passes the
        same ones back for every document that uses the term, and serializing them each time
        cost ~1.1 M instructions an Open Badge verification, 8 % of it (callgrind). Only our
        own copies are entered, never a caller's object (which the caller may change between
        calls); the table is bounded (a full one is emptied, costing only re-serialization)."""
        with self._lock:
            if len(self._scoped_keys) >= _MAX_SCOPED_KEYS:
                self._scoped_keys.clear()
            stack = [document]
            while stack:
                cur = stack.pop()
                if isinstance(cur, dict):
                    scoped = cur.get("@context")
                    if isinstance(scoped, dict) and cur is not document:
                        self._scoped_keys[id(scoped)] = (scoped, _ctx_key(scoped))
                    stack.extend(cur.values())
                elif isinstance(cur, list):
                    stack.extend(cur)

    def context_key(self, local_ctx: Any) -> Any:
        """The processed-context cache key of ``local_ctx`` (see ``_own_scoped``)."""
        hit = self._scoped_keys.get(id(local_ctx))
        if hit is not None and hit[0] is local_ctx:
            return hit[1]
        return _ctx_key(local_ctx)

    def _processor(self, safe: bool) -> _Processor:
        proc = self._processors.get(safe)
        if proc is None:
            proc = _Processor(self, safe)
            self._processors[safe] = proc
        return proc


def _collect_scoped(node: Any, as_json: set[str], as_jcs: set[str]) -> None:
    """The embedded (scoped) contexts of a pinned document, by both cache-key spellings."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            for k, v in cur.items():
                if k == "@context" and isinstance(v, dict):
                    as_json.add(_ctx_key(v))
                    as_jcs.add(_jcs(dict(v)).decode("utf-8"))
                stack.append(v)
        elif isinstance(cur, list):
            stack.extend(cur)


def _processed_size(value: Any) -> int:
    """An estimate of a processed context's bytes: ~1 KiB per term definition (measured on
    the pinned contexts: 0.6-0.9 KiB)."""
    mappings = value.get("mappings") if isinstance(value, Mapping) else None
    return 1024 + 1024 * (len(mappings) if isinstance(mappings, Mapping) else 0)


_DEFAULT: ContextLoader | None = None
_BY_ARGS: dict[str, ContextLoader] = {}


def _loader_from_args(dirs: tuple[str, ...], extra: Mapping[str, Any] | None) -> ContextLoader:
    """The loader for these arguments, made once per process (unpickling a ContextLoader)."""
    if not dirs and not extra:
        return default_loader()
    key = json.dumps([dirs, extra], sort_keys=True)
    loader = _BY_ARGS.get(key)
    if loader is None:
        if len(_BY_ARGS) >= 16:
            _BY_ARGS.clear()
        loader = _BY_ARGS[key] = ContextLoader(dirs, extra)
    return loader


def default_loader() -> ContextLoader:
    """The process-wide loader over the pinned contexts only."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ContextLoader()
    return _DEFAULT


# --- processing ------------------------------------------------------------------------------


class _DroppedProperty(Exception):
    def __init__(self, expanded: str | None) -> None:
        super().__init__(expanded)
        self.expanded = expanded


def _raise_dropped(expanded_property: str | None) -> None:
    raise _DroppedProperty(expanded_property)


def _noop(expanded_property: str | None) -> None:
    return None


def _ctx_key(local_ctx: Any) -> Any:
    if isinstance(local_ctx, str):
        return local_ctx
    if isinstance(local_ctx, list) and all(isinstance(c, str) for c in local_ctx):
        return tuple(local_ctx)
    return json.dumps(local_ctx, sort_keys=True, separators=(",", ":"))


_MAX_PINNED_UIDS = 100_000  # ids of processed contexts built only from pinned contexts
_MAX_SCOPED_KEYS = 1_024  # scoped-context objects whose cache key is remembered by identity


class _Processor(jsonld.JsonLdProcessor):  # type: ignore[misc]
    """pyld's processor with processed active contexts memoized per loader."""

    def __init__(self, loader: ContextLoader, safe: bool) -> None:
        super().__init__(on_property_dropped=_raise_dropped if safe else _noop)
        self._loader = loader

    def _process_context(
        self,
        active_ctx: Any,
        local_ctx: Any,
        options: Any,
        override_protected: bool = False,
        propagate: bool = True,
        validate_scoped: bool = True,
        cycles: Any = None,
    ) -> Any:
        if cycles is not None:
            # Validation of scoped contexts against a half-built context: never cache.
            return super()._process_context(
                active_ctx,
                local_ctx,
                options,
                override_protected,
                propagate,
                validate_scoped,
                cycles,
            )
        local_key = self._loader.context_key(local_ctx)
        if not self._cacheable(active_ctx, local_key):
            # a caller's inline context, or anything built on one: processed, never kept
            return super()._process_context(
                active_ctx, local_ctx, options, override_protected, propagate, validate_scoped
            )
        uid = active_ctx.get("_uuid")
        if uid is None:
            uid = active_ctx["_uuid"] = str(uuid.uuid4())
        key = (
            uid,
            local_key,
            override_protected,
            propagate,
            validate_scoped,
            options.get("base", ""),
            options.get("processingMode"),
        )
        cache = self._loader._processed
        hit = cache.get(key)
        if hit is not None:
            return hit
        result = super()._process_context(
            active_ctx, local_ctx, options, override_protected, propagate, validate_scoped
        )
        pinned = self._loader._pinned_uids
        with self._loader._lock:
            if len(pinned) >= _MAX_PINNED_UIDS:
                pinned.clear()
                cache.clear()
            result_uid = result.get("_uuid")
            if result_uid is not None:
                pinned.add(result_uid)
            with contextlib.suppress(ValueError):  # larger than the whole cache: not kept
                cache[key] = result
        return result

    def _cacheable(self, active_ctx: Any, local_key: Any) -> bool:
        """Only pinned contexts on top of pinned (or initial) active contexts are cached."""
        if not (
            active_ctx.get("_uuid") in self._loader._pinned_uids
            or (not active_ctx.get("mappings") and "previousContext" not in active_ctx)
        ):
            return False
        if isinstance(local_key, str) and local_key in self._loader._docs:
            return True
        if isinstance(local_key, tuple):
            return all(u in self._loader._docs for u in local_key)
        return local_key in self._loader._scoped_json

    def _expand(self, *args: Any, **kwargs: Any) -> Any:
        b = work.active_budget()
        if b is None:
            return _pyld_expand(self, *args, **kwargs)
        b.step_in()
        try:
            return _pyld_expand(self, *args, **kwargs)
        finally:
            b.leave()


_pyld_expand = jsonld.JsonLdProcessor._expand


def _value_key(value: Any) -> Any:
    """A hashable key such that equal keys <=> pyld's ``compare_values`` says equal (None:
    not hashable, compare by scanning; ``_NEVER``: equal to nothing)."""
    if isinstance(value, dict):
        if "@value" in value:
            v = value["@value"]
            if isinstance(v, (dict, list)):
                return None
            return (
                "v",
                value.get("@type"),
                value.get("@language"),
                value.get("@index"),
                type(v) is bool,
                v,
            )
        node_id = value.get("@id")
        return ("i", node_id) if node_id is not None else _NEVER
    if isinstance(value, (list,)):
        return None
    return ("p", type(value) is bool, value)


_NEVER = object()
_compare_values = jsonld.JsonLdProcessor.compare_values
_INDEX_FROM = 16
"""Values of one property from which duplicates are found by a hash index, not a scan."""


def _keys(values: list[Any]) -> set[Any]:
    keys = {_value_key(v) for v in values}
    keys.discard(None)
    keys.discard(_NEVER)
    return keys


class _NodeMap:
    """pyld's Node Map Generation (JSON-LD 1.1 API §7.2) with a hash index per (node,
    property) instead of scanning the values for duplicates: linear, not quadratic, in the
    number of values of one property. Charges the work budget per node; nesting is bounded."""

    def __init__(self, issuer: IdentifierIssuer) -> None:
        self.issuer = issuer
        self.index: dict[tuple[int, str], set[Any]] = {}
        self.budget = work.active()

    def add(self, node: dict[str, Any], prop: str, value: Any, allow_duplicate: bool) -> None:
        values = node.get(prop)
        if values is None:
            values = node[prop] = []
        elif not isinstance(values, list):
            values = node[prop] = [values]
        seen = self.index.get((id(node), prop)) if self.index else None
        if seen is None and len(values) < _INDEX_FROM:
            # few values (almost every property): pyld's scan is cheaper than hashing
            if not allow_duplicate:
                for v in values:
                    if _compare_values(v, value):
                        return
            values.append(value)
            return
        key = _value_key(value)
        if not allow_duplicate:
            if key is None:
                work.charge(len(values))
                if any(jsonld.JsonLdProcessor.compare_values(v, value) for v in values):
                    return
            elif key is not _NEVER:
                if seen is None:
                    seen = self.index[(id(node), prop)] = _keys(values)
                if key in seen:
                    return
        if seen is not None and key is not None and key is not _NEVER:
            seen.add(key)
        values.append(value)

    def build(
        self,
        input_: Any,
        graph_map: dict[str, Any],
        active_graph: str,
        active_subject: Any = None,
        active_property: str | None = None,
        list_: dict[str, Any] | None = None,
    ) -> None:
        b = self.budget
        if b is None:
            self._build(input_, graph_map, active_graph, active_subject, active_property, list_)
            return
        b.step_in()
        try:
            self._build(input_, graph_map, active_graph, active_subject, active_property, list_)
        finally:
            b.leave()

    def _build(
        self,
        input_: Any,
        graph_map: dict[str, Any],
        active_graph: str,
        active_subject: Any,
        active_property: str | None,
        list_: dict[str, Any] | None,
    ) -> None:
        issuer = self.issuer
        if isinstance(input_, list):
            for e in input_:
                self.build(e, graph_map, active_graph, active_subject, active_property, list_)
            return
        subject_node = (
            graph_map.setdefault(active_graph, {}).get(active_subject)
            if isinstance(active_subject, str)
            else None
        )
        if "@type" in input_:
            for type_ in input_["@type"]:
                if isinstance(type_, str) and type_.startswith("_:"):
                    issuer.get_id(type_)
        if "@value" in input_:
            if "@type" in input_:
                type_ = input_["@type"]
                if isinstance(type_, str) and type_.startswith("_:"):
                    type_ = input_["@type"] = issuer.get_id(type_)
            if list_:
                list_["@list"].append(input_)
            elif subject_node:
                assert active_property is not None
                self.add(subject_node, active_property, input_, False)
            return
        if "@list" in input_:
            o: dict[str, Any] = {"@list": []}
            self.build(input_["@list"], graph_map, active_graph, active_subject, active_property, o)
            if list_:
                list_["@list"].append(o)
            elif subject_node:
                assert active_property is not None
                self.add(subject_node, active_property, o, True)
            return

        id_ = input_.get("@id")
        if jsonld._is_bnode(input_):
            id_ = issuer.get_id(id_)
        node = graph_map.setdefault(active_graph, {}).setdefault(id_, {"@id": id_})

        if isinstance(active_subject, dict):
            assert active_property is not None
            self.add(node, active_property, active_subject, False)
        elif active_property:
            reference = {"@id": id_}
            if list_:
                list_["@list"].append(reference)
            elif subject_node:
                self.add(subject_node, active_property, reference, False)

        for prop, objects in sorted(input_.items()):
            if prop == "@id":
                continue
            if prop == "@reverse":
                referenced_node = {"@id": id_}
                for reverse_property, items in input_["@reverse"].items():
                    for item in items:
                        self.build(item, graph_map, active_graph, referenced_node, reverse_property)
                continue
            if prop == "@graph":
                graph_map.setdefault(id_, {})
                g = active_graph if active_graph == "@merged" else id_
                self.build(objects, graph_map, g)
                continue
            if prop == "@included":
                self.build(objects, graph_map, active_graph)
                continue
            if prop != "@type" and jsonld._is_keyword(prop):
                if (
                    prop == "@index"
                    and "@index" in node
                    and (
                        input_["@index"] != node["@index"]
                        or input_["@index"]["@id"] != node["@index"]["@id"]
                    )
                ):
                    raise jsonld.JsonLdError(
                        "Invalid JSON-LD syntax; conflicting @index property detected.",
                        "jsonld.SyntaxError",
                        {"node": node},
                        code="conflicting indexes",
                    )
                node[prop] = input_[prop]
                continue
            if prop.startswith("_:"):
                prop = issuer.get_id(prop)
            if len(objects) == 0:
                if prop not in node:
                    node[prop] = []
                continue
            for o in objects:
                if prop == "@type":
                    t = str(o)
                    self.add(node, prop, issuer.get_id(t) if t.startswith("_:") else t, False)
                else:
                    self.build(o, graph_map, active_graph, id_, prop)


def _options(loader: ContextLoader) -> dict[str, Any]:
    return {
        "documentLoader": loader,
        "contextResolver": ContextResolver(loader._resolved, loader),
        "base": None,
        "processingMode": "json-ld-1.1",
        "extractAllScripts": True,
        "produceGeneralizedRdf": False,
    }


def _find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def _find_key(node: Any, key: str, path: str = "") -> str | None:
    if isinstance(node, Mapping):
        for k, v in node.items():
            here = f"{path}.{k}" if path else str(k)
            if k == key:
                return here
            found = _find_key(v, key, here)
            if found is not None:
                return found
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found = _find_key(item, key, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _translate(exc: Exception, document: Any) -> VCIssuerError:
    unknown = _find_cause(exc, UnknownContextError)
    if unknown is not None:
        assert isinstance(unknown, UnknownContextError)
        return unknown
    dropped = _find_cause(exc, _DroppedProperty)
    if dropped is not None:
        assert isinstance(dropped, _DroppedProperty)
        term = dropped.expanded
        if term is None:
            return DataLossError(
                "a property is mapped to null by the context and would be dropped", term=None
            )
        where = _find_key(document, term) or term
        return DataLossError(
            f"undefined term {term!r} at {where}: no @context defines it, so expansion "
            "would drop it from the signed data",
            term=term,
            path=where,
        )
    mine = _find_cause(exc, VCIssuerError)
    if mine is not None:
        assert isinstance(mine, VCIssuerError)
        return mine
    if isinstance(exc, RecursionError):
        return MalformedInputError("document is nested too deeply")
    pyld_err = _find_cause(exc, jsonld.JsonLdError)
    if pyld_err is not None:
        details = []
        cur: Any = pyld_err
        while cur is not None:
            if isinstance(cur, jsonld.JsonLdError):
                code = getattr(cur, "code", None)
                text = str(cur.args[0]) if cur.args else str(cur.type)
                details.append(text + (f" ({code})" if code else ""))
            cur = cur.__cause__
        return JsonLdError("JSON-LD processing failed: " + "; ".join(details))
    return JsonLdError(f"JSON-LD processing failed: {exc}")


_ABSOLUTE = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*|_):[^\s]*$")
_NODE_SKIP = frozenset({"@id", "@type", "@value", "@language", "@direction", "@index"})


def _iri_ok(value: Any) -> bool:
    return not isinstance(value, str) or _ABSOLUTE.match(value) is not None


def _check_expanded(node: Any, where: str) -> None:
    """Safe mode on the expanded form: every @id and @type must be an absolute IRI or a
    blank node, or RDF conversion would silently drop the statement."""
    if isinstance(node, list):
        for item in node:
            _check_expanded(item, where)
        return
    if not isinstance(node, dict):
        return
    if "@value" in node:
        vtype = node.get("@type")
        if vtype is not None and vtype != "@json" and not _iri_ok(vtype):
            raise DataLossError(
                f"relative datatype IRI {vtype!r} at {where}", term=vtype, path=where
            )
        return
    node_id = node.get("@id")
    if node_id is not None and not _iri_ok(node_id):
        raise DataLossError(
            f"relative IRI {node_id!r} used as @id at {where}: it is not an absolute IRI "
            "and would be dropped from the signed data",
            term=node_id,
            path=where,
        )
    for t in node.get("@type", ()):
        if not _iri_ok(t):
            raise DataLossError(
                f"undefined type {t!r} at {where}: no @context defines it, so it expands to "
                "a relative IRI and would be dropped from the signed data",
                term=t,
                path=where,
            )
    for key, value in node.items():
        if key in _NODE_SKIP:
            continue
        if key.startswith("_:"):
            raise DataLossError(
                f"property {key!r} at {where} expands to a blank node, which RDF does not "
                "allow as a predicate: the statement would be dropped",
                term=key,
                path=where,
            )
        _check_expanded(value, key if key.startswith("@") else key.rsplit("#", 1)[-1])


def _expand(document: Any, loader: ContextLoader, safe: bool) -> list[Any]:
    if not isinstance(document, Mapping):
        raise MalformedInputError("a JSON-LD document must be a JSON object")
    proc = loader._processor(safe)
    try:
        expanded: list[Any] = proc.expand(dict(document), _options(loader))
        if safe:
            _check_expanded(expanded, "document")
    except VCIssuerError:
        raise
    except Exception as exc:
        raise _translate(exc, document) from exc
    return expanded


def expand(
    document: Mapping[str, Any], loader: ContextLoader | None = None, safe: bool = True
) -> list[Any]:
    """JSON-LD expansion with pinned contexts; in safe mode, refuse anything it would drop."""
    return _expand(document, loader or default_loader(), safe)


def to_quads(
    document: Mapping[str, Any], loader: ContextLoader | None = None, *, safe: bool = True
) -> list[rdfc.Quad]:
    """The RDF dataset of ``document`` as canonical-form quads (see vc_issuer.core.rdfc)."""
    loader = loader or default_loader()
    expanded = _expand(document, loader, safe)
    proc = loader._processor(safe)
    try:
        issuer = IdentifierIssuer("_:b")
        node_map: dict[str, Any] = {"@default": {}}
        _NodeMap(issuer).build(expanded, node_map, "@default")
        options = _options(loader)
        dataset: dict[str, Any] = {}
        for graph_name, graph in sorted(node_map.items()):
            if graph_name == "@default" or _ABSOLUTE.match(graph_name):
                dataset[graph_name] = proc._graph_to_rdf(graph, issuer, options)
    except VCIssuerError:
        raise
    except Exception as exc:
        raise _translate(exc, document) from exc
    return rdfc.quads_from_pyld(dataset)


def canonicalize(
    document: Mapping[str, Any],
    loader: ContextLoader | None = None,
    *,
    safe: bool = True,
    limits: rdfc.WorkLimits = rdfc.DEFAULT_LIMITS,
) -> str:
    """RDFC-1.0 N-Quads of ``document`` (safe mode: refuse anything expansion would drop)."""
    return rdfc.canonicalize(to_quads(document, loader, safe=safe), limits=limits)


def compact(document: Any, context: Any, loader: ContextLoader | None = None) -> dict[str, Any]:
    """JSON-LD compaction of ``document`` (compact or expanded) under ``context``, with the
    pinned contexts. Used by selective disclosure (ecdsa-sd-2023), whose JSON pointers address
    the compact form of a skolemized document."""
    loader = loader or default_loader()
    proc = loader._processor(False)
    try:
        compacted: dict[str, Any] = proc.compact(document, context, _options(loader))
    except VCIssuerError:
        raise
    except Exception as exc:
        raise _translate(exc, document) from exc
    return compacted
