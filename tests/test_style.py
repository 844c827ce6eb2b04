"""The one look of every figure (``meharl.style``): colours per algorithm, dashes per setting, step ticks, and
figures whose legend, titles and axes do not overlap (checked on the rendered report figure)."""
import pytest

from meharl import figures, style
from meharl import report as R
from meharl.figures import plt
from tests.test_report import make_run


def test_every_algorithm_has_its_own_colour_and_the_shipped_config_is_solid():
    from deep.algos.base import algo_names
    assert set(algo_names()) <= set(style.ALGO_COLOURS)
    assert len(set(style.ALGO_COLOURS.values())) == len(style.ALGO_COLOURS)
    labels = ["mappo", "hasac", "hasac (algo.alpha=5)", "hasac (algo.alpha=1)", "mystery"]
    s = style.styles(labels)
    assert s["hasac"] == {"color": style.ALGO_COLOURS["hasac"], "linestyle": "-"}
    # variants keep the algorithm's colour, each with its own dash (given out in the labels' sorted order)
    assert s["hasac (algo.alpha=1)"] == {"color": style.ALGO_COLOURS["hasac"], "linestyle": style.DASHES[0]}
    assert s["hasac (algo.alpha=5)"] == {"color": style.ALGO_COLOURS["hasac"], "linestyle": style.DASHES[1]}
    assert s["mystery"] == {"color": style.OTHER_COLOUR, "linestyle": style.DASHES[0]}
    assert style.styles(reversed(labels)) == s  # the order labels come in does not matter


@pytest.mark.parametrize("value, top, text", [(0, 2e6, "0"), (5e5, 2e6, "0.5M"), (1e6, 2e6, "1M"), (1.5e6, 2e6, "1.5M"),
                                              (1e5, 5e5, "0.1M"), (2e4, 4e5, "20k"), (4e5, 4e5, "400k"),
                                              (250, 800, "250")])
def test_steps_read_as_a_paper_writes_them(value, top, text):
    assert style.format_steps(value, top) == text


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_report_figure_has_nothing_overlapping(tmp_path, monkeypatch):
    """The report's curves figure with long labels on three panels: the legend lies below every axes (their
    tick labels and axis labels included), no two panels overlap, the title is above them, and the step axis
    has no offset text (1e6)."""
    root = tmp_path / "runs"
    for task in ("simple_spread_v3", "simple_reference_v3", "simple_speaker_listener_v4"):
        for algo, overrides in (("hasac", ()), ("hasac", ("algo.gamma=0.9", "algo.batch_size=64")), ("mappo", ())):
            for seed in (0, 1):
                make_run(root, "mpe", task, algo, seed, [0, 500_000, 1_000_000, 1_500_000], [-60, -50, -45, -40 + seed],
                         overrides=overrides)
    drawn = []
    monkeypatch.setattr(figures, "save_png", lambda fig, path: drawn.append(fig))
    R._grid(R.build(root, reps=200), [(t, t) for t in sorted({f"mpe:{r}" for r in ("simple_spread_v3",
            "simple_reference_v3", "simple_speaker_listener_v4")})], 1, "Learning curves", tmp_path / "x.png")
    (fig,) = drawn
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    boxes = [ax.get_tightbbox(renderer) for ax in axes]
    (legend,) = fig.legends
    lbox = legend.get_window_extent(renderer)
    assert len(legend.get_texts()) == 3 and not any(overlaps(lbox, b) for b in boxes)
    assert all(lbox.y1 <= b.y0 for b in boxes)  # below them all
    assert not any(overlaps(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    title = fig._suptitle.get_window_extent(renderer)
    assert all(title.y0 >= b.y1 for b in boxes)
    for ax in axes:
        assert ax.xaxis.get_offset_text().get_text() == ""
        assert {"0", "0.5M", "1M", "1.5M"} <= {t.get_text() for t in ax.get_xticklabels()}
    plt.close(fig)
