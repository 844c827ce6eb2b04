"""The command line of the claim checks, shared by ``python -m proofs_check`` and ``meharl prove``: its help and
options cost no import (``meharl`` builds every command's parser); :func:`run` loads the claims."""
import sys

HELP = ("check each lemma and theorem of the paper (symbolic with sympy, numeric on hypothesis-drawn games), "
        "each also on deliberately broken variants that must be caught; exit status 1 if any claim fails")


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the table")
    p.add_argument("--quick", action="store_true", help="fewer cases per claim (the subset the test suite runs)")
    p.add_argument("--claim", nargs="+", metavar="KEY", help="only the claims whose key contains one of these")
    p.add_argument("--list", action="store_true", help="list the claims and their broken variants, then exit")


def run(args) -> int:
    """List the selected claims (``--list``) or check them and print the table or JSON; 1 if any fails.
    ValueError naming the package if sympy or hypothesis, which the claims need, is not installed."""
    try:
        from . import format_table, run_all, select, to_json
    except ModuleNotFoundError as exc:
        if exc.name in ("hypothesis", "sympy"):
            raise ValueError(f"the claim checks need {exc.name}: pip install {exc.name}") from None
        raise
    claims = select(args.claim)
    if args.list:
        for c in claims:
            print(f"{c.key:18} {c.reference:34} {c.method:17} {c.title}")
            for name, desc in c.broken:
                print(f"{'':18} broken '{name}': {desc}")
        return 0
    progress = None
    if not args.json and sys.stderr.isatty():
        progress = lambda r: print(f"  {r.key}: {'PASS' if r.passed else 'FAIL'}", file=sys.stderr)  # noqa: E731
    results = run_all(quick=args.quick, keys=args.claim, progress=progress)
    print(to_json(results) if args.json else format_table(results))
    return 0 if all(r.passed for r in results) else 1
