"""CDF plots of a calibration against the published 3GPP reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from cellsim.calibration import CalibrationResult
from cellsim.scenario import PERCENTILES, ReferenceConfig
from cellsim.viz.style import new_figure, save_figure


def plot_calibration(
    result: CalibrationResult, reference: ReferenceConfig | None, out: str | Path
) -> Path:
    """`calibration_figure` written to `out`."""
    return save_figure(calibration_figure(result, reference), out, "--plot")


def calibration_figure(result: CalibrationResult, reference: ReferenceConfig | None) -> Figure:
    """Coupling-loss (as a positive loss) and geometry CDFs side by side, reference percentiles
    as markers."""
    fig = new_figure(11, 4.2, dpi=120)
    axes = fig.subplots(1, 2)
    # coupling loss as a loss (positive dB, 3GPP's sense): the result and the scenario files
    # hold it as a gain (received over transmitted power, negative)
    ref_loss = reference and [-v for v in reference.coupling_loss_db]
    panels = [
        ("coupling loss (dB, positive: a loss)", -np.asarray(result.coupling_loss_db), ref_loss),
        ("geometry (dB)", result.geometry_db, reference and reference.geometry_db),
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
    return fig
