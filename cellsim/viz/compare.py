"""Plots of a comparison: KPIs over the day per agent, and SINR and user-throughput CDFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

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


def cdf_figure(results: dict, field: str) -> Figure:
    """Demand-weighted CDF of `field` ("rates_mbps" or "sinr_db") per agent, all seeds pooled."""
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    for name, res in results.items():
        values = np.concatenate([getattr(e, field) for e in res.episodes])
        weights = np.concatenate([e.rate_weights for e in res.episodes])
        order = np.argsort(values)
        cdf = np.cumsum(weights[order]) / max(weights.sum(), 1e-12)
        xs = np.maximum(values[order], 1e-3) if field == "rates_mbps" else values[order]
        ax.plot(xs, cdf, label=name, lw=1.6)
    if field == "rates_mbps":
        ax.set_xscale("log")
        ax.set_xlabel("user throughput (Mbps)")
    else:
        ax.set_xlabel("SINR (dB)")
    ax.set_ylabel("CDF over demand")
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
