"""The Selective Disclosure Functions of vc-di-ecdsa §3.4, one function per spec algorithm.

They turn a compact JSON-LD document into canonical N-Quads whose blank node labels are
replaced (by HMAC digests for the issuer and holder, by a disclosed label map for the
verifier), and group those N-Quads by what a set of JSON pointers selects. Skolemization gives
every node an ``urn:custom-scheme:`` id first, so that a selected fragment of the document
names the same nodes as the whole.

N-Quads are handled as quads of canonical-form terms (vc_issuer.core.rdfc), so relabeling
replaces blank node *terms*, never text inside literals.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from did_methods.jwk import b64url_encode
from vc_issuer.core import rdfc
from vc_issuer.core.jsonld import ContextLoader, compact, expand, to_quads
from vc_issuer.errors import MalformedProofError, ProofGenerationError

URN_SCHEME = "custom-scheme"
_SKOLEM_PREFIX = f"<urn:{URN_SCHEME}:"

#: canonical id map (input blank node label -> c14nN) -> label map (input label -> new label)
LabelMapFactory = Callable[[Mapping[str, str]], dict[str, str]]
Quad = rdfc.Quad


# --- label replacement (§3.4.1 - §3.4.4) --------------------------------------------------------


def _relabel(quad: Quad, label_map: Mapping[str, str]) -> Quad:
    def term(t: str) -> str:
        if t[:2] != "_:":
            return t
        try:
            return "_:" + label_map[t[2:]]
        except KeyError:
            raise MalformedProofError(f"no label for blank node {t}") from None

    s, p, o, g = quad
    return term(s), p, term(o), term(g) if g else g


def label_replacement_canonicalize_nquads(
    quads: Iterable[Quad], label_map_factory: LabelMapFactory
) -> tuple[list[str], dict[str, str]]:
    """§3.4.1: canonicalize, replace the canonical labels through the factory's label map,
    and sort again. Returns (canonical N-Quads, one string per quad; label map)."""
    unique = list(dict.fromkeys(quads))
    canonical_id_map = rdfc.canonicalize_quads(unique).issued
    label_map = label_map_factory(canonical_id_map)
    nquads = sorted((rdfc.serialize_quad(_relabel(q, label_map)) for q in unique), key=_utf16)
    return nquads, label_map


def _utf16(line: str) -> bytes:
    # Digital Bazaar sorts the relabeled lines by UTF-16 code unit (JavaScript's sort); that
    # differs from code point order only for characters above U+FFFF. Same order, same proofs.
    return line.encode("utf-16-be")


def label_replacement_canonicalize_json_ld(
    document: Mapping[str, Any],
    label_map_factory: LabelMapFactory,
    loader: ContextLoader | None = None,
) -> tuple[list[str], dict[str, str]]:
    """§3.4.2: the same, starting from a JSON-LD document."""
    return label_replacement_canonicalize_nquads(to_quads(document, loader), label_map_factory)


def create_label_map_function(label_map: Mapping[str, str]) -> LabelMapFactory:
    """§3.4.3: canonical labels (``c14nN``) are replaced by the labels of ``label_map``."""

    def factory(canonical_id_map: Mapping[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for input_label, c14n_label in canonical_id_map.items():
            if c14n_label not in label_map:
                raise MalformedProofError(
                    f"the proof's label map has no entry for blank node _:{c14n_label}"
                )
            out[input_label] = label_map[c14n_label]
        return out

    return factory


def create_hmac_id_label_map_function(hmac_key: bytes) -> LabelMapFactory:
    """§3.4.4: canonical labels are replaced by ``u`` + base64url(HMAC-SHA-256(label))."""

    def factory(canonical_id_map: Mapping[str, str]) -> dict[str, str]:
        return {
            input_label: "u"
            + b64url_encode(hmac.new(hmac_key, c14n.encode("utf-8"), hashlib.sha256).digest())
            for input_label, c14n in canonical_id_map.items()
        }

    return factory


# --- skolemization (§3.4.5 - §3.4.9) ------------------------------------------------------------


def skolemize_expanded_json_ld(
    expanded: list[Any], random_string: str, count: list[int]
) -> list[Any]:
    """§3.4.7: every node object gets an ``urn:custom-scheme:`` id (``_:b0`` keeps its label)."""
    skolemized: list[Any] = []
    for element in expanded:
        if not isinstance(element, dict) or "@value" in element:
            skolemized.append(copy.deepcopy(element))
            continue
        node: dict[str, Any] = {}
        for prop, value in element.items():
            if isinstance(value, list):
                node[prop] = skolemize_expanded_json_ld(value, random_string, count)
            else:
                node[prop] = skolemize_expanded_json_ld([value], random_string, count)[0]
        node_id = node.get("@id")
        if node_id is None:
            node["@id"] = f"urn:{URN_SCHEME}:_{random_string}_{count[0]}"
            count[0] += 1
        elif isinstance(node_id, str) and node_id.startswith("_:"):
            node["@id"] = f"urn:{URN_SCHEME}:{node_id[2:]}"
        skolemized.append(node)
    return skolemized


def skolemize_compact_json_ld(
    document: Mapping[str, Any], loader: ContextLoader | None = None
) -> tuple[list[Any], dict[str, Any]]:
    """§3.4.8: (skolemized expanded document, skolemized compact document)."""
    expanded = expand(document, loader)
    skolemized = skolemize_expanded_json_ld(expanded, uuid.uuid4().hex, [0])
    return skolemized, compact(skolemized, document["@context"], loader)


def skolemize_quads(quads: Iterable[Quad]) -> list[Quad]:
    """§3.4.5 (skolemizeNQuads), on quads."""

    def term(t: str) -> str:
        return f"{_SKOLEM_PREFIX}{t[2:]}>" if t[:2] == "_:" else t

    return [(term(s), p, term(o), term(g) if g else g) for s, p, o, g in quads]


def deskolemize_quads(quads: Iterable[Quad]) -> list[Quad]:
    """§3.4.6 (deskolemizeNQuads), on quads: ``<urn:custom-scheme:X>`` becomes ``_:X``."""

    def term(t: str) -> str:
        return "_:" + t[len(_SKOLEM_PREFIX) : -1] if t.startswith(_SKOLEM_PREFIX) else t

    return [(term(s), p, term(o), term(g) if g else g) for s, p, o, g in quads]


def to_deskolemized_nquads(
    skolemized_document: Mapping[str, Any] | list[Any], loader: ContextLoader | None = None
) -> list[Quad]:
    """§3.4.9: the RDF of a skolemized (compact or expanded) document, deskolemized."""
    doc = (
        {"@graph": skolemized_document}
        if isinstance(skolemized_document, list)
        else (skolemized_document)
    )
    return deskolemize_quads(to_quads(doc, loader))


# --- selection by JSON pointers (§3.4.10 - §3.4.15) ---------------------------------------------


def json_pointer_to_paths(pointer: str) -> list[str]:
    """§3.4.10: the reference tokens of an RFC 6901 pointer, unescaped (``~1`` then ``~0``).

    Tokens stay strings; :func:`select_paths` reads one as an index when it meets an array.
    """
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise ProofGenerationError(f"not a JSON pointer: {pointer!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def create_initial_selection(source: Any) -> dict[str, Any]:
    """§3.4.11: a non-blank ``id`` and the ``type`` of every node on a pointer's path."""
    selection: dict[str, Any] = {}
    if not isinstance(source, Mapping):  # a literal: replaced by its value at the path's end
        return selection
    node_id = source.get("id")
    if node_id is not None and not (isinstance(node_id, str) and node_id.startswith("_:")):
        selection["id"] = node_id
    if "type" in source:
        selection["type"] = copy.deepcopy(source["type"])
    return selection


