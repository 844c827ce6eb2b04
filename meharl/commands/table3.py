"""``meharl table3``: the paper's Table 3, computed by the engine."""
import json

from tabular.paper import TABLE3_ALPHAS, format_table3, table3

from . import finite_float

NAME = "table3"
HELP = "print the paper's Table 3 (HASPI on the 3x3 matrix game), computed exactly"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--alphas", type=finite_float, nargs="+", default=list(TABLE3_ALPHAS), help="temperatures")
    p.add_argument("--digits", type=int, default=4, help="decimal places of the text table")


def run(args) -> int:
    if args.digits < 0:
        raise ValueError(f"--digits must be >= 0, got {args.digits}")
    if any(a < 0 for a in args.alphas):
        raise ValueError(f"temperatures must be >= 0, got {args.alphas}")
    rows = table3(args.alphas)
    print(json.dumps(rows, indent=2) if args.json else format_table3(rows, args.digits))
    return 0
