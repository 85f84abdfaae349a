"""env.render() frames: an SINR map with sites, azimuths, tilts and the clock, composed in numpy
from layers that matplotlib draws once. The static figure (axes, colour bar, exclusions), the
overlay (sites, azimuth arms), the pixel → raster-point map and one sprite per tilt label are
cached; a frame is a colour look-up per pixel plus a few small pastes, and only the title is drawn
per frame, into its own small canvas. Nothing is rebuilt per frame."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from cellsim.simulator import Simulator
from cellsim.viz.layers import LABEL_BOX, draw_exclusions, draw_sites, label_size, sector_arms
from cellsim.viz.style import SINR_RANGE_DB

DPI = 100
AXES_RECT = (0.1, 0.07, 0.74, 0.85)
COLOURBAR_RECT = (0.87, 0.07, 0.03, 0.85)
TITLE_PX = 40  # height of the title strip at the top


def frame_clock(hour: float, end: bool = False) -> str:
    """HH:MM of `hour` (hours since midnight, may run past 24); the episode's `end` at
    midnight reads 24:00, not 00:00."""
    minutes = round(hour * 60)
    if end and minutes > 0 and minutes % (24 * 60) == 0:
        return "24:00"
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def frame_title(scenario: str, hour: float, kpis: dict[str, float], end: bool = False) -> str:
    """A frame's title: scenario, clock, coverage and p5 throughput."""
    return (f"{scenario}  {frame_clock(hour, end)}  coverage {kpis['coverage']:.3f}"
            f"  p5 {kpis['p5_rate_mbps']:.2f} Mbps")  # fmt: skip


class TitleStrip:
    """The title strip at the top of a frame, drawn into its own small canvas."""

    def __init__(self, width_px: int) -> None:
        self._fig = Figure(figsize=(width_px / DPI, TITLE_PX / DPI), dpi=DPI)
        self._text = self._fig.text(0.5, 0.45, "", ha="center", va="center", fontsize=10)
        self._canvas = FigureCanvasAgg(self._fig)

    def draw(self, title: str) -> np.ndarray:
        """(TITLE_PX, width_px, 3) uint8 pixels of `title`."""
        self._text.set_text(title)
        self._canvas.draw()
        return np.asarray(self._canvas.buffer_rgba())[:, :, :3]

    def retitle(self, frame: np.ndarray, title: str) -> np.ndarray:
        """A copy of `frame` with its title strip redrawn as `title`."""
        out = frame.copy()
        out[:TITLE_PX] = self.draw(title)
        return out


