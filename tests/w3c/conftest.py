"""Prints the W3C conformance table at the end of the run (the suites' own counts, per suite)."""

from __future__ import annotations

import pytest

from .suites import RESULTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("W3C VC conformance suites")
    terminalreporter.write_line(
        f"{'suite':38} {'pass':>5} {'fail':>5} {'pend':>5} {'target':>7} {'secs':>6}"
    )
    for run in RESULTS:
        terminalreporter.write_line(
            f"{run.suite:38} {run.passing:>5} {run.failing:>5} {run.pending:>5}"
            f" {run.target:>7} {run.seconds:>6.1f}"
        )
        for title in run.failures:
            terminalreporter.write_line(f"    failing: {title}")
    total = sum(r.passing for r in RESULTS)
    terminalreporter.write_line(f"{'total passing':38} {total:>5}")
