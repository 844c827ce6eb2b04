"""Shared plotting helpers: headless matplotlib and atomic PNG writes."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from safeio import atomic_write_bytes  # noqa: E402


def save_png(fig, path, dpi: int = 120) -> None:
    """Render ``fig`` to PNG in memory, then write it atomically, and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
