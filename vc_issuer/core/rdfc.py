"""RDF Dataset Canonicalization (W3C RDFC-1.0), pure and bounded.

Our own implementation rather than pyld's URDNA2015 because we need three things pyld lacks:
the canonical N-Quads escaping of RDFC-1.0 (control characters as ``\\b``-style or uppercase
``\\u000B`` escapes), a work limit so that hostile "poison" graphs fail fast instead of hanging
the issuer or verifier, and speed.

Terms are kept as their canonical N-Quads text: ``<iri>``, ``_:label`` or ``"lexical"…``.
A quad is a 4-tuple of such strings; the graph is ``""`` for the default graph.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vc_issuer.core import work
from vc_issuer.errors import CanonicalizationLimitError, ParsingError, WorkBudgetExceededError

__all__ = [
    "XSD_STRING",
    "CanonicalizationResult",
    "Quad",
    "WorkLimits",
    "canonicalize",
    "canonicalize_quads",
    "escape_literal",
    "format_literal",
    "parse_nquads",
    "quads_from_pyld",
    "serialize_quad",
]

Quad = tuple[str, str, str, str]

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

_HASHES: dict[str, Callable[..., Any]] = {
    "sha256": hashlib.sha256,
    "sha-256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha-384": hashlib.sha384,
}


@dataclass(frozen=True, slots=True)
class WorkLimits:
    """Bounds on the only super-linear part of RDFC-1.0 (hash N-degree quads).

    Real credentials need no or a handful of N-degree calls; the defaults still let the
    suite's "computable poison" graphs (test044-046) through and refuse the 10-clique
    (test074) within milliseconds.
    """

    max_n_degree_calls: int = 5_000
    max_permutations: int = 20_000
    #: quads visited by N-degree calls plus blank nodes walked in permutations
    max_work: int = 200_000
    #: nesting of hash N-degree quads (one level per blank node of a chain or cycle walked);
    #: deeper fails with WORK_BUDGET_EXCEEDED, never RecursionError
    max_depth: int = 200


DEFAULT_LIMITS = WorkLimits()


@dataclass(slots=True)
class CanonicalizationResult:
    nquads: str
    #: input blank node label (without ``_:``) -> canonical label (``c14n0``...)
    issued: dict[str, str]
    n_degree_calls: int
    permutations: int
    work: int


# --- N-Quads text ----------------------------------------------------------------------------

_ESCAPES = {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}
_ESCAPE_TABLE: dict[int, str] = {c: f"\\u{c:04X}" for c in [*range(0x20), 0x7F]}
_ESCAPE_TABLE.update(_ESCAPES)
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\x7f]')


def escape_literal(value: str) -> str:
    """Canonical N-Quads string escaping (RDFC-1.0 §4.6 / RDF 1.2 N-Quads canonical form)."""
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    return value.translate(_ESCAPE_TABLE)


def format_literal(value: str, datatype: str | None = None, language: str | None = None) -> str:
    """The canonical N-Quads form of a literal term."""
    text = '"' + escape_literal(value) + '"'
    if language:
        return text + "@" + language
    if datatype and datatype != XSD_STRING:
        return text + "^^<" + datatype + ">"
    return text


def serialize_quad(quad: Quad) -> str:
    s, p, o, g = quad
    if g:
        return f"{s} {p} {o} {g} .\n"
    return f"{s} {p} {o} .\n"


_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_IRI = rf"<((?:[^\x00-\x20<>\"{{}}|^`\\]|{_UCHAR})*)>"
_PN = r"A-Za-z0-9_\u00B7-\U000EFFFF"
_BNODE = rf"(_:[{_PN}](?:[{_PN}.\-]*[{_PN}\-])?)"
_LITERAL = (
    rf'"((?:[^"\\\n\r]|\\[tbnrf"\'\\]|{_UCHAR})*)"'
    rf"(?:\^\^{_IRI}|@([A-Za-z]+(?:-[A-Za-z0-9]+)*))?"
)
_WS = r"[ \t]*"
_LINE = re.compile(
    rf"{_WS}(?:{_IRI}|{_BNODE}){_WS}{_IRI}{_WS}(?:{_IRI}|{_BNODE}|{_LITERAL})"
    rf"{_WS}(?:(?:{_IRI}|{_BNODE}){_WS})?\.{_WS}(?:#.*)?"
)
_SKIP = re.compile(rf"{_WS}(?:#.*)?")
_UNESCAPE = re.compile(rf"{_UCHAR}|\\[tbnrf\"'\\]")
_ECHARS = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unescape_match(m: re.Match[str]) -> str:
    text = m.group(0)
    if text[1] in "uU":
        code = int(text[2:], 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise ParsingError(f"invalid code point escape {text} in N-Quads")
        return chr(code)
    return _ECHARS[text[1]]


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(_unescape_match, text) if "\\" in text else text


def _iri(text: str) -> str:
    return "<" + _unescape(text) + ">"


def parse_nquads(text: str) -> list[Quad]:
    """Parse N-Quads into canonical-form quads (escapes decoded, duplicates removed)."""
    quads: dict[Quad, None] = {}
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        m = _LINE.fullmatch(line)
        if m is None:
            if _SKIP.fullmatch(line):
                continue
            raise ParsingError(f"invalid N-Quads on line {number}: {line[:80]!r}")
        s_iri, s_bn, p_iri, o_iri, o_bn, lit, dt, lang, g_iri, g_bn = m.groups()
        s = _iri(s_iri) if s_iri is not None else s_bn
        p = _iri(p_iri)
        if o_iri is not None:
            o = _iri(o_iri)
        elif o_bn is not None:
            o = o_bn
        else:
            o = format_literal(_unescape(lit), _unescape(dt) if dt is not None else None, lang)
        g = _iri(g_iri) if g_iri is not None else g_bn or ""
        quads[(s, p, o, g)] = None
    return list(quads)


def _pyld_term(term: Mapping[str, Any]) -> str:
    kind = term["type"]
    value: str = term["value"]
    if kind == "IRI":
        return "<" + value + ">"
    if kind == "blank node":
        return value
    return format_literal(value, term.get("datatype"), term.get("language"))


def quads_from_pyld(dataset: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Quad]:
    """Quads from pyld's ``to_rdf`` dataset form ({graph name: [triple dicts]})."""
    quads: dict[Quad, None] = {}
    for graph_name, triples in dataset.items():
        if graph_name == "@default":
            g = ""
        elif graph_name.startswith("_:"):
            g = graph_name
        else:
            g = "<" + graph_name + ">"
        for t in triples:
            s = _pyld_term(t["subject"])
            quads[(s, _pyld_term(t["predicate"]), _pyld_term(t["object"]), g)] = None
    return list(quads)


