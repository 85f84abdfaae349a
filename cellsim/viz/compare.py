"""Plots of a comparison: KPIs over the day per agent, and user-throughput CDFs."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

PANELS = (
    ("reward", "step reward"),
    ("coverage", "coverage (share of demand)"),
    ("mean_rate_mbps", "mean user throughput (Mbps)"),
    ("p5_rate_mbps", "5th-percentile throughput (Mbps)"),
)


def plot_comparison(results: dict, out: Path) -> list[Path]:
    """kpis_over_day.png and throughput_cdf.png in `out`; returns their paths."""
    out = Path(out)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True, sharex=True)
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
    day = out / "kpis_over_day.png"
    fig.savefig(day, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.2), constrained_layout=True)
    for name, res in results.items():
        rates = np.concatenate([e.rates_mbps for e in res.episodes])
        weights = np.concatenate([e.rate_weights for e in res.episodes])
        order = np.argsort(rates)
        cdf = np.cumsum(weights[order]) / max(weights.sum(), 1e-12)
        ax.plot(np.maximum(rates[order], 1e-3), cdf, label=name, lw=1.6)
    ax.set_xscale("log")
    ax.set_xlabel("user throughput (Mbps)")
    ax.set_ylabel("CDF over demand")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    cdf_path = out / "throughput_cdf.png"
    fig.savefig(cdf_path, dpi=110)
    plt.close(fig)
    return [day, cdf_path]