class _SparseArray(dict[int, Any]):
    """A selected array being filled by index; made dense (in index order) at the end."""


def _child(container: Any, token: str, pointer: str) -> Any:
    if isinstance(container, Mapping):
        if token in container:
            return container[token]
    elif isinstance(container, list) and token.isdigit() and int(token) < len(container):
        return container[int(token)]
    raise ProofGenerationError(f"JSON pointer {pointer!r} does not match the document")


def _key(container: Any, token: str) -> Any:
    return int(token) if isinstance(container, _SparseArray | list) else token


def select_paths(
    paths: Sequence[str],
    document: Mapping[str, Any],
    selection_document: dict[str, Any],
    pointer: str,
) -> None:
    """§3.4.12: copy the value ``paths`` reaches into the selection, with the id and type of
    every node on the way."""
    value: Any = document
    selected_parent: Any = selection_document
    selected_value: Any = selection_document
    for path in paths:
        selected_parent = selected_value
        value = _child(value, path, pointer)
        key = _key(selected_parent, path)
        selected_value = (
            selected_parent.get(key)
            if isinstance(selected_parent, dict)
            else (selected_parent[key] if key < len(selected_parent) else None)
        )
        if selected_value is None:
            if isinstance(value, list):
                selected_value = _SparseArray()
            else:
                selected_value = create_initial_selection(value)
            selected_parent[key] = selected_value
    if isinstance(value, list):
        selected_value = copy.deepcopy(value)
    elif isinstance(value, Mapping):
        selected_value = {**selected_value, **copy.deepcopy(dict(value))}
    else:
        selected_value = value
    if not paths:
        selection_document.update(selected_value)
        return
    selected_parent[_key(selected_parent, paths[-1])] = selected_value


