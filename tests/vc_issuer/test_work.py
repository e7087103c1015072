"""The work budget (vc_issuer.core.work) and the algorithms that charge it."""

from __future__ import annotations

import time

import pytest

from vc_issuer.core import jsonld, rdfc, work
from vc_issuer.errors import CanonicalizationLimitError, WorkBudgetExceededError

V2 = "https://www.w3.org/ns/credentials/v2"
P = "<https://example.org/next>"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_charge_without_a_budget_is_free() -> None:
    assert work.active() is None
    for _ in range(10_000):
        work.charge(1_000)


def test_time_runs_out_on_the_injected_clock() -> None:
    clock = FakeClock()
    b = work.WorkBudget(seconds=1.0, clock=clock)
    with work.budget(b):
        work.charge(10_000)  # within time
        clock.now = 1.5
        with pytest.raises(WorkBudgetExceededError) as caught:
            work.charge(10_000)
    assert caught.value.extra == {"limit": "cpu", "value": 1.0}
    assert work.active() is None


def test_steps_run_out() -> None:
    b = work.WorkBudget(seconds=1e9, max_steps=5_000, clock=FakeClock())
    with work.budget(b), pytest.raises(WorkBudgetExceededError) as caught:
        for _ in range(10_000):
            work.charge()
    assert caught.value.extra["limit"] == "steps"


def test_nesting_is_bounded_with_or_without_a_budget() -> None:
    def dive(n: int) -> int:
        with work.nested():
            return 0 if n == 0 else 1 + dive(n - 1)

    assert dive(150) == 150
    with pytest.raises(WorkBudgetExceededError) as caught:
        dive(5_000)
    assert caught.value.extra["limit"] == "depth"
    with work.budget(work.WorkBudget(max_depth=10)), pytest.raises(WorkBudgetExceededError):
        dive(11)


def test_step_in_is_charge_then_enter() -> None:
    """The walks' one-call hook counts like charge() + enter() and fails with the same codes."""
    b = work.WorkBudget(seconds=1e9, max_steps=1_000, max_depth=3, clock=FakeClock())
    for _ in range(3):
        b.step_in()
    assert (b.steps, b.depth) == (3, 3)
    with pytest.raises(WorkBudgetExceededError) as deep:
        b.step_in()
    assert deep.value.extra == {"limit": "depth", "value": 3}
    assert b.depth == 0  # reusable after the error unwound every level
    flat = work.WorkBudget(seconds=1e9, max_steps=1_000, max_depth=10**9, clock=FakeClock())
    with pytest.raises(WorkBudgetExceededError) as steps:
        for _ in range(5_000):
            flat.step_in()
            flat.leave()
    assert steps.value.extra == {"limit": "steps", "value": 1_000}
    assert flat.spent and flat.steps <= 1_000 + 512


def _cycle(n: int) -> list[rdfc.Quad]:
    return [(f"_:b{i}", P, f"_:b{(i + 1) % n}", "") for i in range(n)]


def test_a_1200_node_blank_node_cycle_is_the_work_limit_error_not_recursion() -> None:
    with pytest.raises(WorkBudgetExceededError) as caught:
        rdfc.canonicalize(_cycle(1_200))
    assert caught.value.code == "WORK_BUDGET_EXCEEDED"
    assert caught.value.extra["limit"] == "depth"


def test_the_same_cycle_as_json_ld() -> None:
    n = 1_200
    doc = {
        "@context": [V2, {"next": {"@id": "https://example.org/next", "@type": "@id"}}],
        "@graph": [{"@id": f"_:b{i}", "next": f"_:b{(i + 1) % n}"} for i in range(n)],
    }
    with pytest.raises(WorkBudgetExceededError):
        jsonld.canonicalize(doc)


def test_a_deep_blank_node_chain_is_refused_a_short_one_is_not() -> None:
    chain = [(f"_:b{i}", P, f"_:b{i + 1}", "") for i in range(50)]
    assert rdfc.canonicalize(chain).count("\n") == 50
    # A symmetric structure forces hash N-degree recursion along the chain.
    ring = _cycle(30)
    assert rdfc.canonicalize(ring).count("\n") == 30
    with pytest.raises((WorkBudgetExceededError, CanonicalizationLimitError)):
        rdfc.canonicalize(_cycle(400))


def test_rdfc_and_json_ld_charge_the_active_budget() -> None:
    doc = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": "did:example:1",
        "credentialSubject": [{"name": f"x{i}"} for i in range(2_000)],
    }
    b = work.WorkBudget(seconds=1e9)
    with work.budget(b):
        jsonld.to_quads(doc)
    assert b.steps > 4_000  # every expanded element and every node-map entry counted
    with work.budget(work.WorkBudget(max_steps=1_000)), pytest.raises(WorkBudgetExceededError):
        jsonld.to_quads(doc)


def test_node_map_is_linear_in_values_of_one_property() -> None:
    """10,000 x {"name": "x"} took minutes (quadratic duplicate scans); now it is linear:
    a budget of 2 s CPU is ample (measured ~0.9 s on a loaded 2-core machine, all of it
    expansion), and the output keeps every subject."""

    def doc(n: int) -> dict[str, object]:
        return {
            "@context": [V2],
            "type": ["VerifiableCredential"],
            "issuer": "did:example:1",
            "credentialSubject": [{"name": "x"} for _ in range(n)],
        }

    with work.budget(work.WorkBudget(seconds=5.0, clock=time.process_time)):
        quads = jsonld.to_quads(doc(10_000))
    assert len(quads) == 2 + 2 * 10_000


def test_node_map_matches_pyld_duplicates_included() -> None:
    """Same node map as pyld's (quadratic) algorithm, duplicates merged the same way."""
    from pyld.identifier_issuer import IdentifierIssuer

    doc = {
        "@context": [V2, {"ex": "https://example.org/", "n": {"@id": "ex:n", "@type": "@id"}}],
        "id": "urn:example:c",
        "type": ["VerifiableCredential", "VerifiableCredential"],
        "issuer": "did:example:1",
        "credentialSubject": [{"id": "did:example:s"}, {"id": "did:example:s"}, {"name": "x"}],
        "name": ["a", "a", "b", {"@value": "a", "@language": "en"}],
        "ex:flag": [True, 1, True, 1.0],
        "n": ["_:x", "_:x", "ex:y"],
        "ex:list": {"@list": ["a", "a"]},
    }
    expanded = jsonld.expand(doc)
    ours: dict[str, object] = {"@default": {}}
    jsonld._NodeMap(IdentifierIssuer("_:b")).build(expanded, ours, "@default")
    theirs: dict[str, object] = {"@default": {}}
    proc = jsonld.default_loader()._processor(True)
    proc._create_node_map(jsonld.expand(doc), theirs, "@default", IdentifierIssuer("_:b"))
    assert ours == theirs


def test_schema_validation_charges_the_budget() -> None:
    """A document failing the OB 3.0 schema at every one of 5,000 places: each error costs."""
    from vc_issuer.badges.openbadges import validate_ob_credential

    bad = {"credentialSubject": {"achievement": {"alignment": [{"targetUrl": 1}] * 5_000}}}
    assert validate_ob_credential({"credentialSubject": {}})  # some errors, within budget
    with work.budget(work.WorkBudget(max_steps=10_000)), pytest.raises(WorkBudgetExceededError):
        validate_ob_credential(bad)
