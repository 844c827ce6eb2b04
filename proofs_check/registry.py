"""The registry of the paper's claims and the runner that checks each one against its broken variants.

A claim is registered with :func:`claim` on a function ``check(variant, quick) -> Finding``.  The runner calls
it once with ``variant="paper"`` (the engine as the paper states it) and once per deliberately broken
variant.  A claim holds when the paper variant's worst violation is within the claim's tolerance *and* every
broken variant shows a violation above it: a checker that cannot see a break it should see is itself a failure.
"""
from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Callable

#: Name of the variant that implements the paper's statement as written.
PAPER = "paper"


@dataclass(frozen=True)
class Finding:
    """What one run of a checker saw: how many cases it tried and the worst violation among them."""

    cases: int
    worst: float   #: largest violation found (<= 0 means none); inf when a proof could not be completed
    note: str = ""  #: where the worst case was, or what was proved


@dataclass(frozen=True)
class Claim:
    key: str
    title: str
    reference: str
    method: str          #: "symbolic", "numeric" or "symbolic+numeric"
    tolerance: float     #: a violation above this refutes the claim
    check: Callable[[str, bool], Finding] = field(repr=False)
    broken: tuple        #: ((variant name, what is broken), ...)


@dataclass
class VariantResult:
    variant: str
    description: str
    cases: int
    worst: float
    note: str
    seconds: float
    error: str | None = None


@dataclass
class ClaimResult:
    key: str
    title: str
    reference: str
    method: str
    tolerance: float
    paper: VariantResult
    broken: list
    passed: bool
    reason: str

    def to_dict(self) -> dict:
        out = asdict(self)
        for v in [out["paper"], *out["broken"]]:
            v["worst"] = _json_float(v["worst"])
        return out


def _json_float(x: float):
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf" if x < 0 else "nan")


CLAIMS: dict[str, Claim] = {}


def claim(key: str, *, title: str, reference: str, method: str, tolerance: float, broken):
    """Register ``check(variant, quick) -> Finding`` as the checker of one claim of the paper."""
    if not broken:
        raise ValueError(f"claim {key!r} needs at least one broken variant")

    def register(check):
        if key in CLAIMS:
            raise ValueError(f"claim {key!r} is registered twice")
        CLAIMS[key] = Claim(key, title, reference, method, float(tolerance), check, tuple(broken))
        return check
    return register


def _run_variant(c: Claim, variant: str, description: str, quick: bool) -> VariantResult:
    start = time.perf_counter()
    try:
        f = c.check(variant, quick)
        error = None
    except Exception as exc:  # a crash is reported as a result, never hidden
        f = Finding(0, math.inf, "")
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            error += f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})"
    worst = float(f.worst)
    return VariantResult(variant, description, int(f.cases), worst, f.note, time.perf_counter() - start, error)


def run_claim(c: Claim, quick: bool = False) -> ClaimResult:
    """Check ``c`` as the paper states it and on each broken variant."""
    paper = _run_variant(c, PAPER, "as stated in the paper", quick)
    broken = [_run_variant(c, name, desc, quick) for name, desc in c.broken]
    reasons = []
    if paper.error:
        reasons.append(f"checker raised {paper.error}")
    elif not paper.worst <= c.tolerance:  # also catches NaN
        reasons.append(f"violation {paper.worst:.3g} > tolerance {c.tolerance:g}")
    if paper.cases < 1:
        reasons.append("no case was checked")
    for b in broken:
        if b.error:
            reasons.append(f"broken variant {b.variant!r}: checker raised {b.error}")
        elif not b.worst > c.tolerance:
            reasons.append(f"broken variant {b.variant!r} was not caught (worst violation {b.worst:.3g})")
    passed = not reasons
    reason = "; ".join(reasons) if reasons else "holds; every broken variant caught"
    return ClaimResult(c.key, c.title, c.reference, c.method, c.tolerance, paper, broken, passed, reason)


def select(keys=None) -> list[Claim]:
    """The registered claims, in registration order, optionally restricted to ``keys`` (substring match)."""
    if not keys:
        return list(CLAIMS.values())
    out = [c for c in CLAIMS.values() if any(k.lower() in c.key.lower() for k in keys)]
    if not out:
        raise ValueError(f"no claim matches {list(keys)}; known claims: {', '.join(CLAIMS)}")
    return out


def run_all(quick: bool = False, keys=None, progress: Callable[[ClaimResult], None] | None = None) -> list:
    results = []
    for c in select(keys):
        res = run_claim(c, quick)
        results.append(res)
        if progress is not None:
            progress(res)
    return results
