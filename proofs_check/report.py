"""Text table and JSON for the results of :func:`proofs_check.registry.run_all`."""
from __future__ import annotations

import json


def _fmt(x: float) -> str:
    if x != x:
        return "nan"
    if x == float("inf"):
        return "inf"
    return "0" if x <= 0 else f"{x:.2e}"


def format_table(results) -> str:
    """claim | paper reference | method | cases tried | worst violation | broken variants caught | result."""
    head = ("claim", "paper reference", "method", "cases", "worst violation", "tolerance",
            "broken variants caught", "result")
    rows = []
    for r in results:
        caught = sum(1 for b in r.broken if not b.error and b.worst > r.tolerance)
        smallest = min((b.worst for b in r.broken), default=float("nan"))
        rows.append((r.key, r.reference, r.method, str(r.paper.cases), _fmt(r.paper.worst), f"{r.tolerance:g}",
                     f"{caught}/{len(r.broken)} (min {_fmt(smallest)})", "PASS" if r.passed else "FAIL"))
    widths = [max([len(h)] + [len(row[j]) for row in rows]) for j, h in enumerate(head)]
    line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(head), "-+-".join("-" * w for w in widths)] + [line(row) for row in rows]
    n_fail = sum(not r.passed for r in results)
    out.append("")
    out.append(f"{len(results) - n_fail}/{len(results)} claims hold, each with every broken variant caught."
               if not n_fail else f"{n_fail} of {len(results)} claims FAILED.")
    out.append("")
    out.append("Details (worst case found; broken variants with the violation that caught them):")
    for r in results:
        out.append(f"  {r.key}: {r.title}")
        out.append(f"      paper: {r.paper.cases} cases, {r.paper.seconds:.2f} s; {r.paper.note}")
        if not r.passed:
            out.append(f"      FAILED: {r.reason}")
        for b in r.broken:
            status = (f"raised {b.error}" if b.error else
                      f"violation {_fmt(b.worst)} in {b.cases} cases" + (" (caught)" if b.worst > r.tolerance
                                                                         else " (NOT caught)"))
            out.append(f"      broken '{b.variant}' ({b.description}): {status}; {b.note}")
    return "\n".join(out)


def to_json(results) -> str:
    return json.dumps({"passed": all(r.passed for r in results), "claims": [r.to_dict() for r in results]},
                      indent=2)
