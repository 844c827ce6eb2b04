"""Hypothesis-driven search for the worst violation of a numeric claim.

Cases are drawn by a hypothesis strategy under a fixed seed (same seed, same cases) and hypothesis's
targeted phase is steered towards larger violations with :func:`hypothesis.target`, so the search hunts
for counterexamples instead of sampling blindly.  Nothing is asserted inside the search: every case is
measured and the worst one is returned with the number of cases tried.

"Same seed, same cases" holds whatever the entry point, the import order, the claims run before and the
install mode: every setting that shapes generation is given explicitly (none is inherited from the active
hypothesis profile), and the literals hypothesis harvests from "local" modules are switched off during the
search (:func:`_without_local_constants`).
"""
from __future__ import annotations

import math
from contextlib import contextmanager

from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
from hypothesis import seed as hypothesis_seed

from .registry import Finding


@contextmanager
def _without_local_constants():
    """Draw without the constants hypothesis (>= 6.131) collects from every non-installed module in
    ``sys.modules``: that pool depends on which modules happen to be imported (``meharl prove`` imports the
    CLI, ``python -m proofs_check`` does not; earlier claims import more) and on whether the project is an
    editable install, so with it the same seed drew different cases from different entry points.
    hypothesis's built-in constants (0, 1, inf, ...) are kept: they are fixed for a hypothesis version.
    The provider looks the pool up through ``providers._get_local_constants``, and caches the permitted
    constants per draw type in ``CONSTANTS_CACHE``, which is cleared on entry and exit so nothing collected
    outside the search leaks in, nor the empty pool out."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
        collect = providers._get_local_constants
    except (ImportError, AttributeError):  # a hypothesis without local constants: nothing to switch off
        yield
        return
    providers._get_local_constants = Constants  # an empty pool
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = collect
        providers.CONSTANTS_CACHE.cache.clear()


def search(strategy, measure, *, max_examples: int, seed: int) -> Finding:
    """Run ``measure(case) -> (violation, note)`` on up to ``max_examples`` cases drawn from ``strategy``."""
    seen = {"cases": 0, "worst": -math.inf, "note": ""}

    @hypothesis_seed(seed)
    @settings(max_examples=max_examples, database=None, deadline=None, derandomize=False,
              phases=(Phase.generate, Phase.target), suppress_health_check=list(HealthCheck),
              verbosity=Verbosity.quiet, report_multiple_bugs=False, backend="hypothesis")
    @given(strategy)
    def explore(case):
        violation, note = measure(case)
        violation = float(violation)
        seen["cases"] += 1
        if not math.isnan(violation):  # -inf marks a case outside the claim's hypotheses: steer away from it
            target(max(-1e300, min(1e300, violation)), label="violation")
        if violation > seen["worst"] or math.isnan(violation):
            seen["worst"], seen["note"] = violation, note

    with _without_local_constants():
        explore()
    return Finding(seen["cases"], seen["worst"], seen["note"])
