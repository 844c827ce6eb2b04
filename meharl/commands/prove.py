"""``meharl prove``: check every lemma and theorem of the paper on the engine, with broken-variant controls.

The help, options and work are :mod:`proofs_check.cli`'s, shared with ``python -m proofs_check``; the claims
(sympy, hypothesis) load only when the command runs.
"""
from proofs_check.cli import HELP, add_arguments, run  # noqa: F401  this command's help, options and work

NAME = "prove"
