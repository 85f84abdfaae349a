"""CDF plots of a calibration against the published 3GPP reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cellsim.calibration import CalibrationResult
from cellsim.scenario import PERCENTILES, ReferenceConfig
from cellsim.viz.style import new_figure, save_figure


def plot_calibration(
    result: CalibrationResult, reference: ReferenceConfig | None, out: str | Path
) -> Path:
    """Coupling-loss and geometry CDFs side by side, reference percentiles as markers."""
    fig = new_figure(11, 4.2, dpi=120)
    axes = fig.subplots(1, 2)
    panels = [
        ("Coupling loss (dB)", result.coupling_loss_db, reference and reference.coupling_loss_db),
        ("Geometry (dB)", result.geometry_db, reference and reference.geometry_db),
    ]
    for ax, (label, values, ref) in zip(axes, panels, strict=True):
        xs = np.sort(values)
        ax.plot(xs, np.arange(1, len(xs) + 1) / len(xs), lw=2, label="cellsim")
        if ref:
            ax.plot(ref, np.array(PERCENTILES) / 100, "o", ms=5, mfc="none", label="3GPP reference")
        ax.set_xlabel(label)
        ax.set_ylabel("CDF")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    title = f"{result.scenario}: {len(result.geometry_db):,} UEs"
    if reference:
        title += f"  (reference: {reference.source})"
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, out, "--plot")
