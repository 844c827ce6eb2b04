"""Experience storage: the off-policy replay of step windows, the episode replay and on-policy rollouts (raw data;
the algorithms make their targets of it, deep/algos/estimators.py)."""
from __future__ import annotations

import math
import os

import numpy as np


def check_fits(shapes, what: str) -> None:
    """A ValueError naming ``what`` if arrays of ``shapes`` (``(shape, dtype)`` pairs) would need more bytes
    than the machine's memory: refused by name before anything is allocated."""
    need = sum(math.prod(shape) * np.dtype(dt).itemsize for shape, dt in shapes)
    have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > have:
        raise ValueError(f"{what} needs {need / 2**30:.4g} GiB, more than this machine's {have / 2**30:.4g} GiB "
                         f"of memory")
