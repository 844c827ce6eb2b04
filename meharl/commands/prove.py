"""``meharl prove``: check every lemma and theorem of the paper on the engine, with broken-variant controls.

The work is :func:`proofs_check.cli.run`, imported when the command runs (sympy and hypothesis load slowly, and
every ``meharl`` command builds this parser).
"""
NAME = "prove"
HELP = ("check each lemma and theorem of the paper (symbolic with sympy, numeric on hypothesis-drawn games), "
        "each also on deliberately broken variants that must be caught; exit status 1 if any claim fails")


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of the table")
    p.add_argument("--quick", action="store_true", help="fewer cases per claim (the subset the test suite runs)")
    p.add_argument("--claim", nargs="+", metavar="KEY", help="only the claims whose key contains one of these")
    p.add_argument("--list", action="store_true", help="list the claims and their broken variants, then exit")


def run(args) -> int:
    try:
        from proofs_check import cli
    except ModuleNotFoundError as exc:
        if exc.name in ("hypothesis", "sympy"):
            raise ValueError(f"meharl prove needs {exc.name}: pip install {exc.name}") from None
        raise
    return cli.run(args)
