"""Colour maps and figure plumbing shared by every plot: perceptually uniform maps only, and
figures made without pyplot so that drawing never touches the global backend (env.render's
"human" window keeps the user's)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cellsim.errors import CellsimError

#: Colour range of SINR maps and frames.
SINR_RANGE_DB = (-10.0, 30.0)
#: Sequential maps designed to be perceptually uniform (matplotlib's viridis family).
SEQUENTIAL_CMAPS = ("viridis", "cividis", "magma", "inferno", "plasma")
#: Diverging map for differences, centred on 0: Moreland's coolwarm, built for uniform lightness
#: steps on either side of a neutral grey.
DIVERGING_CMAP = "coolwarm"


def new_figure(width_in: float, height_in: float, dpi: int = 110) -> Figure:
    """A figure with its own Agg canvas (no pyplot state, nothing to close)."""
    fig = Figure(figsize=(width_in, height_in), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plain_text(fig: Figure) -> Figure:
    """Every text of `fig` but tick labels drawn as written: names with `$` (agents, scenarios)
    are not read as matplotlib mathtext (cellsim's own labels use none; a log axis's ticks do)."""
    from matplotlib.text import Text

    ticks: set[int] = set()  # tick labels come from matplotlib's formatters (10^k is mathtext)
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                ticks.update((id(tick.label1), id(tick.label2)))
    for text in fig.findobj(Text):
        if id(text) not in ticks:
            text.set_parse_math(False)
    return fig


def save_figure(fig: Figure, out: str | Path, option: str = "--out") -> Path:
    """Write `fig` (format from the suffix), creating folders; a write error is one line."""
    out = Path(out)
    plain_text(fig)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    except OSError as exc:
        raise CellsimError(f"{option} {str(out)!r}: cannot write: {exc.strerror or exc}") from None
    return out
