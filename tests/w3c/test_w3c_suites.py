"""The five W3C VC conformance suites against ``vc-issuer serve`` (TLS, ``--no-auth``).

Per suite: at least the target number of passing tests, and every failing test on the suite's
short allow-list (tests/w3c/suites.py, explained in docs/conformance.md). Select with
``-m w3c`` (or leave out with ``-m "not w3c"``). A missing kit, Node or npm is a failure, not a
skip: the kit is ``../shared/w3c-suites`` beside the repository unless ``$VC_W3C_SUITES_KIT``
names it. The suites run against one server, side by side when there are cores to spare; the
table is printed at the end of the run.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .suites import (
    RESULTS,
    SUITES,
    KitMissing,
    Suite,
    SuiteRun,
    install,
    kit_path,
    parse,
    require_node,
    run_suite,
    serve,
)

pytestmark = pytest.mark.w3c

# The suites mostly wait on the server, but each mocha start loads a few thousand modules: on 2
# cores running them side by side saves nothing (measured), so one at a time there.
PARALLEL = max(1, min(len(SUITES), (os.cpu_count() or 2) // 2))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    try:
        kit = kit_path()
        require_node()
    except KitMissing as exc:
        pytest.fail(f"W3C conformance suites cannot run: {exc}", pytrace=False)
    dest = install(kit)
    with (
        serve(tmp_path_factory.mktemp("w3c-server")) as server,
        ThreadPoolExecutor(PARALLEL) as pool,
    ):
        done = list(pool.map(lambda suite: run_suite(dest, suite, server), SUITES))
    RESULTS.extend(done)
    return {run.suite: run for run in done}


@pytest.mark.parametrize("suite", SUITES, ids=[s.name for s in SUITES])
def test_suite(runs: dict[str, SuiteRun], suite: Suite) -> None:
    run = runs[suite.name]
    where = f"{suite.name}: {run.passing} passing, {run.failing} failing\n{run.output[-6000:]}"
    assert run.passing + run.failing > 0, f"the suite did not run\n{where}"
    unexpected = [title for title in run.failures if title not in suite.allowed]
    assert not unexpected, f"failing tests not on the allow-list: {unexpected}\n{where}"
    assert len(run.failures) == run.failing, where
    assert run.passing >= suite.target, where


SAMPLE = """
  Advanced Concepts
    LocalRef
      ✔ When processing the active context ...
      1) The value of the relatedResource property MUST be one or more objects of the following form:

  Data Model
    LocalRef
      2) The number of status messages MUST equal the number of possible values.

  57 passing (3s)
  4 pending
  2 failing

  1) Advanced Concepts
       LocalRef
         The value of the relatedResource property MUST be one or more objects of the following form::
     AssertionError [ERR_ASSERTION]: Got unwanted rejection: Failed to accept a VC:
      at Context.<anonymous> (file:///x/tests/5-advanced-concepts.js:69:9)

  2) Data Model
       LocalRef
         The number of status messages MUST equal the number of possible values.:

      AssertionError: expected 4 to equal 2
"""  # noqa: E501


def test_parse_reads_counts_and_failing_titles() -> None:
    counts, titles = parse(SAMPLE)
    assert counts == {"passing": 57, "pending": 4, "failing": 2}
    assert titles == [
        "The value of the relatedResource property MUST be one or more objects of the "
        "following form:",
        "The number of status messages MUST equal the number of possible values.",
    ]
    assert parse("  13 passing (1s)\n  1 pending\n") == (
        {"passing": 13, "pending": 1, "failing": 0},
        [],
    )


def test_kit_location_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VC_W3C_SUITES_KIT", str(tmp_path))
    with pytest.raises(KitMissing, match="VC_W3C_SUITES_KIT"):
        kit_path()
    for name in ("setup.sh", "run-suite.sh"):
        (tmp_path / name).write_text("#!/bin/sh\n")
    assert kit_path() == tmp_path
