"""Fast uint8 frames of a map raster: a colour look-up per pixel, no figure per frame."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps

from cellsim.network.area import Raster

OUTSIDE_RGB = (235, 235, 235)


class FrameRenderer:
    """Turns per-point values into an RGB image of the raster, upscaled to about `size_px`."""

    def __init__(self, raster: Raster, size_px: int = 480, cmap: str = "viridis"):
        self.raster = raster
        rows, cols = raster.shape
        self.scale = max(1, int(size_px // max(rows, cols)))
        self._lut = (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
        self._base = np.empty((rows, cols, 3), np.uint8)
        self._base[:] = OUTSIDE_RGB

    def rgb(self, values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
        """(H, W, 3) uint8: values mapped linearly onto the colour map between vmin and vmax."""
        idx = np.clip((np.asarray(values) - vmin) * (255.0 / (vmax - vmin)), 0, 255)
        frame = self._base.copy()
        frame[self.raster.row, self.raster.col] = self._lut[idx.astype(np.uint8)]
        if self.scale > 1:
            frame = frame.repeat(self.scale, axis=0).repeat(self.scale, axis=1)
        return frame
