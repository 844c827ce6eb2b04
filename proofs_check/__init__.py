"""Executable checks of every lemma and theorem of Liu et al. (ICLR 2024) against the meharl engine.

Each claim is checked symbolically (sympy) where it is algebra and numerically (the engine, on games drawn by
hypothesis) otherwise, and each is also run on deliberately broken variants that must be caught.
``python -m proofs_check`` or ``meharl prove`` prints the table; :func:`run_all` returns the results.

The claim modules load sympy and hypothesis, which take seconds, so they are imported (registering their claims,
in the paper's order) the first time one of the names below is used: importing the package, or its command line
:mod:`~proofs_check.cli`, costs nothing, and every ``meharl`` command builds the ``prove`` parser from it.
"""
import importlib

__all__ = ["CLAIMS", "PAPER", "Claim", "ClaimResult", "Finding", "claim", "run_all", "run_claim", "select",
           "format_table", "to_json"]


def _load_claims() -> None:
    """Import the claim modules, which registers their claims in the paper's order."""
    from . import qre_representation  # noqa: F401  Theorem 1
    from . import policy_iteration  # noqa: F401  Lemmas 4.1, 4.2, Theorem 2
    from . import decomposition  # noqa: F401  Lemma A.1, Proposition 1
    from . import continuity  # noqa: F401  Lemma A.2
    from . import mirror_learning  # noqa: F401  Lemmas G.1, G.2, Theorem 3
    from . import matrix_game  # noqa: F401  Appendix B
    from . import variational  # noqa: F401  Appendix C


def __getattr__(name: str):
    """The public names, after the claims are registered (PEP 562: called only for names not yet bound)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _load_claims()
    module = "report" if name in ("format_table", "to_json") else "registry"
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