_charge = work.charge


# --- the algorithm ---------------------------------------------------------------------------


class _Issuer:
    """Identifier issuer (RDFC-1.0 §4.5); ``issued`` keeps issue order."""

    __slots__ = ("counter", "issued", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counter = 0
        self.issued: dict[str, str] = {}

    def issue(self, existing: str) -> str:
        label = self.issued.get(existing)
        if label is None:
            label = self.prefix + str(self.counter)
            self.counter += 1
            self.issued[existing] = label
        return label

    def copy(self) -> _Issuer:
        other = _Issuer(self.prefix)
        other.counter = self.counter
        other.issued = dict(self.issued)
        return other


def _is_bnode(term: str) -> bool:
    return term.startswith("_:")


class _State:
    __slots__ = (
        "bnode_quads",
        "calls",
        "canonical",
        "depth",
        "first_degree",
        "hash",
        "limits",
        "permutations",
        "work",
    )

    def __init__(self, quads: Sequence[Quad], hash_fn: Callable[..., Any], limits: WorkLimits):
        self.hash = hash_fn
        self.limits = limits
        self.canonical = _Issuer("_:c14n")
        self.bnode_quads: dict[str, list[Quad]] = {}
        self.first_degree: dict[str, str] = {}
        self.calls = 0
        self.permutations = 0
        self.work = 0
        self.depth = 0
        for quad in quads:
            s, _, o, g = quad
            for term in (s, o, g):
                if term.startswith("_:"):
                    lst = self.bnode_quads.setdefault(term, [])
                    if not lst or lst[-1] is not quad:
                        lst.append(quad)

    def digest(self, text: str) -> str:
        return str(self.hash(text.encode("utf-8")).hexdigest())

    def hash_first_degree(self, node: str) -> str:
        """§4.6: hash of the node's quads with itself as _:a and every other blank node _:z."""
        cached = self.first_degree.get(node)
        if cached is not None:
            return cached
        lines = []
        for s, p, o, g in self.bnode_quads[node]:
            if s[0] == "_":
                s = "_:a" if s == node else "_:z"
            if o[0] == "_":
                o = "_:a" if o == node else "_:z"
            if g:
                if g[0] == "_":
                    g = "_:a" if g == node else "_:z"
                lines.append(f"{s} {p} {o} {g} .\n")
            else:
                lines.append(f"{s} {p} {o} .\n")
        lines.sort()
        result = self.digest("".join(lines))
        self.first_degree[node] = result
        return result

    def hash_related(self, related: str, quad: Quad, issuer: _Issuer, position: str) -> str:
        """§4.7 Hash Related Blank Node."""
        label = self.canonical.issued.get(related) or issuer.issued.get(related)
        if label is None:
            label = self.hash_first_degree(related)
        if position == "g":
            return self.digest("g" + label)
        return self.digest(position + quad[1] + label)

    def _charge(self, calls: int = 0, permutations: int = 0, work: int = 0) -> None:
        self.calls += calls
        self.permutations += permutations
        self.work += work
        if work:
            _charge(work)
        if self.work > self.limits.max_work:
            raise CanonicalizationLimitError(
                f"RDFC-1.0 work limit exceeded: more than {self.limits.max_work} steps "
                "(a blank node structure built to exhaust the canonicalizer?)",
                limit="max_work",
            )
        if self.calls > self.limits.max_n_degree_calls:
            raise CanonicalizationLimitError(
                "RDFC-1.0 work limit exceeded: more than "
                f"{self.limits.max_n_degree_calls} hash N-degree quads calls "
                "(a blank node structure built to exhaust the canonicalizer?)",
                limit="max_n_degree_calls",
            )
        if self.permutations > self.limits.max_permutations:
            raise CanonicalizationLimitError(
                "RDFC-1.0 work limit exceeded: more than "
                f"{self.limits.max_permutations} blank node permutations "
                "(a blank node structure built to exhaust the canonicalizer?)",
                limit="max_permutations",
            )

    def hash_n_degree(self, node: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        """§4.8 Hash N-Degree Quads (depth-limited: see WorkLimits.max_depth)."""
        self._charge(calls=1, work=len(self.bnode_quads[node]))
        if self.depth >= self.limits.max_depth:
            raise WorkBudgetExceededError(
                f"RDFC-1.0: blank nodes chained more than {self.limits.max_depth} deep",
                limit="depth",
                value=self.limits.max_depth,
            )
        self.depth += 1
        try:
            return self._hash_n_degree(node, issuer)
        finally:
            self.depth -= 1

    def _hash_n_degree(self, node: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        related_by_hash: dict[str, list[str]] = {}
        for quad in self.bnode_quads[node]:
            s, _, o, g = quad
            if s[0] == "_" and s != node:
                h = self.hash_related(s, quad, issuer, "s")
                related_by_hash.setdefault(h, []).append(s)
            if o[0] == "_" and o != node:
                h = self.hash_related(o, quad, issuer, "o")
                related_by_hash.setdefault(h, []).append(o)
            if g and g[0] == "_" and g != node:
                h = self.hash_related(g, quad, issuer, "g")
                related_by_hash.setdefault(h, []).append(g)

        data = []
        canonical = self.canonical.issued
        for related_hash in sorted(related_by_hash):
            data.append(related_hash)
            chosen_path = ""
            chosen_issuer: _Issuer | None = None
            for permutation in itertools.permutations(related_by_hash[related_hash]):
                self._charge(permutations=1, work=len(permutation))
                issuer_copy = issuer.copy()
                path = ""
                recursion: list[str] = []
                pruned = False
                for related in permutation:
                    label = canonical.get(related)
                    if label is not None:
                        path += label
                    else:
                        if related not in issuer_copy.issued:
                            recursion.append(related)
                        path += issuer_copy.issue(related)
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        pruned = True
                        break
                if pruned:
                    continue
                for related in recursion:
                    result_hash, result_issuer = self.hash_n_degree(related, issuer_copy)
                    path += issuer_copy.issue(related)
                    path += "<" + result_hash + ">"
                    issuer_copy = result_issuer
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        pruned = True
                        break
                if pruned:
                    continue
                if not chosen_path or path < chosen_path:
                    chosen_path = path
                    chosen_issuer = issuer_copy
            data.append(chosen_path)
            assert chosen_issuer is not None
            issuer = chosen_issuer
        return self.digest("".join(data)), issuer

    def run(self) -> None:
        """§4.4 steps 3-5: issue canonical labels."""
        by_hash: dict[str, list[str]] = {}
        _charge(len(self.bnode_quads))
        for node in self.bnode_quads:
            by_hash.setdefault(self.hash_first_degree(node), []).append(node)
        shared: list[tuple[str, list[str]]] = []
        for h in sorted(by_hash):
            nodes = by_hash[h]
            if len(nodes) == 1:
                self.canonical.issue(nodes[0])
            else:
                shared.append((h, nodes))
        for _, nodes in shared:
            results: list[tuple[str, _Issuer]] = []
            for node in nodes:
                if node in self.canonical.issued:
                    continue
                temporary = _Issuer("_:b")
                temporary.issue(node)
                results.append(self.hash_n_degree(node, temporary))
            results.sort(key=lambda r: r[0])
            for _, issuer in results:
                for existing in issuer.issued:
                    self.canonical.issue(existing)


def canonicalize_quads(
    quads: Iterable[Quad],
    *,
    hash_algorithm: str = "sha256",
    limits: WorkLimits = DEFAULT_LIMITS,
) -> CanonicalizationResult:
    """RDFC-1.0 over ``quads`` (canonical-form terms, see module doc); raises
    CanonicalizationLimitError when the work limit is hit."""
    try:
        hash_fn = _HASHES[hash_algorithm.lower()]
    except KeyError:
        raise ValueError(f"unsupported RDFC-1.0 hash algorithm {hash_algorithm!r}") from None
    unique = list(dict.fromkeys(quads))
    state = _State(unique, hash_fn, limits)
    state.run()
    issued = state.canonical.issued
    lines = []
    for s, p, o, g in unique:
        if s[0] == "_":
            s = issued[s]
        if o[0] == "_":
            o = issued[o]
        if g:
            if g[0] == "_":
                g = issued[g]
            lines.append(f"{s} {p} {o} {g} .\n")
        else:
            lines.append(f"{s} {p} {o} .\n")
    lines.sort()
    return CanonicalizationResult(
        nquads="".join(lines),
        issued={k[2:]: v[2:] for k, v in issued.items()},
        n_degree_calls=state.calls,
        permutations=state.permutations,
        work=state.work,
    )


def canonicalize(
    quads: Iterable[Quad],
    *,
    hash_algorithm: str = "sha256",
    limits: WorkLimits = DEFAULT_LIMITS,
) -> str:
    """Canonical N-Quads of ``quads`` (sorted lines, each ending in newline)."""
    return canonicalize_quads(quads, hash_algorithm=hash_algorithm, limits=limits).nquads
