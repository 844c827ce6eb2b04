"""Hypothesis-driven search for the worst violation of a numeric claim.

Cases are drawn by a hypothesis strategy under a fixed seed (same seed, same cases) and hypothesis's
targeted phase is steered towards larger violations with :func:`hypothesis.target`, so the search hunts
for counterexamples instead of sampling blindly.  Nothing is asserted inside the search: every case is
measured and the worst one is returned with the number of cases tried.
"""
from __future__ import annotations

import math

from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
from hypothesis import seed as hypothesis_seed

from .registry import Finding


def search(strategy, measure, *, max_examples: int, seed: int) -> Finding:
    """Run ``measure(case) -> (violation, note)`` on up to ``max_examples`` cases drawn from ``strategy``."""
    seen = {"cases": 0, "worst": -math.inf, "note": ""}

    @hypothesis_seed(seed)
    @settings(max_examples=max_examples, database=None, deadline=None, derandomize=False,
              phases=(Phase.generate, Phase.target), suppress_health_check=list(HealthCheck),
              verbosity=Verbosity.quiet, report_multiple_bugs=False)
    @given(strategy)
    def explore(case):
        violation, note = measure(case)
        violation = float(violation)
        seen["cases"] += 1
        if not math.isnan(violation):  # -inf marks a case outside the claim's hypotheses: steer away from it
            target(max(-1e300, min(1e300, violation)), label="violation")
        if violation > seen["worst"] or math.isnan(violation):
            seen["worst"], seen["note"] = violation, note

    explore()
    return Finding(seen["cases"], seen["worst"], seen["note"])
