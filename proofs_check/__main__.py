"""``python -m proofs_check [--json] [--quick] [--claim KEY ...]``: the same as ``meharl prove``."""
import argparse
import sys

from . import cli


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proofs_check", description=cli.HELP)
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cli.run(args)
    except ValueError as exc:
        print(f"proofs_check: error: {exc}", file=sys.stderr)
        return 2


sys.exit(main())
