"""CDF plots of a calibration against the published 3GPP reference."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cellsim.calibration import CalibrationResult
from cellsim.errors import CellsimError
from cellsim.scenario import PERCENTILES, ReferenceConfig


def plot_calibration(
    result: CalibrationResult, reference: ReferenceConfig | None, out: str | Path
) -> Path:
    """Coupling-loss and geometry CDFs side by side, reference percentiles as markers."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
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
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=120)
    except OSError as exc:
        raise CellsimError(f"--plot {str(out)!r}: cannot write: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return out