def _rgba(fig: Figure) -> np.ndarray:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def _sprite(text: str, fontsize: float, bbox: dict[str, Any] | None = None) -> np.ndarray:
    """A text rendered once on a transparent background, cropped: (h, w, 4) uint8."""
    fig = Figure(figsize=(3, 0.6), dpi=DPI)
    fig.patch.set_alpha(0)
    fig.text(0.5, 0.5, text, fontsize=fontsize, ha="center", va="center", bbox=bbox)
    rgba = _rgba(fig)
    rows, cols = np.nonzero(rgba[..., 3])
    return rgba[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def _paste(frame: np.ndarray, sprite: np.ndarray, top: int, left: int) -> None:
    """Alpha-blend `sprite` into `frame` at (top, left), clipped to the frame."""
    h, w = sprite.shape[:2]
    t0, l0 = max(top, 0), max(left, 0)
    t1, l1 = min(top + h, frame.shape[0]), min(left + w, frame.shape[1])
    if t1 <= t0 or l1 <= l0:
        return
    part = sprite[t0 - top : t1 - top, l0 - left : l1 - left]
    alpha = part[..., 3:4] / 255.0
    region = frame[t0:t1, l0:l1]
    region[:] = (region * (1 - alpha) + part[..., :3] * alpha).astype(np.uint8)


class FrameRenderer:
    """uint8 (size_px, size_px, 3) frames of per-point values over the study area."""

    def __init__(self, sim: Simulator, size_px: int = 800, cmap: str = "viridis",
                 value_range: tuple[float, float] = SINR_RANGE_DB,
                 label: str = "SINR (dB)") -> None:  # fmt: skip
        self.raster, self.size = sim.raster, size_px
        self.vmin, self.vmax = value_range
        self._lut = (colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255).astype(np.uint8)
        inches = size_px / DPI

        base = Figure(figsize=(inches, inches), dpi=DPI)
        ax = self._axes(base)
        image = ax.imshow(np.zeros((1, 1)), extent=sim.raster.extent_m, cmap=cmap,
                          vmin=self.vmin, vmax=self.vmax)  # fmt: skip
        # frames clip values to the range, so both ends may be clipped: arrows at both
        base.colorbar(image, cax=base.add_axes(COLOURBAR_RECT), label=label, extend="both")
        image.set_visible(False)
        ax.set_xlabel("x (km)", fontsize=8)
        ax.set_ylabel("y (km)", fontsize=8)
        self.axis_labels = (ax.get_xlabel(), ax.get_ylabel())
        draw_exclusions(ax, sim)
        self._base = _rgba(base)[..., :3]
        self._pixels, self._points = self._pixel_map(ax)
        self._base[:TITLE_PX] = 255

        overlay = Figure(figsize=(inches, inches), dpi=DPI)
        overlay.patch.set_alpha(0)
        oax = self._axes(overlay)
        oax.set_axis_off()
        draw_sites(oax, sim, None)
        rgba = _rgba(overlay)
        self._over = np.flatnonzero(rgba[..., 3].ravel())
        self._over_rgb = rgba.reshape(-1, 4)[self._over, :3].astype(np.float32)
        self._over_a = rgba.reshape(-1, 4)[self._over, 3:4].astype(np.float32) / 255.0

        arms = sector_arms(sim)
        tips = arms[:, 0] + 1.35 * (arms[:, 1] - arms[:, 0])
        xy = ax.transData.transform(tips)
        self._tips = np.column_stack([size_px - xy[:, 1], xy[:, 0]]).round().astype(int)
        self._label_pt = label_size(sim.n_cells) + 1.5
        self._sprites: dict[str, np.ndarray] = {}
        self.title_strip = TitleStrip(size_px)

    def _axes(self, fig: Figure) -> Axes:
        ax = fig.add_axes(AXES_RECT)
        x0, x1, y0, y1 = self.raster.extent_m
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
        km = FuncFormatter(lambda v, _: f"{v / 1000:g}")
        ax.xaxis.set_major_formatter(km)
        ax.yaxis.set_major_formatter(km)
        return ax

    def _pixel_map(self, ax: Axes) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices of frame pixels inside the study area, and the raster point of each."""
        size, r = self.size, self.raster
        py, px = np.mgrid[0:size, 0:size]
        display = np.column_stack([px.ravel() + 0.5, size - py.ravel() - 0.5])
        x, y = ax.transData.inverted().transform(display).T
        x0, _, _, y1 = r.extent_m
        col = np.floor((x - x0) / r.resolution_m).astype(int)
        row = np.floor((y1 - y) / r.resolution_m).astype(int)
        index = np.full(r.shape, -1, np.int64)
        index[r.row, r.col] = np.arange(r.n_points)
        ok = (row >= 0) & (row < r.shape[0]) & (col >= 0) & (col < r.shape[1])
        ok[ok] = index[row[ok], col[ok]] >= 0
        return np.flatnonzero(ok), index[row[ok], col[ok]]

    def _tilt_sprite(self, text: str) -> np.ndarray:
        if text not in self._sprites:
            self._sprites[text] = _sprite(text, self._label_pt, LABEL_BOX)
        return self._sprites[text]

    def frame(self, values: np.ndarray, tilt_deg: np.ndarray, title: str) -> np.ndarray:
        """The frame for these per-point values, tilts and title."""
        frame = self._base.copy()
        flat = frame.reshape(-1, 3)
        scaled = (np.asarray(values, np.float32) - self.vmin) * (255.0 / (self.vmax - self.vmin))
        colours = self._lut[np.clip(scaled, 0, 255).astype(np.uint8)]
        flat[self._pixels] = colours[self._points]
        under = flat[self._over].astype(np.float32)
        flat[self._over] = (under * (1 - self._over_a) + self._over_rgb * self._over_a).astype(
            np.uint8
        )
        for (row, col), tilt in zip(self._tips, tilt_deg, strict=True):
            sprite = self._tilt_sprite(f"{tilt:.0f}°")
            _paste(frame, sprite, row - sprite.shape[0] // 2, col - sprite.shape[1] // 2)
        frame[:TITLE_PX] = self.title_strip.draw(title)
        return frame