def _densify(node: Any) -> Any:
    """Selected arrays become lists of their selected items, in index order (§3.4.13)."""
    if isinstance(node, _SparseArray):
        return [_densify(node[i]) for i in sorted(node)]
    if isinstance(node, dict):
        return {k: _densify(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_densify(v) for v in node]
    return node


def select_json_ld(pointers: Sequence[str], document: Mapping[str, Any]) -> dict[str, Any] | None:
    """§3.4.13: the part of a compact document the pointers select (None for no pointers)."""
    if not pointers:
        return None
    if "" in pointers:  # the whole document
        return copy.deepcopy(dict(document))
    selection = create_initial_selection(document)
    selection["@context"] = copy.deepcopy(document["@context"])
    for pointer in pointers:
        select_paths(json_pointer_to_paths(pointer), document, selection, pointer)
    out: dict[str, Any] = _densify(selection)
    return out


def relabel_blank_nodes(quads: Iterable[Quad], label_map: Mapping[str, str]) -> list[str]:
    """§3.4.14: the N-Quads with every blank node label replaced through ``label_map``."""
    return [rdfc.serialize_quad(_relabel(q, label_map)) for q in quads]


@dataclass(frozen=True)
class Selection:
    """The result of §3.4.15 selectCanonicalNQuads."""

    selection_document: dict[str, Any] | None
    deskolemized_nquads: list[Quad]
    nquads: list[str]


def select_canonical_nquads(
    pointers: Sequence[str],
    label_map: Mapping[str, str],
    skolemized_compact_document: Mapping[str, Any],
    loader: ContextLoader | None = None,
) -> Selection:
    """§3.4.15: the canonical (relabeled) N-Quads of what the pointers select."""
    selection = select_json_ld(pointers, skolemized_compact_document)
    if selection is None:
        return Selection(None, [], [])
    deskolemized = to_deskolemized_nquads(selection, loader)
    return Selection(selection, deskolemized, relabel_blank_nodes(deskolemized, label_map))


# --- grouping (§3.4.16, §3.4.17) ----------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """Which canonical N-Quads (by index) a group's pointers select, and which they do not."""

    matching: dict[int, str]
    non_matching: dict[int, str]
    deskolemized_nquads: list[Quad]


@dataclass(frozen=True)
class CanonicalGroups:
    groups: dict[str, Group]
    skolemized_expanded_document: list[Any]
    skolemized_compact_document: dict[str, Any]
    deskolemized_nquads: list[Quad]
    label_map: dict[str, str]
    nquads: list[str]


def canonicalize_and_group(
    document: Mapping[str, Any],
    label_map_factory: LabelMapFactory,
    group_definitions: Mapping[str, Sequence[str]],
    loader: ContextLoader | None = None,
) -> CanonicalGroups:
    """§3.4.16: canonicalize (labels replaced) and group the N-Quads by selection."""
    skolemized_expanded, skolemized_compact = skolemize_compact_json_ld(document, loader)
    deskolemized = to_deskolemized_nquads(skolemized_expanded, loader)
    nquads, label_map = label_replacement_canonicalize_nquads(deskolemized, label_map_factory)
    groups: dict[str, Group] = {}
    for name, pointers in group_definitions.items():
        selection = select_canonical_nquads(pointers, label_map, skolemized_compact, loader)
        selected = set(selection.nquads)
        matching = {i: nq for i, nq in enumerate(nquads) if nq in selected}
        non_matching = {i: nq for i, nq in enumerate(nquads) if nq not in selected}
        groups[name] = Group(matching, non_matching, selection.deskolemized_nquads)
    return CanonicalGroups(
        groups, skolemized_expanded, skolemized_compact, deskolemized, label_map, nquads
    )


def hash_mandatory_nquads(mandatory: Iterable[str]) -> bytes:
    """§3.4.17: SHA-256 of the UTF-8 of the joined mandatory N-Quads."""
    return hashlib.sha256("".join(mandatory).encode("utf-8")).digest()
