"""One module per ``meharl`` subcommand.

Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; the CLI finds
them by listing this package, so adding a command is adding a file.
"""


def finite_float(text: str) -> float:
    """The ``type`` of every real-valued option: a finite number, or argparse's usage error naming the value
    (``nan`` and ``inf`` would pass the options' range checks and fail later, after files were written)."""
    import argparse
    import math
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
