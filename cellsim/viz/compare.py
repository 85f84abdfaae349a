"""Plots of a comparison: KPIs over the day per agent, and SINR and user-throughput CDFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from cellsim.contract import MIN_RATE_MBPS
from cellsim.viz.style import new_figure, save_figure

PANELS = (
    ("reward", "step reward"),
    ("coverage", "coverage (share of demand)"),
    ("mean_rate_mbps", "mean user throughput (Mbps)"),
    ("p5_rate_mbps", "5th-percentile throughput (Mbps)"),
)


def kpis_over_day_figure(results: dict) -> Figure:
    """Reward and KPIs against the hour of day, one line per agent (mean over seeds)."""
    fig = new_figure(11, 7)
    axes = fig.subplots(2, 2, sharex=True)
    for (key, label), ax in zip(PANELS, axes.ravel(), strict=True):
        for name, res in results.items():
            hours = res.episodes[0].hours % 24
            values = np.mean([e.per_step[key] for e in res.episodes], axis=0)
            order = np.argsort(hours, kind="stable")
            ax.plot(hours[order], values[order], label=name, lw=1.6)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("hour of day")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("KPIs over the day (mean over evaluation seeds)", fontsize=10)
    return fig


#: Titles of the CDF plots.
CDF_TITLES = {
    "rates_mbps": "User throughput CDF (demand-weighted, all evaluation seeds)",
    "sinr_db": "SINR CDF (demand-weighted, all evaluation seeds)",
}


def unserved_share(rates_mbps: np.ndarray, weights: np.ndarray) -> float:
    """Share of demand at points with rate 0 (no cell on air, or SINR too low to be served),
    drawn at the floor MIN_RATE_MBPS."""
    total = float(np.sum(weights))
    return float(np.sum(weights[rates_mbps <= MIN_RATE_MBPS]) / total) if total > 0 else 0.0


#: Most vertices a CDF curve is drawn with: beyond ~1 000 the curve looks the same, and a line
#: of every point of 30 episodes (case1: ~10⁶ a curve) made a 20-agent figure take minutes.
CDF_MAX_VERTICES = 2_000


def cdf_vertices(
    values: np.ndarray, weights: np.ndarray, max_vertices: int = CDF_MAX_VERTICES
) -> tuple[np.ndarray, np.ndarray]:
    """(sorted values, demand-weighted CDF at them), thinned to the first point past each of
    `max_vertices` evenly spaced CDF levels when there are more points (the ends kept), so
    a step in the CDF stays a step."""
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(weights[order]) / max(float(weights.sum()), 1e-12)
    keep = np.arange(len(order))
    if len(order) > max_vertices:
        levels = np.linspace(0.0, cdf[-1], max_vertices)
        found = np.searchsorted(cdf, levels, side="left")
        keep = np.unique(np.concatenate([[0], np.minimum(found, len(order) - 1),
                                         [len(order) - 1]]))  # fmt: skip
    return values[order][keep], cdf[keep]


def cdf_figure(results: dict, field: str) -> Figure:
    """Demand-weighted CDF of `field` ("rates_mbps" or "sinr_db") per agent, all seeds pooled.

    A point's rate is the mean over its demand, the share an overloaded cell blocks counted
    at 0 (kpi.Kpis.rate_mbps), so blocking lowers a point's rate rather than adding a step at
    0; points with no service at all (rate 0) are a step at the floor MIN_RATE_MBPS, and each
    agent's share of them is in the legend rather than hidden off the axis."""
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    for name, res in results.items():
        values = np.concatenate([getattr(e, field) for e in res.episodes])
        weights = np.concatenate([e.rate_weights for e in res.episodes])
        xs, cdf = cdf_vertices(values, weights)
        label = name
        if field == "rates_mbps":
            xs = np.maximum(xs, MIN_RATE_MBPS)
            label = f"{name} ({100 * unserved_share(values, weights):.1f} % of demand at rate 0)"
        ax.plot(xs, cdf, label=label, lw=1.6)
    if field == "rates_mbps":
        ax.set_xscale("log")
        ax.set_xlabel(
            f"mean user throughput per point (Mbps), blocked demand counted at 0; "
            f"rate 0 drawn at {MIN_RATE_MBPS:g}",
            fontsize=8,
        )
    else:
        ax.set_xlabel("SINR (dB)")
    ax.set_ylabel("CDF over demand")
    ax.set_title(CDF_TITLES[field], fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


#: The comparison's plot files and how each is made.
PLOTS = {
    "kpis_over_day.png": kpis_over_day_figure,
    "throughput_cdf.png": lambda results: cdf_figure(results, "rates_mbps"),
    "sinr_cdf.png": lambda results: cdf_figure(results, "sinr_db"),
}


def plot_comparison(results: dict, out: Path) -> list[Path]:
    """kpis_over_day.png, throughput_cdf.png and sinr_cdf.png in `out`; returns their paths."""
    return [save_figure(make(results), Path(out) / name) for name, make in PLOTS.items()]
