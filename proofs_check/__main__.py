"""``python -m proofs_check [--json] [--quick] [--claim KEY ...]``: the same as ``meharl prove``."""
import argparse
import sys

from meharl.commands import prove


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proofs_check", description=prove.HELP)
    prove.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return prove.run(args)
    except ValueError as exc:
        print(f"proofs_check: error: {exc}", file=sys.stderr)
        return 2


sys.exit(main())
