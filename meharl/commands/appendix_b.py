"""``meharl appendix-b``: the Appendix B numbers (V, advantages, MAPPO and HASAC first objectives)."""
import json

from tabular.paper import appendix_b, format_appendix_b

NAME = "appendix-b"
HELP = "print the Appendix B quantities of the matrix game under the initial policy"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run(args) -> int:
    b = appendix_b()
    print(json.dumps(b, indent=2) if args.json else format_appendix_b(b))
    return 0
