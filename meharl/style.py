"""One look for every figure the project draws: a fixed colour per algorithm, a line style per setting, step
axes written as 0.5M / 1M, and legends outside the axes.

Colours are Paul Tol's colour-blind-safe "muted" scheme (nine colours), plus black for a tenth algorithm, so
an algorithm has the same colour in every panel and every figure.  A label is ``algo`` for the algorithm's
shipped config and ``algo (key=value, ...)`` for a variant (:func:`meharl.report.config_labels`): the shipped
config is drawn solid, its variants in the algorithm's colour with the dash patterns of :data:`DASHES`, given
out in the sorted order of the variants' labels among those drawn together.
"""
from __future__ import annotations

#: algorithm -> colour (Tol muted; HASAC rose, as the paper's red; its deterministic ablation wine)
ALGO_COLOURS = {"hasac": "#CC6677", "hasac-det": "#882255", "happo": "#332288", "hatrpo": "#88CCEE",
                "mappo": "#117733", "hatd3": "#999933", "qmix": "#44AA99", "fop": "#DDCC77", "ppo": "#AA4499",
                "sac": "#000000"}
#: colour of an algorithm the table does not know
OTHER_COLOUR = "#777777"
#: line styles of an algorithm's variants, in the order they are given out (the shipped config is solid)
DASHES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 3)), (0, (3, 1, 1, 1)))

#: reference lines (a random policy's score, ...): grey, told apart by these dashes, named in the legend
REFERENCE_COLOUR = "0.35"
REFERENCE_DASHES = ((0, (4, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)), (0, (2, 3)))


def algorithm(label: str) -> str:
    """The algorithm of a label (``"hasac (algo.alpha=5)"`` -> ``"hasac"``)."""
    return label.split(" (", 1)[0]


def colour(label: str) -> str:
    return ALGO_COLOURS.get(algorithm(label), OTHER_COLOUR)


def styles(labels) -> dict:
    """Label -> ``{"color", "linestyle"}`` for every label drawn together (pass all of a report's labels so
    that a variant keeps its line style in each of its figures)."""
    out, given = {}, {}
    for lab in sorted(set(labels), key=lambda s: (algorithm(s), s != algorithm(s), s)):
        algo = algorithm(lab)
        if lab == algo and algo in ALGO_COLOURS:
            dash = "-"
        else:
            k = given[algo] = given.get(algo, -1) + 1
            dash = DASHES[k % len(DASHES)]
        out[lab] = {"color": colour(lab), "linestyle": dash}
    return out


def format_steps(value: float, top: float) -> str:
    """``value`` environment steps as a paper writes them, in the unit of an axis reaching ``top``: millions
    from 0.5M on (0.5M, 1M, 1.5M), else thousands (20k, 400k), else plain numbers; zero is "0"."""
    if value == 0:
        return "0"
    if top >= 5e5:
        return f"{value / 1e6:.4g}M"
    if top >= 1e3:
        return f"{value / 1e3:.4g}k"
    return f"{value:.4g}"


def step_axis(ax, label: str = "Environment steps") -> None:
    """Label the x axis as environment steps, its ticks written by :func:`format_steps` (no offset text)."""
    from matplotlib.ticker import FuncFormatter
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _pos: format_steps(x, max(abs(v) for v in ax.get_xlim()))))
    ax.set_xlabel(label)


def legend_below(fig, handles, labels, ncol: int = 3) -> None:
    """A figure legend below every axes, outside them (the figure must use the constrained layout)."""
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=max(1, min(ncol, len(handles))),
                   frameon=False)
