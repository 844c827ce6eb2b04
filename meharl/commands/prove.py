"""``meharl prove``: check every lemma and theorem of the paper on the engine, with broken-variant controls.

The help, options and work are :mod:`proofs_check.cli`'s, shared with ``python -m proofs_check``; the claims
(sympy, hypothesis) load only when the command runs.
"""
from proofs_check import cli
from proofs_check.cli import HELP, add_arguments  # noqa: F401  this command's help and options

NAME = "prove"


def run(args) -> int:
    try:
        from proofs_check import CLAIMS  # noqa: F401  registers the claims
    except ModuleNotFoundError as exc:
        if exc.name in ("hypothesis", "sympy"):
            raise ValueError(f"meharl prove needs {exc.name}: pip install {exc.name}") from None
        raise
    return cli.run(args)
