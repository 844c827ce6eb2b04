"""The ``meharl`` console command: ``meharl <subcommand> ...`` (see ``meharl --help``)."""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

# Idle OpenMP workers sleep instead of spinning, unless the user chose otherwise.  It must be set before torch
# loads libgomp, so here, before any command module is imported.  Spinning workers of a run with threads > 1
# stall every operator when other processes share the cores (benchmarks/README.md, "OpenMP waiting").
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import __version__, commands  # noqa: E402  (after the OpenMP setting)


def _command_modules():
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{commands.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meharl", description="Maximum-entropy heterogeneous-agent RL: "
                                     "exact tabular engine, proofs checks and deep HASAC.")
    parser.add_argument("--version", action="version", version=f"meharl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ValueError, OSError, KeyError) as exc:  # GameError is a ValueError; FileNotFoundError an OSError
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"meharl {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except MemoryError:  # what could be sized beforehand is refused by name; this is the last resort
        print(f"meharl {args.command}: error: out of memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"meharl {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
